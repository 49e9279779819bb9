"""C2PA Content Credentials via c2pa-python: validation, trust, signers, actions, source types.

The whole manifest store is walked, active manifest and ingredient manifests alike: real
generators often put the generation claim in an ingredient, under an ``opened`` or
``converted`` action in the active one, and sign with untrusted or expired certificates.
An AI ``digitalSourceType`` (or a known generator as claim generator / software agent)
is therefore strong evidence whatever the validation or trust status, which is reported
next to it. Integrity failures (hash or signature mismatch) mean the file changed after
signing: a non-strong "fake" item that blocks a "real" verdict. A camera claim
(``digitalCapture``...) counts as "real" only in an intact active manifest with a trusted
certificate. Remote manifests are not
fetched (no network from the worker); the reference is reported.
"""
from __future__ import annotations

import json
from functools import lru_cache

from shared.evidence import Evidence, item
from worker.signals import c2pa_words
from worker.signals.generator_names import find_product
from worker.signals.source_type import SOURCE_TYPES, source_type_code, source_type_item

# Failure codes that only concern the certificate, not the integrity of the content.
_TRUST_CODES = ("signingCredential.untrusted", "signingCredential.expired", "signingCredential.ocsp",
                "timeStamp.untrusted", "cawg.")


@lru_cache(maxsize=1)
def _context():
    """One c2pa Context per process: no remote manifest or OCSP fetches."""
    import c2pa

    return c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})


def read_store(path: str) -> dict | None:
    """The manifest store as a dict, None without C2PA data; raises c2pa.C2paError when unreadable."""
    import c2pa

    reader = c2pa.Reader.try_create(path, context=_context())
    if reader is None:
        return None
    with reader:
        return json.loads(reader.json())


def _statuses(store: dict) -> list[dict]:
    """Every status entry (code, url) in validation_status and validation_results, deduplicated."""
    found: dict[tuple, dict] = {}

    def walk(node, bucket=None):
        if isinstance(node, dict):
            if "code" in node and isinstance(node["code"], str):
                found.setdefault((node["code"], node.get("url")), {**node, "bucket": bucket or "failure"})
            for key, value in node.items():
                walk(value, key if key in ("success", "informational", "failure") else bucket)
        elif isinstance(node, list):
            for value in node:
                walk(value, bucket)

    walk(store.get("validation_results"))
    walk(store.get("validation_status"), "failure")
    return list(found.values())


def _trust(codes: set[str]) -> str:
    if "signingCredential.trusted" in codes:
        return "trusted"
    if "signingCredential.expired" in codes:
        return "expired certificate"
    if "signingCredential.untrusted" in codes:
        return "untrusted certificate"
    return "trust unknown"


def _source_types(node, path: str = ""):
    """(json path, value) of every digitalSourceType key in an assertion's data."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if key.lower().endswith("digitalsourcetype") and isinstance(value, str):
                yield sub, value
            else:
                yield from _source_types(value, sub)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _source_types(value, f"{path}[{i}]")


def _agents(manifest: dict) -> list[str]:
    names = [manifest.get("claim_generator") or ""]
    names += [g.get("name", "") for g in manifest.get("claim_generator_info") or [] if isinstance(g, dict)]
    for assertion in manifest.get("assertions") or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in (assertion.get("data") or {}).get("actions") or []:
                agent = action.get("softwareAgent")
                names.append(agent.get("name", "") if isinstance(agent, dict) else str(agent or ""))
    return [n for n in dict.fromkeys(names) if n]


def _signer(manifest: dict) -> str:
    """Who signed: the certificate's issuer (the organisation), else its common name."""
    sig = manifest.get("signature_info") or {}
    return sig.get("issuer") or sig.get("common_name") or "an unknown signer"


def _tool(manifest: dict) -> str | None:
    """The software that wrote the claim, as it names itself."""
    return manifest.get("claim_generator") or next(
        (g.get("name") for g in manifest.get("claim_generator_info") or [] if isinstance(g, dict) and g.get("name")), None)


def _actions(manifest: dict) -> list[str]:
    return [str(a.get("action")) for s in manifest.get("assertions") or []
            if str(s.get("label", "")).startswith("c2pa.actions") for a in (s.get("data") or {}).get("actions") or []]


def c2pa_evidence(path: str) -> list[Evidence]:
    """Evidence items for the file's C2PA manifest store (empty list when it has none)."""
    import c2pa

    try:
        store = read_store(path)
    except c2pa.C2paError as exc:
        text = str(exc)
        if "remote" in text.lower():
            return [item("c2pa", "c2pa.reader", text[:300], "neutral", "Content Credentials stored remotely, not fetched")]
        if any(w in text for w in ("Jumbf", "JUMBF", "Manifest", "manifest", "Claim", "Cbor")):
            return [item("c2pa", "c2pa.reader", text[:300], "neutral", "Content Credentials present but unreadable")]
        return []  # unsupported or undecodable file: not a C2PA matter
    except (OSError, ValueError) as exc:
        return [item("c2pa", "c2pa.reader", str(exc)[:300], "neutral", "Content Credentials could not be read")]
    if not store or not store.get("manifests"):
        return []

    statuses = _statuses(store)
    failures = sorted({s["code"] for s in statuses if s["bucket"] == "failure"})
    integrity = [c for c in failures if not c.startswith(_TRUST_CODES)]
    state = store.get("validation_state") or ("Invalid" if integrity else "Valid")
    active = store.get("active_manifest")
    trust = _trust({s["code"] for s in statuses if active and active in str(s.get("url"))} or
                   {s["code"] for s in statuses})
    manifest = store["manifests"].get(active) or {}
    signer, tool, time = _signer(manifest), _tool(manifest), (manifest.get("signature_info") or {}).get("time")
    summary = {"validation_state": state, "failures": failures, "trust": trust,
               "manifests": len(store["manifests"]), "active_manifest": active, "signer": signer, "tool": tool}
    if integrity:
        out = [item("c2pa", "c2pa.validation_status", summary, "fake",
                    c2pa_words.modified_reason(signer, tool, time, integrity, _actions(manifest), trust))]
    else:
        out = [item("c2pa", "c2pa.validation_status", summary, "neutral",
                    c2pa_words.intact_reason(signer, time, trust))]

    order = sorted(store["manifests"], key=lambda label: label != active)
    for label in order:
        manifest = store["manifests"][label]
        role = "active" if label == active else "ingredient"
        codes = {s["code"] for s in statuses if label in str(s.get("url"))}
        m_trust = _trust(codes) if codes else trust
        sig = manifest.get("signature_info") or {}
        signer, generator, actions = _signer(manifest), _tool(manifest), _actions(manifest)
        context = f" ({role} manifest, signer {signer}, {m_trust}, store {state})"
        out.append(item("c2pa", f"c2pa.manifest[{label}]", {
            "role": role, "title": manifest.get("title"), "claim_generator": generator,
            "signer": {k: sig.get(k) for k in ("issuer", "common_name", "time", "alg") if sig.get(k)},
            "trust": m_trust, "actions": actions}, "neutral",
            c2pa_words.manifest_reason(role, signer, generator, sig.get("time"), actions, m_trust)))
        for assertion in manifest.get("assertions") or []:
            for jpath, value in _source_types(assertion.get("data"), str(assertion.get("label"))):
                ev = source_type_item(f"c2pa.manifest[{label}].{jpath}", value, kind="c2pa", context=context,
                                      where=f"C2PA {jpath}")
                code = source_type_code(value)
                if ev["effect"] == "real" and (integrity or role != "active" or m_trust != "trusted"):
                    ev["effect"] = "neutral"  # anyone can sign "digitalCapture" with a test certificate
                if code in SOURCE_TYPES or ev["effect"] != "neutral":
                    out.append(ev)
        for agent in _agents(manifest):
            match = find_product(agent)
            if match:
                out.append(item("c2pa", f"c2pa.manifest[{label}].claim_generator/softwareAgent", agent, "fake",
                                f"C2PA names an AI generator ({match.product.name}){context}",
                                **({"strong": True} if match.product.decisive else {})))
    return out
