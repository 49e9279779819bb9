"""Table tests of the pure verdict fusion."""
import pytest

from shared.evidence import item
from shared import levels
from shared.verdict import DEFAULT_THRESHOLDS, Thresholds, fuse

TH = Thresholds(model_fake=0.7, model_real=0.2, model_camera=0.4)

STRONG = item("c2pa", "c2pa.actions/digitalSourceType", "trainedAlgorithmicMedia", "fake",
              "C2PA manifest declares AI generation", strong=True)
FLIP = item("robustness", "jpeg q75", {"flipped": True}, "neutral", "call flips under JPEG q75")
NOFLIP = item("robustness", "jpeg q75", {"flipped": False}, "neutral", "stable under JPEG q75")
WEAK_FAKE = item("c2pa", "validation_status", "assertion.dataHash.mismatch", "fake", "C2PA hash mismatch")
REAL_C2PA = item("c2pa", "digitalSourceType", "digitalCapture", "real", "C2PA claims a camera capture")

CAMERA = item("camera_original", "camera_original", {"score": 0.9, "result": "camera_original"}, "real",
              "Consistent with an unedited camera original: camera tables; thumbnail matches")
CAMERA_FINDING = item("camera_original", "JPEG:DQT", None, "real", "the quantisation tables are a camera's own")
CAMERA_UNSURE = item("camera_original", "camera_original", {"score": 0.4, "result": "inconclusive"}, "neutral",
                     "Some traits of a camera original")
FLIP_SIDE = item("robustness", "jpeg q75", {"flipped": True, "opposite": True}, "neutral", "call reverses under JPEG q75")
FLIP_NEAR = item("robustness", "jpeg q75", {"flipped": True, "opposite": False}, "neutral", "weaker under JPEG q75")

# (fake_probability, metadata_score, evidence, expected level, expected fragment of the second reason)
CASES = [
    # strong provenance wins whatever the model and metadata say, its reason right after the level
    (0.01, 0.95, [STRONG], "ai-provenance", "C2PA manifest declares AI"),
    (None, None, [STRONG], "ai-provenance", "C2PA manifest declares AI"),
    (0.01, 0.95, [FLIP, STRONG], "ai-provenance", "C2PA manifest declares AI"),
    # a call that re-compression reverses is not one to act on; one that only weakens stands
    (0.9, 0.1, [FLIP], "inconclusive", "call flips"),
    (0.05, 0.9, [FLIP_SIDE], "inconclusive", "call reverses"),
    (0.05, 0.9, [FLIP_NEAR], "no-sign-of-ai", "at or below"),
    (0.9, 0.1, [FLIP_NEAR], "likely-ai", "at or above"),
    (0.05, 0.9, [NOFLIP], "no-sign-of-ai", "at or below"),
    # the seed rules: both low -> fake; model real -> real, with the camera-original level for camera evidence
    (0.05, 0.9, [], "no-sign-of-ai", "at or below"),
    (0.05, 0.3, [REAL_C2PA], "camera-original", "at or below"),
    (0.05, 0.9, [CAMERA, CAMERA_FINDING], "camera-original", "at or below"),
    # with camera-original evidence the detectors need only stay at or below their own looser threshold ...
    (0.35, 0.9, [CAMERA], "camera-original", "that camera-original evidence needs"),
    # ... and not above it, nor beside signs of AI or editing
    (0.45, 0.9, [CAMERA], "inconclusive", "leans real"),
    (0.35, 0.9, [CAMERA, WEAK_FAKE], "inconclusive", "no clear lean"),
    # a single finding, or a summary short of "camera original", is not the top level
    (0.05, 0.9, [CAMERA_FINDING, CAMERA_UNSURE], "no-sign-of-ai", "at or below"),
    # camera evidence against a detector's "likely AI" is a conflict, and it never outvotes provenance
    (0.95, 0.3, [CAMERA], "inconclusive", "but the file carries camera evidence"),
    (0.05, 0.9, [CAMERA, STRONG], "ai-provenance", "C2PA manifest declares AI"),
    (0.95, 0.1, [], "likely-ai", "at or above"),
    # stripped metadata (mid) does not contradict a fake call, and a low score does not block a real one
    (0.95, 0.30, [], "likely-ai", "at or above"),
    (0.95, None, [], "likely-ai", "at or above"),
    (0.05, 0.30, [], "no-sign-of-ai", "at or below"),
    (0.05, None, [], "no-sign-of-ai", "at or below"),
    # conflicts
    (0.95, 0.9, [], "inconclusive", "but the file carries camera evidence"),
    (0.95, 0.3, [REAL_C2PA], "inconclusive", "but the file carries camera evidence"),
    (0.05, 0.9, [WEAK_FAKE], "inconclusive", "shows signs of AI or editing"),
    # model in between
    (0.35, 0.9, [], "inconclusive", "leans real"),
    (0.35, 0.9, [CAMERA_FINDING], "inconclusive", "leans real"),
    (0.6, 0.3, [], "inconclusive", "leans AI"),
    (0.6, 0.9, [], "inconclusive", "no clear lean"),
    # no model: metadata alone is never a verdict
    (None, 0.95, [], "inconclusive", "detector result not used (none, or the image is too small for it)"),
    (None, 0.05, [], "inconclusive", "detector result not used (none, or the image is too small for it)"),
    # weak fake evidence alone is not decisive
    (0.05, 0.3, [WEAK_FAKE], "inconclusive", "shows signs of AI or editing"),
]


@pytest.mark.parametrize("p,meta,evidence,level,second", CASES)
def test_fuse_table(p, meta, evidence, level, second):
    verdict = fuse(p, meta, evidence, TH)
    assert verdict.level == level, verdict
    assert verdict.label == levels.VERDICT_OF[level]
    assert verdict.reasons[0].startswith(levels.BY_NAME[level].label + ":"), verdict.reasons
    assert second in verdict.reasons[1], verdict.reasons


def test_level_reason_carries_its_measured_rates():
    rates = {"likely-ai": {"ai": 0.41, "real": 0.018}, "no-sign-of-ai": {"ai": 0.03, "real": 0.52}}
    assert "41 % score this high; of genuine photos from sources they never saw, 1.8 %" in \
        fuse(0.95, 0.1, [], TH, rates).reasons[0]
    assert "52 %" in fuse(0.05, 0.3, [], TH, rates).reasons[0]
    assert levels.describe("likely-ai", rates)["rates"]["ai"] == 0.41
    assert levels.describe("ai-provenance", rates)["rates"] is None  # provenance is not a detector band


@pytest.mark.parametrize("p", [0.0003, 0.003, 0.0, 0.9999, 1.0])
def test_no_sentence_contradicts_the_number_beside_it(p):
    """'unsure (p=0.00)' said a rounded zero was between the thresholds."""
    th = Thresholds(model_fake=0.9995, model_real=0.0001)
    text = " ".join(fuse(p, 0.5, [], th).reasons)
    assert "0.0 %" not in text and "100 %" not in text and "p=0.00" not in text, text


def test_levels_are_ordered_and_map_to_the_three_verdicts():
    assert levels.NAMES == ("ai-provenance", "likely-ai", "inconclusive", "no-sign-of-ai", "camera-original")
    assert [levels.VERDICT_OF[n] for n in levels.NAMES] == ["fake", "fake", "uncertain", "real", "real"]


def test_weak_evidence_reason_is_listed():
    assert "C2PA hash mismatch" in fuse(0.05, 0.9, [WEAK_FAKE]).reasons


def test_absence_of_provenance_is_said():
    assert any("absence of provenance" in r for r in fuse(0.05, 0.3, []).reasons)


def test_sidecar_thresholds_override_model_bands():
    strict = Thresholds(model_fake=0.98, model_real=0.02, meta_real=DEFAULT_THRESHOLDS.meta_real,
                        meta_fake=DEFAULT_THRESHOLDS.meta_fake)
    assert fuse(0.9, 0.1, []).label == "fake"
    assert fuse(0.9, 0.1, [], strict).label == "uncertain"
    assert fuse(0.9, 0.1, [], strict).reasons[1].startswith("leans AI")


def test_fuse_is_pure():
    evidence = [STRONG, FLIP]
    before = [dict(e) for e in evidence]
    assert fuse(0.5, 0.5, evidence) == fuse(0.5, 0.5, evidence)
    assert evidence == before
