"""Every sample family, uploaded through the API to a real Celery worker, gives the right evidence and verdict.

Files come from ../shared/samples (C2PA, generator metadata, camera EXIF, bad images) plus three made
here: a file signed as ``trainedAlgorithmicMedia`` with the c2pa-python test certificates, a camera
photo with an IPTC DigitalSourceType written by exiftool, and a truncated camera photo. One worker
for the module; everything is uploaded first and then polled, so the module costs one pass.
"""
from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import shared_path, write_tags
from tests.live import WebServer, Worker, app_for, isolated, wait_maps
from tests.signals.test_provenance import AI_TYPE, GENERATOR_FILES, _sign

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CAMERA = "camera-exif/jpg/gps/DSCN0010.jpg"  # Nikon original: make, maker notes, exposure, GPS
EDITED = "camera-exif/jpg/Canon_40D.jpg"  # Canon file re-saved by GIMP 2.4.5
C2PA_VALID = "c2pa/public-testfiles/adobe-20220124-CAICAI.jpg"
C2PA_BROKEN = "c2pa/public-testfiles/adobe-20220124-E-sig-CA.jpg"  # signature deliberately broken
BAD = "bad-images/sd-parsers"


def _files(tmp: Path) -> dict[str, Path]:
    """Every file to upload, by case name (the made ones written into tmp)."""
    samples = shared_path("samples")
    files = {
        "c2pa_valid": samples / C2PA_VALID, "c2pa_broken": samples / C2PA_BROKEN,
        "camera": samples / CAMERA, "edited": samples / EDITED,
        **{f"gen:{rel}": samples / "generator-metadata" / rel for rel in GENERATOR_FILES},
        **{f"bad:{p.name}": p for p in sorted((samples / BAD).iterdir())},
    }
    fixtures = samples / "c2pa" / "c2pa-python"
    _sign(fixtures, fixtures / "A.jpg", tmp / "signed_ai.jpg",
          [{"action": "c2pa.created", "digitalSourceType": AI_TYPE, "softwareAgent": {"name": "TestDiffusion"}}])
    files["c2pa_signed_ai"] = tmp / "signed_ai.jpg"
    if not shutil.which("exiftool"):
        pytest.fail("exiftool is missing: scripts/setup.sh installs it")
    shutil.copyfile(samples / CAMERA, tmp / "iptc_ai.jpg")
    files["iptc_ai"] = write_tags(tmp / "iptc_ai.jpg", f"-XMP-iptcExt:DigitalSourceType={AI_TYPE}")
    data = (samples / CAMERA).read_bytes()
    (tmp / "truncated.jpg").write_bytes(data[: len(data) // 3])
    files["truncated"] = tmp / "truncated.jpg"
    (tmp / "notes.png").write_text("not an image at all")
    files["text_as_png"] = tmp / "notes.png"
    return files


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One worker process and an app sharing a SQLite database, upload folder and queue."""
    tmp = tmp_path_factory.mktemp("evidence")
    files = _files(tmp)  # skips before starting anything when ../shared is absent
    overrides = isolated(tmp, "evidence")
    with app_for(overrides) as app:
        worker = Worker(overrides)
        yield app, worker, overrides, files
        worker.stop()


@pytest.fixture(scope="module")
def results(stack) -> dict[str, dict]:
    """Upload every file (while the worker starts), then poll all to the end: case -> final body or refusal."""
    app, worker, _, files = stack
    client = app.test_client()
    out, pending = {}, {}
    for case, path in files.items():
        resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(path.read_bytes()), path.name)},
                           content_type="multipart/form-data")
        body = resp.get_json()
        if resp.status_code == 202:
            pending[case] = body["status_url"]
        else:
            out[case] = {"refused": resp.status_code, **body}
    worker.wait_ready()
    deadline = time.monotonic() + 60 + 10 * len(pending)
    while pending and time.monotonic() < deadline:
        for case, url in list(pending.items()):
            body = client.get(url).get_json()
            if body["status"] in ("done", "failed"):
                out[case] = body
                del pending[case]
        time.sleep(0.5)
    assert not pending, f"still running: {sorted(pending)}\n" + "".join(worker.log)[-3000:]
    return out


def done(results: dict, case: str) -> dict:
    body = results[case]
    assert body.get("status") == "done", (case, body.get("error") or body)
    return body


def strong(body: dict) -> list[dict]:
    return [e for e in body["evidence"] if e.get("strong")]


def assert_strong_first(body: dict, kind: str) -> dict:
    """The level is AI by provenance (verdict fake); after the level's meaning, the first reason is the
    first strong item of this kind."""
    items = strong(body)
    assert items and items[0]["kind"] == kind, [(e["kind"], e["source"]) for e in body["evidence"]]
    assert body["verdict"] == "fake" and body["level"] == "ai-provenance"
    assert body["reasons"][0].startswith("AI by provenance:")
    assert body["reasons"][1] == items[0]["reason"]
    assert items[0]["effect"] == "fake"
    return items[0]


def test_valid_c2pa_is_reported_but_decides_nothing(results):
    body = done(results, "c2pa_valid")
    c2pa = [e for e in body["evidence"] if e["kind"] == "c2pa"]
    status = c2pa[0]
    assert (status["source"], status["effect"]) == ("c2pa.validation_status", "neutral")
    assert status["value"]["validation_state"] == "Valid"
    assert status["value"]["trust"] == "untrusted certificate"
    roles = [e["value"]["role"] for e in c2pa if e["source"].startswith("c2pa.manifest[") and "role" in e["value"]]
    assert roles[0] == "active" and "ingredient" in roles
    assert not strong(body)
    assert not any("Content Credentials" in r for r in body["reasons"][:1])


def test_broken_c2pa_is_weak_fake_and_blocks_real(results):
    body = done(results, "c2pa_broken")
    status = next(e for e in body["evidence"] if e["source"] == "c2pa.validation_status")
    assert status["effect"] == "fake" and not status.get("strong")
    assert status["value"]["validation_state"] == "Invalid"
    assert body["verdict"] != "real" and status["reason"] in body["reasons"]
    # said in words: the signature no longer matches, by whom it was signed, the tool, the edits, the trust state
    assert status["reason"].startswith("Modified after it was signed by C2PA Test Signing Cert: the signature")
    assert "make_test_xxxxxx" in status["reason"] and "adjusted colours" in status["reason"]


def test_signed_ai_claim_makes_it_fake(results):
    body = done(results, "c2pa_signed_ai")
    first = assert_strong_first(body, "c2pa")
    assert first["value"] == AI_TYPE and "untrusted certificate" in first["reason"]
    assert "trainedAlgorithmicMedia" in first["reason"]


@pytest.mark.parametrize("rel", list(GENERATOR_FILES))
def test_generator_metadata_makes_it_fake(results, rel):
    generator, source, seed = GENERATOR_FILES[rel]
    body = done(results, f"gen:{rel}")
    first = assert_strong_first(body, "generator_metadata")
    ours = [e for e in strong(body) if isinstance(e["value"], dict) and e["value"].get("generator") == generator]
    assert ours and ours[0]["source"] == source and str(ours[0]["value"]["seed"]) == seed, strong(body)


def test_camera_file_scores_above_an_edited_one(results):
    camera, edited = done(results, "camera"), done(results, "edited")
    assert camera["metadata_score"] >= camera["result"]["thresholds"]["meta_real"]
    assert camera["metadata_score"] > edited["metadata_score"]
    meta = {e["source"]: e for e in camera["evidence"] if e["kind"] == "metadata_score"}
    assert meta["EXIF:Make/Model"]["effect"] == "real" and meta["EXIF:Make/Model"]["weight"] > 0
    assert "GPSLatitude" in meta and "MakerNotes" in meta
    editor = [e for e in edited["evidence"] if e["kind"] == "metadata_score" and e["effect"] == "fake"]
    assert editor and "GIMP" in editor[0]["value"] and editor[0]["weight"] < 0
    for body in (camera, edited):
        assert not strong(body) and not [e for e in body["evidence"]
                                         if e["kind"] in ("c2pa", "generator_metadata") and e["effect"] == "fake"]


def test_iptc_source_type_beats_camera_metadata(results):
    body = done(results, "iptc_ai")
    first = assert_strong_first(body, "iptc_digital_source_type")
    assert first["source"] == "XMP:DigitalSourceType" and first["value"] == AI_TYPE
    assert body["metadata_score"] >= body["result"]["thresholds"]["meta_real"]  # still camera-like: overruled


def test_empty_and_non_image_files_are_refused_at_upload(results):
    assert results["bad:empty_file.png"]["refused"] == 400
    assert "empty" in results["bad:empty_file.png"]["error"]
    assert results["text_as_png"]["refused"] == 415


def test_truncated_photo_fails_with_its_reason(results):
    body = results["truncated"]
    assert body["status"] == "failed" and ("truncated" in body["error"] or "corrupt" in body["error"])


def test_late_text_chunk_is_still_read(results):
    body = done(results, "bad:text_after_idat.png")  # A1111 parameters after IDAT: still found
    assert assert_strong_first(body, "generator_metadata")["source"] == "PNG:Parameters"


@pytest.mark.parametrize("name", ["empty_image.jpg", "empty_image.png"])
def test_one_pixel_images_are_analysed_without_provenance(results, name):
    body = done(results, f"bad:{name}")  # valid 1x1 images: nothing to refuse, nothing claimed
    assert not strong(body)
    assert {"model", "metadata_score", "watermark"} <= {e["kind"] for e in body["evidence"]}
    assert next(e for e in body["evidence"] if e["kind"] == "watermark")["effect"] == "neutral"


def test_one_pixel_image_is_not_called_fake_by_the_model(results):
    body = done(results, "bad:empty_image.png")
    assert body["verdict"] == "uncertain"
    model = [e for e in body["evidence"] if e["kind"] == "model"]
    combined = [e for e in model if "detector" not in e]  # the others are each detector's own score
    assert len(combined) == 1 and len(model) == 1 + len(body["detectors"])
    assert combined[0]["effect"] == "neutral" and "too small for the detector" in combined[0]["reason"]
    assert all(e["effect"] == "neutral" for e in model)  # no detector votes on a 1-pixel image


def test_every_done_analysis_has_the_three_maps(results, stack):
    app = stack[0]
    client = app.test_client()
    body = wait_maps(lambda url: client.get(url).get_json(), done(results, "c2pa_valid")["status_url"])
    assert body["maps_state"] == "ready", body.get("maps_error")
    assert [m["name"] for m in body["result"]["maps"]] == ["ela.png", "noise.png", "attention.png"]
    attention = body["result"]["maps"][-1]
    assert "not that anything there was generated" in attention["label"]
    resp = client.get(attention["url"])
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
    assert any(e["kind"] == "forensic_map" and e["source"] == "attention.png" for e in body["evidence"])


def test_result_page_shows_the_generator_item_in_a_real_browser(results, stack, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: scripts/setup.sh --test installs it")
    from playwright.sync_api import sync_playwright

    from tests.test_browser import ARGS

    body = done(results, "gen:AUTOMATIC1111/automatic1111_cropped.png")
    web = WebServer(stack[2])
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page()
            page.goto(web.url + body["page_url"])
            page.wait_for_selector("#verdict-box:not([hidden])", timeout=30_000)
            assert page.inner_text("#verdict") == "fake"
            assert page.locator("#reasons li").first.inner_text().startswith("AUTOMATIC1111 generation parameters")
            group = page.locator(".evidence-group", has=page.locator("h4", has_text="provenance"))
            item = group.locator("li.effect-fake", has_text="AUTOMATIC1111 generation parameters in PNG:Parameters")
            assert item.count() == 1 and "PNG:Parameters" in item.locator("code").inner_text()
            # the maps follow the verdict on the same page, without a reload
            page.locator("#maps img").nth(2).wait_for(timeout=60_000)
            assert page.locator("#maps img").count() == 3
            page.screenshot(path=str(tmp_path / "generator-result.png"), full_page=True)
            browser.close()
    finally:
        web.stop()
