"""Content Credentials in sentences: what a validation code, an action or a trust state means for a reader.

The evidence keeps the codes (for the API and for experts); these words are what the result page and the printed
report say, so a newsroom reader learns "modified after it was signed by X" instead of a status code.
"""
from __future__ import annotations

from datetime import datetime

# C2PA's standard actions (C2PA 2.1, section "Actions"), as a reader would say them; unknown ones keep their name
ACTIONS = {
    "c2pa.created": "created", "c2pa.opened": "opened an existing file", "c2pa.placed": "placed another image in it",
    "c2pa.edited": "edited", "c2pa.edited.metadata": "edited its metadata", "c2pa.color_adjustments": "adjusted colours",
    "c2pa.cropped": "cropped", "c2pa.resized": "resized", "c2pa.orientation": "rotated or flipped",
    "c2pa.filtered": "applied a filter", "c2pa.drawing": "drew on it", "c2pa.enhanced": "enhanced",
    "c2pa.converted": "converted its format", "c2pa.transcoded": "re-encoded", "c2pa.repackaged": "repackaged",
    "c2pa.published": "published", "c2pa.redacted": "redacted parts", "c2pa.removed": "removed parts",
    "c2pa.deleted": "deleted parts", "c2pa.watermarked": "added a watermark", "c2pa.unknown": "made unspecified changes",
}

# integrity failures: what changed, as far as the code tells
INTEGRITY = {
    "assertion.dataHash.mismatch": "the image data no longer matches the hash recorded when it was signed",
    "assertion.boxesHash.mismatch": "the image data no longer matches the hash recorded when it was signed",
    "assertion.bmffHash.mismatch": "the image data no longer matches the hash recorded when it was signed",
    "assertion.hashedURI.mismatch": "a statement inside the credentials was changed after signing",
    "claimSignature.mismatch": "the signature no longer matches the credentials, so they were altered",
    "assertion.missing": "a statement the credentials list is missing",
    "ingredient.hashedURI.mismatch": "the record of an earlier version was changed after signing",
}

TRUST = {
    "trusted": "the signer's certificate is on the trust list, so the signer's name is verified",
    "untrusted certificate": "the signer's certificate is not on a trust list, so the signer's name is not verified "
                             "(anyone can make such a certificate)",
    "expired certificate": "the signer's certificate had expired",
    "trust unknown": "whether the signer's certificate is trusted could not be checked",
}


def actions_text(actions: list[str]) -> str:
    """The recorded edits as a phrase, in order and without repeats ('opened an existing file, adjusted colours')."""
    words = [ACTIONS.get(a, a.removeprefix("c2pa.").replace("_", " ")) for a in dict.fromkeys(actions)]
    return ", ".join(words) if words else "none recorded"


def integrity_text(codes: list[str]) -> str:
    """What the integrity failures mean; an unknown code is named as it is."""
    return "; ".join(dict.fromkeys(INTEGRITY.get(c, f"a check failed ({c})") for c in codes))


def when(iso: str | None) -> str | None:
    """A signing time as a date a person reads (the day is what matters here)."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%Y-%m-%d")
    except ValueError:
        return None


def signed_by(signer: str, tool: str | None, time: str | None) -> str:
    """'signed by X with tool T on D' with only the parts that are known."""
    text = f"signed by {signer}"
    if tool:
        text += f" with {tool}"
    if (day := when(time)) is not None:
        text += f" on {day}"
    return text


def modified_reason(signer: str, tool: str | None, time: str | None, codes: list[str], actions: list[str],
                    trust: str) -> str:
    """The reason of a broken manifest: modified after signing, by whom it was signed, what it recorded, trust."""
    return (f"Modified after it was {signed_by(signer, None, time)}: {integrity_text(codes)}. "
            f"The credentials were made with {tool or 'an unnamed tool'} and record these edits: "
            f"{actions_text(actions)}. Trust: {TRUST.get(trust, trust)}.")


def intact_reason(signer: str, time: str | None, trust: str) -> str:
    """The reason of an intact manifest store: unchanged since signing, and how far the signer is known."""
    return (f"Content Credentials intact: the file is unchanged since it was {signed_by(signer, None, time)}. "
            f"Trust: {TRUST.get(trust, trust)}.")


def manifest_reason(role: str, signer: str, tool: str | None, time: str | None, actions: list[str],
                    trust: str) -> str:
    """One manifest: the active one describes this file, an ingredient an earlier version it was made from."""
    if role == "active":  # its signer and trust are already the store's sentence
        return f"This file's credentials were made with {tool or 'an unnamed tool'}; recorded edits: {actions_text(actions)}."
    return (f"An earlier version it was made from was {signed_by(signer, tool, time)}; recorded edits: "
            f"{actions_text(actions)}; {TRUST.get(trust, trust)}.")
