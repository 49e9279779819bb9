"""Provenance extractors on real C2PA, generator and camera files, and on files signed or tagged here."""
import shutil
import subprocess

import pytest
from PIL import Image

from worker.signals.content_credentials import c2pa_evidence
from worker.signals.generator import generator_evidence, parse_a1111
from worker.signals.provenance import provenance_evidence
from worker.signals.source_type import source_type_code, source_type_evidence

AI_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATOR_FILES = {
    "AUTOMATIC1111/automatic1111_cropped.png": ("AUTOMATIC1111", "PNG:Parameters", "235284042"),
    "AUTOMATIC1111/automatic1111_cropped.jpg": ("AUTOMATIC1111", "EXIF:UserComment", "235284042"),
    "AUTOMATIC1111/automatic1111_stealth.png": ("AUTOMATIC1111", "PNG:alpha-LSB stealth_pnginfo", "2015833630"),
    "ComfyUI/img2img_cropped.png": ("ComfyUI", "PNG:Prompt", "280823642470253"),
    "Fooocus/fooocus1_cropped.png": ("Fooocus", "PNG:Parameters", "6952411511246973023"),
    "InvokeAI/invokeai_imeta1.png": ("InvokeAI", "PNG:Invokeai_metadata", "3293022630"),
    "InvokeAI/invokeai_sdmeta1.png": ("InvokeAI", "PNG:Sd-metadata", "2980747362"),
    "InvokeAI/invokeai_dream1.png": ("InvokeAI", "PNG:Dream", "2980747362"),
    "NovelAI/novelai1_cropped.png": ("NovelAI", "PNG:Comment", "2253955223"),
}


def strong(items):
    return [e for e in items if e.get("strong")]


@pytest.mark.parametrize("rel,expected", GENERATOR_FILES.items())
def test_generator_chunks(samples, exiftool, rel, expected):
    generator, source, seed = expected
    path = samples / "generator-metadata" / rel
    items = [e for e in generator_evidence(str(path), exiftool(path)) if e["value"]["generator"] == generator]
    assert items, rel
    ev = items[0]
    assert (ev["kind"], ev["source"], ev["effect"], ev["strong"]) == ("generator_metadata", source, "fake", True)
    assert str(ev["value"]["seed"]) == seed and ev["value"].get("prompt")


def test_generator_chunks_without_exiftool(samples):
    path = samples / "generator-metadata/AUTOMATIC1111/automatic1111_cropped.png"
    assert strong(generator_evidence(str(path), {}))


def test_a1111_parser():
    text = "a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler, Seed: 7, Model: sdxl, Version: f0.0.17"
    assert parse_a1111(text) == {"generator": "Forge", "model": "sdxl", "seed": "7", "prompt": "a cat",
                                 "version": "f0.0.17"}
    assert parse_a1111("Steps to reproduce: open the file") is None


def test_valid_manifest_is_reported(samples):
    items = c2pa_evidence(str(samples / "c2pa/public-testfiles/adobe-20220124-CAICAI.jpg"))
    status = items[0]
    assert status["source"] == "c2pa.validation_status" and status["effect"] == "neutral"
    assert status["value"]["validation_state"] == "Valid" and status["value"]["trust"] == "untrusted certificate"
    roles = [e["value"]["role"] for e in items if e["source"].startswith("c2pa.manifest[") and "role" in e["value"]]
    assert roles[0] == "active" and "ingredient" in roles  # the whole store is walked
    assert not strong(items)


@pytest.mark.parametrize("name", ["adobe-20220124-E-sig-CA.jpg", "adobe-20220124-E-dat-CA.jpg",
                                  "adobe-20220124-E-uri-CA.jpg", "adobe-20220124-XCA.jpg"])
def test_broken_manifest_is_weak_fake(samples, name):
    status = c2pa_evidence(str(samples / "c2pa/public-testfiles" / name))[0]
    assert status["effect"] == "fake" and not status.get("strong")
    assert status["value"]["validation_state"] == "Invalid"


def test_expired_camera_certificate_is_reported(samples):
    status = c2pa_evidence(str(samples / "c2pa/public-testfiles/nikon-20221019-building.jpeg"))[0]
    assert status["value"]["trust"] == "expired certificate" and status["effect"] == "neutral"


def test_no_manifest_and_remote_manifest(samples):
    assert c2pa_evidence(str(samples / "c2pa/public-testfiles/adobe-20220124-A.jpg")) == []
    remote = c2pa_evidence(str(samples / "c2pa/c2pa-python/cloud.jpg"))
    assert [e["effect"] for e in remote] == ["neutral"] and "remote" in remote[0]["reason"]


def _signer(fixtures):
    import c2pa

    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, (fixtures / "es256_certs.pem").read_bytes(),
                               (fixtures / "es256_private.key").read_bytes(), None)
    return c2pa.Signer.from_info(info)


def _sign(fixtures, source, dest, actions, ingredient=None):
    import c2pa

    manifest = {"claim_generator_info": [{"name": "evidence-test", "version": "1"}], "title": dest.name,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}]}
    with c2pa.Builder(manifest) as builder:
        if ingredient:
            with open(ingredient, "rb") as fh:
                builder.add_ingredient({"title": ingredient.name, "relationship": "parentOf", "label": "parent"},
                                       "image/jpeg", fh)
        builder.sign_file(str(source), str(dest), _signer(fixtures))


def test_signed_ai_claim_is_strong_with_untrusted_cert(samples, tmp_path):
    fixtures = samples / "c2pa/c2pa-python"
    signed = tmp_path / "generated.jpg"
    _sign(fixtures, fixtures / "A.jpg", signed,
          [{"action": "c2pa.created", "digitalSourceType": AI_TYPE, "softwareAgent": {"name": "TestDiffusion"}}])
    items = c2pa_evidence(str(signed))
    hits = strong(items)
    assert hits and hits[0]["kind"] == "c2pa" and hits[0]["value"] == AI_TYPE
    assert "untrusted certificate" in hits[0]["reason"]

    # Re-sign as an edit: the AI claim now lives only in the ingredient's manifest.
    edited = tmp_path / "edited.jpg"
    _sign(fixtures, signed, edited, [{"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}],
          ingredient=signed)
    hits = strong(c2pa_evidence(str(edited)))
    assert hits and "ingredient manifest" in hits[0]["reason"]


def test_camera_claim_with_test_cert_is_not_authenticity(samples):
    items = c2pa_evidence(str(samples / "c2pa/c2pa-python/C_with_CAWG_data.jpg"))
    assert not [e for e in items if e["effect"] == "real"]


@pytest.fixture
def tagged(tmp_path):
    """A Pillow-made JPEG, copied and tagged by exiftool with the given arguments."""
    if not shutil.which("exiftool"):
        pytest.skip("exiftool is not installed")

    def make(*args):
        path = tmp_path / "tagged.jpg"
        Image.new("RGB", (64, 48), "gray").save(path)
        subprocess.run(["exiftool", "-q", "-overwrite_original", *args, str(path)], check=True)
        return path

    return make


def test_iptc_digital_source_type_is_caught(tagged, exiftool):
    path = tagged(f"-XMP-iptcExt:DigitalSourceType={AI_TYPE}")
    items = provenance_evidence(str(path), exiftool(path))
    assert items[0]["kind"] == "iptc_digital_source_type" and items[0]["strong"]
    assert items[0]["source"] == "XMP:DigitalSourceType" and items[0]["effect"] == "fake"


def test_camera_source_type_is_real_but_not_strong(tagged, exiftool):
    path = tagged("-XMP-iptcExt:DigitalSourceType=http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture")
    (ev,) = source_type_evidence(exiftool(path))
    assert ev["effect"] == "real" and not ev.get("strong")


def test_generator_name_markers(tagged, exiftool):
    path = tagged("-IPTC:Credit=Made with Google AI", "-EXIF:Software=Adobe Photoshop 25.0")
    items = source_type_evidence(exiftool(path))
    # a free-text field: points to AI, does not decide
    assert [e["source"] for e in items] == ["IPTC:Credit"] and items[0]["effect"] == "fake"
    assert not items[0].get("strong")
    software = source_type_evidence(exiftool(tagged("-EXIF:Software=Midjourney v6")))
    assert [e["source"] for e in software] == ["EXIF:Software"] and software[0]["strong"]


def test_ordinary_words_in_titles_do_not_decide(tagged, exiftool):
    items = source_type_evidence(exiftool(tagged("-XMP:Title=Runway at Heathrow", "-XMP:Description=dusk")))
    assert all(not e.get("strong") for e in items)


def test_source_type_codes():
    assert source_type_code(AI_TYPE) == "trainedAlgorithmicMedia"
    assert source_type_code("Trained Algorithmic Media") == "trainedAlgorithmicMedia"
    assert source_type_code("nonsense") is None


def test_camera_files_have_no_fake_provenance(samples, exiftool):
    paths = sorted((samples / "camera-exif/jpg").glob("*.jpg")) + sorted((samples / "exiftool-fixtures").glob("*.jpg"))
    for path, meta in zip(paths, exiftool.many(paths)):
        assert meta and not [e for e in provenance_evidence(str(path), meta) if e["effect"] == "fake"], path


def test_bad_images_do_not_crash(samples, exiftool):
    for path in sorted((samples / "bad-images").rglob("*")) + [samples / "camera-exif/jpg/corrupted.jpg"]:
        if path.is_file():
            provenance_evidence(str(path), exiftool(path))
    provenance_evidence("/nonexistent.png", {})


def test_midjourney_prompt_and_dalle_marker(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Description", "a lighthouse at dusk --ar 3:2 --v 6.1 Job ID: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b")
    info.add_text("Software", "DALL·E 3")
    path = tmp_path / "mj.png"
    Image.new("RGB", (32, 32)).save(path, pnginfo=info)
    items = provenance_evidence(str(path), {})
    generators = {e["value"]["generator"] for e in items if e["kind"] == "generator_metadata" and isinstance(e["value"], dict)}
    assert generators == {"Midjourney"}
    assert strong(source_type_evidence({"PNG:Software": "DALL·E 3"}))
