"""Table tests of the pure verdict fusion."""
import pytest

from shared.evidence import item
from shared.verdict import DEFAULT_THRESHOLDS, Thresholds, fuse

STRONG = item("c2pa", "c2pa.actions/digitalSourceType", "trainedAlgorithmicMedia", "fake",
              "C2PA manifest declares AI generation", strong=True)
FLIP = item("robustness", "jpeg q75", {"flipped": True}, "neutral", "call flips under JPEG q75")
NOFLIP = item("robustness", "jpeg q75", {"flipped": False}, "neutral", "stable under JPEG q75")
WEAK_FAKE = item("c2pa", "validation_status", "assertion.dataHash.mismatch", "fake", "C2PA hash mismatch")
REAL_C2PA = item("c2pa", "digitalSourceType", "digitalCapture", "real", "C2PA claims a camera capture")

# (fake_probability, metadata_score, evidence, expected label, expected first reason fragment)
CASES = [
    # strong provenance wins whatever the model and metadata say, reason first
    (0.01, 0.95, [STRONG], "fake", "C2PA manifest declares AI"),
    (None, None, [STRONG], "fake", "C2PA manifest declares AI"),
    (0.01, 0.95, [FLIP, STRONG], "fake", "C2PA manifest declares AI"),
    # robustness flip -> uncertain
    (0.9, 0.1, [FLIP], "uncertain", "inconclusive under re-compression"),
    (0.05, 0.9, [FLIP], "uncertain", "inconclusive under re-compression"),
    (0.05, 0.9, [NOFLIP], "real", "detector says real"),
    # seed rules: both high -> real, both low -> fake
    (0.05, 0.9, [], "real", "detector says real"),
    (0.95, 0.1, [], "fake", "detector says AI"),
    # stripped metadata (mid) does not contradict a fake call, and never proves a real one
    (0.95, 0.30, [], "fake", "detector says AI"),
    (0.95, None, [], "fake", "detector says AI"),
    (0.05, 0.30, [], "uncertain", "leans real"),
    (0.05, None, [], "uncertain", "leans real"),
    (0.05, 0.1, [], "uncertain", "leans real"),
    # conflicts
    (0.95, 0.9, [], "uncertain", "detector says AI"),
    (0.95, 0.3, [REAL_C2PA], "uncertain", "detector says AI"),
    (0.05, 0.9, [WEAK_FAKE], "uncertain", "leans real"),
    (0.05, 0.3, [REAL_C2PA], "real", "detector says real"),
    # model in between
    (0.35, 0.9, [], "uncertain", "leans real"),
    (0.35, 0.3, [], "uncertain", "no clear lean"),
    # no model: metadata alone is never a verdict
    (None, 0.95, [], "uncertain", "detector result not used (none, or the image is too small for it)"),
    (None, 0.05, [], "uncertain", "detector result not used (none, or the image is too small for it)"),
    # weak fake evidence alone is not decisive
    (0.05, 0.3, [WEAK_FAKE], "uncertain", "leans real"),
]


@pytest.mark.parametrize("p,meta,evidence,label,first", CASES)
def test_fuse_table(p, meta, evidence, label, first):
    verdict = fuse(p, meta, evidence)
    assert verdict.label == label, verdict
    assert first in verdict.reasons[0], verdict.reasons


def test_weak_evidence_reason_is_listed():
    assert "C2PA hash mismatch" in fuse(0.05, 0.9, [WEAK_FAKE]).reasons


def test_absence_of_provenance_is_said():
    assert any("absence of provenance" in r for r in fuse(0.05, 0.3, []).reasons)


def test_sidecar_thresholds_override_model_bands():
    strict = Thresholds(model_fake=0.98, model_real=0.02, meta_real=DEFAULT_THRESHOLDS.meta_real,
                        meta_fake=DEFAULT_THRESHOLDS.meta_fake)
    assert fuse(0.9, 0.1, []).label == "fake"
    assert fuse(0.9, 0.1, [], strict).label == "uncertain"
    assert fuse(0.9, 0.1, [], strict).reasons[0].startswith("leans fake")


def test_fuse_is_pure():
    evidence = [STRONG, FLIP]
    before = [dict(e) for e in evidence]
    assert fuse(0.5, 0.5, evidence) == fuse(0.5, 0.5, evidence)
    assert evidence == before
