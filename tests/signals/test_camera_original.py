"""Camera-original evidence on real camera files, and on an AI image given a camera photo's EXIF."""
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from worker.signals import jpeg_headers
from worker.signals.camera_original import camera_original_evidence

ORIGINALS = ["exif-org/canon-ixus.jpg", "exif-org/nikon-e950.jpg", "tests/22-canon_tags.jpg", "hdr/iphone_hdr_NO.jpg"]


def summary(path, meta):
    first = camera_original_evidence(str(path), meta)[0]
    assert first["kind"] == "camera_original" and first["source"] == "camera_original"
    return first["value"] | {"effect": first["effect"], "reason": first["reason"]}


def checks(value):
    return {f["check"] for f in value["findings"]}


@pytest.fixture
def ai_image(tmp_path):
    """An image no camera took (smooth noise and shapes, as a generator's output), saved by Pillow."""
    rng = np.random.default_rng(7)
    field = Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).resize((640, 480), Image.BICUBIC)
    arr = np.asarray(field).copy()
    arr[100:300, 200:420] = (230, 40, 40)
    path = tmp_path / "ai.jpg"
    Image.fromarray(arr).save(path, quality=90)
    return path


@pytest.mark.parametrize("rel", ORIGINALS)
def test_camera_originals_reach_camera_original(samples, exiftool, rel):
    path = samples / "camera-exif/jpg" / rel
    value = summary(path, exiftool(path))
    assert value["result"] == "camera_original" and value["effect"] == "real", value
    assert value["score"] >= 0.7 and {"camera_tables", "capture_times"} <= checks(value)
    assert "evidence, not proof" in value["reason"]


@pytest.mark.parametrize("rel", ORIGINALS[:2])
def test_ai_image_given_a_camera_photos_exif_is_not_a_camera_original(samples, exiftool, ai_image, tmp_path, rel):
    if not shutil.which("exiftool"):
        pytest.skip("exiftool is not installed")
    photo = samples / "camera-exif/jpg" / rel
    transplanted = tmp_path / "exiftool.jpg"
    shutil.copy(ai_image, transplanted)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-tagsFromFile", str(photo), str(transplanted)],
                   check=True)
    resaved = tmp_path / "pillow.jpg"  # re-saved by Pillow carrying the photo's raw EXIF block (thumbnail and all)
    with Image.open(photo) as p, Image.open(ai_image) as ai:
        ai.save(resaved, exif=p.info["exif"], quality=95)
        camera_tables = tmp_path / "tables.jpg"  # and with the camera's own quantisation tables copied too
        ai.save(camera_tables, exif=p.info["exif"], qtables=[list(t) for t in p.quantization.values()])
    for path in (transplanted, resaved, camera_tables):
        meta = exiftool(path)
        assert meta.get("EXIF:Make") == exiftool(photo)["EXIF:Make"]  # the camera's EXIF did arrive
        value = summary(path, meta)
        assert value["result"] != "camera_original" and value["effect"] == "neutral", (path.name, value)
        assert "thumbnail_mismatch" in checks(value), (path.name, value)
    assert "standard_tables" in checks(summary(transplanted, exiftool(transplanted)))
    assert "standard_tables" in checks(summary(resaved, exiftool(resaved)))


def test_ijg_tables_are_recognised_at_any_quality(tmp_path):
    assert jpeg_headers.ijg_table(jpeg_headers.ANNEX_K_LUMA, 50) == jpeg_headers.ANNEX_K_LUMA
    for quality in (10, 50, 75, 88, 95, 100):
        path = tmp_path / f"q{quality}.jpg"
        Image.new("RGB", (32, 32), "gray").save(path, quality=quality)
        assert jpeg_headers.ijg_quality(jpeg_headers.quantization(str(path))) == quality
    assert jpeg_headers.quantization(str(tmp_path)) is None


def test_no_metadata_is_no_evidence_either_way(tmp_path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (32, 32), "gray").save(path)
    value = summary(path, {})
    assert value["result"] == "no_camera_metadata" and value["effect"] == "neutral" and value["score"] == 0


def test_editing_software_defeats_it(samples, exiftool):
    path = samples / "camera-exif/jpg/Canon_40D_photoshop_import.jpg"
    value = summary(path, exiftool(path))
    assert value["result"] == "edited_or_resaved" and "editing_software" in checks(value)
    assert "not a sign of AI" in value["reason"]


def test_bad_images_do_not_crash(samples, exiftool):
    for path in sorted((samples / "bad-images").rglob("*")) + [samples / "camera-exif/jpg/corrupted.jpg"]:
        if path.is_file():
            assert camera_original_evidence(str(path), exiftool(path))[0]["kind"] == "camera_original"
    assert camera_original_evidence("/nonexistent.jpg", {"EXIF:ThumbnailOffset": 10, "EXIF:ThumbnailLength": 9})


def test_the_worker_reports_it_through_its_exiftool_process(samples, res):
    from worker.pipeline import analyze_file

    outcome = analyze_file(samples / "camera-exif/jpg/exif-org/nikon-e950.jpg", res)
    first = next(e for e in outcome.evidence if e["kind"] == "camera_original")
    assert first["source"] == "camera_original" and first["value"]["result"] == "camera_original"
    assert outcome.verdict in ("real", "uncertain", "fake")  # the verdict does not read it yet


def test_a_trusted_c2pa_capture_claim_is_the_strongest_form(tmp_path):
    path = tmp_path / "signed.jpg"
    Image.new("RGB", (32, 32), "gray").save(path)
    claim = {"kind": "c2pa", "source": "c2pa.manifest[x].c2pa.actions", "effect": "real",
             "value": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}
    first = camera_original_evidence(str(path), {}, [claim])[0]
    assert first["value"]["result"] == "camera_original" and first["value"]["score"] == 1.0
    untrusted = camera_original_evidence(str(path), {}, [claim | {"effect": "neutral"}])[0]["value"]
    assert untrusted["score"] < 0.7 and "c2pa_capture_unverified" in checks(untrusted)
    created = {"kind": "c2pa", "source": "c2pa.manifest[x]", "effect": "neutral",
               "value": {"role": "active", "actions": ["c2pa.created"], "trust": "untrusted certificate"}}
    assert "c2pa_capture_unverified" in checks(camera_original_evidence(str(path), {}, [created])[0]["value"])

