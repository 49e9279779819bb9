"""Metadata score on real camera, edited and bare files."""
from PIL import Image

from worker.signals.metadata import BASE, metadata_score, thumbnail_size

CAMERA = ["camera-exif/jpg/gps/DSCN0010.jpg", "camera-exif/jpg/hdr/iphone_hdr_NO.jpg",
          "exiftool-fixtures/Canon.jpg", "exiftool-fixtures/NikonD70.jpg",
          "c2pa/public-testfiles/nikon-20221019-building.jpeg"]
EDITED = ["camera-exif/jpg/Canon_40D_photoshop_import.jpg", "camera-exif/jpg/PaintTool_sample.jpg",
          "camera-exif/jpg/orientation/landscape_1.jpg"]


def test_empty_metadata_is_neutral():
    score, ev = metadata_score({})
    assert score == BASE
    assert [e["effect"] for e in ev] == ["neutral"]


def test_camera_files_score_high(samples, exiftool):
    paths = [samples / rel for rel in CAMERA]
    for rel, path, meta in zip(CAMERA, paths, exiftool.many(paths)):
        score, ev = metadata_score(meta, thumbnail_size(str(path)))
        assert score >= 0.7, (rel, score, ev)
        assert all(e["kind"] == "metadata_score" and "weight" in e for e in ev)


def test_edited_files_score_lower(samples, exiftool):
    camera = min(metadata_score(m)[0] for m in exiftool.many([samples / rel for rel in CAMERA]))
    for rel, meta in zip(EDITED, exiftool.many([samples / rel for rel in EDITED])):
        score, ev = metadata_score(meta)
        assert score < camera and score <= 0.25, (rel, score)
        assert any(e["effect"] == "fake" and e["weight"] < 0 for e in ev)


def test_same_camera_fields_score_lower_after_an_editor():
    camera = {"EXIF:Make": "Canon", "EXIF:Model": "EOS 40D", "EXIF:ExposureTime": "1/160",
              "EXIF:DateTimeOriginal": "2008:05:30 15:56:01", "EXIF:ModifyDate": "2008:05:30 15:56:01"}
    edited = {**camera, "EXIF:Software": "Adobe Photoshop CS3 Windows", "EXIF:ModifyDate": "2008:07:31 10:05:49"}
    (a, _), (b, ev) = metadata_score(camera), metadata_score(edited)
    assert b < a
    assert {e["source"] for e in ev if e["weight"] < 0} == {"EXIF:Software", "EXIF:ModifyDate"}


def test_camera_firmware_is_not_an_editor():
    _, ev = metadata_score({"EXIF:Make": "NIKON", "EXIF:Model": "E775", "EXIF:Software": "E775v1.3u"})
    assert not [e for e in ev if e["weight"] < 0]


def test_impossible_dates_are_penalised():
    score, ev = metadata_score({"EXIF:DateTimeOriginal": "2020:01:02 10:00:00",
                                "EXIF:ModifyDate": "2019:01:01 10:00:00"})
    assert any(e["source"] == "EXIF:ModifyDate" and e["weight"] < 0 for e in ev)
    assert score < BASE + 0.05


def test_thumbnail_aspect_mismatch(tmp_path):
    meta = {"File:ImageWidth": 400, "File:ImageHeight": 100, "EXIF:ThumbnailLength": 900}
    _, ev = metadata_score(meta, (100, 100))
    assert any(e["weight"] < 0 and "thumbnail" in e["reason"] for e in ev)
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (32, 32)).save(path)
    assert thumbnail_size(str(path)) is None


def test_bad_and_odd_files_do_not_crash(samples, exiftool):
    paths = [p for p in sorted((samples / "bad-images").rglob("*")) if p.is_file()]
    paths += sorted((samples / "camera-exif/jpg/invalid").glob("*")) + [samples / "camera-exif/jpg/corrupted.jpg"]
    for path, meta in zip(paths, exiftool.many(paths)):
        score, ev = metadata_score(meta, thumbnail_size(str(path)))
        assert 0.0 <= score <= 1.0 and ev
    odd = {"EXIF:Make": ["a", "b"], "EXIF:Model": 5, "EXIF:DateTimeOriginal": "0000:00:00 00:00:00",
           "EXIF:ModifyDate": "garbage", "File:ImageWidth": "n/a", "EXIF:ExifImageWidth": None}
    assert 0.0 <= metadata_score(odd)[0] <= 1.0


def test_crop_after_capture_is_seen(samples, exiftool):
    _, ev = metadata_score(exiftool(samples / "camera-exif/heic/IMG_5195.HEIC"))
    assert any(e["source"] == "EXIF:ExifImageWidth/Height" and e["weight"] < 0 for e in ev)
