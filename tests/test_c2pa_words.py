"""Content Credentials in sentences: a broken manifest says "modified after it was signed by", and who, with
what, which edits and how far the signer is trusted; structured values print as lines, never raw JSON."""
from __future__ import annotations

import pytest

from tests.conftest import shared_path
from web.reports.pages import VALUE_MAX, facts, shown
from worker.signals import c2pa_words
from worker.signals.content_credentials import c2pa_evidence

BROKEN_HASH = ("samples", "c2pa", "public-testfiles", "adobe-20220124-E-dat-CA.jpg")  # content edited after signing
INTACT = ("samples", "c2pa", "public-testfiles", "adobe-20220124-CAI.jpg")


def test_a_file_changed_after_signing_is_said_in_sentences():
    status, manifest = c2pa_evidence(str(shared_path(*BROKEN_HASH)))[:2]
    reason = status["reason"]
    assert status["effect"] == "fake" and reason.startswith("Modified after it was signed by C2PA Test Signing Cert")
    assert "no longer matches the hash" in reason  # what changed, not the code assertion.dataHash.mismatch
    assert "make_test_images/0.16.1" in reason  # the tool
    assert "opened an existing file, adjusted colours" in reason  # the recorded edits, in words
    assert "not on a trust list" in reason  # the trust state
    assert "dataHash" not in reason and "{" not in reason
    assert status["value"]["failures"]  # the codes stay in the value, for the API and experts
    assert manifest["reason"].startswith("This file's credentials were made with make_test_images")


def test_intact_credentials_say_unchanged_since_signing():
    status = c2pa_evidence(str(shared_path(*INTACT)))[0]
    assert status["effect"] == "neutral"
    assert status["reason"].startswith("Content Credentials intact: the file is unchanged since it was signed by "
                                       "C2PA Test Signing Cert on 2023-01-24")


@pytest.mark.parametrize(("actions", "words"), [
    (["c2pa.opened", "c2pa.cropped", "c2pa.cropped"], "opened an existing file, cropped"),
    (["c2pa.new_thing"], "new thing"),  # an action this version does not know keeps its name
    ([], "none recorded"),
])
def test_actions_in_words(actions, words):
    assert c2pa_words.actions_text(actions) == words


def test_an_unknown_integrity_code_is_named():
    assert c2pa_words.integrity_text(["made.up"]) == "a check failed (made.up)"


def test_structured_values_print_as_lines_not_json():
    value = {"role": "active", "signer": {"issuer": "Acme", "time": "2024-01-01"}, "actions": ["a", "b"],
             "failures": [], "manifests": [{"x": 1}]}
    assert facts(value) == [("role", "active"), ("signer issuer", "Acme"), ("signer time", "2024-01-01"),
                            ("actions", "a, b"), ("manifests 1 x", "1")]
    text = shown(value)
    assert "{" not in text and text.startswith("role: active; signer issuer: Acme")


def test_long_values_are_cut_at_a_word():
    text = shown("word " * 200)
    assert len(text) <= VALUE_MAX + 1 and text.endswith("word…")
