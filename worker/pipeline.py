"""The analysis pipeline as plain functions: decode → metadata → provenance → model → verdict.

`analyze_file` works on a path and is what the CLI calls; `worker.runner.run_chunk` wraps `analyze_files` for
queued analyses: read the rows, release the connection, compute, write the results.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded  # Celery's soft time limit, raised inside the task

from shared import preview
from shared.evidence import Evidence, item
from shared import images
from shared.images import sniff_file
from shared.settings import Settings
from shared.signals import found_provenance
from shared.storage import Unavailable
from shared import levels
from shared.verdict import DEFAULT_THRESHOLDS, band, fuse, probability_text
from worker import decode, exif, maps, phash
from worker.errors import AnalysisError
from worker.signals.metadata import metadata_score, thumbnail_size
from worker.signals import forensics
from worker.signals.camera_original import camera_original_evidence
from worker.signals.provenance import provenance_evidence
from worker.signals.watermark import watermark_evidence

log = logging.getLogger(__name__)


@dataclass
class Resources:
    """What one worker process loads once, after fork: the detector and an exiftool process."""

    settings: Settings
    _detector: Any = None
    _exif: exif.ExifReader | None = None
    device: str = ""  # where the detector runs ("CPU", "GPU:0 <name>"), known once it is loaded

    @property
    def detector(self):  # noqa: ANN201 - worker.detector.Detector, imported lazily (TensorFlow)
        if self._detector is None:
            from worker import detector

            self.device = detector.use_gpu_if_present()
            self._detector = detector.load(str(self.settings.model_path))
            for member in self._detector.members:
                member.batch = self.settings.model_batch
        return self._detector

    @property
    def exif(self) -> exif.ExifReader:
        if self._exif is None:
            self._exif = exif.ExifReader(timeout=self.settings.exiftool_timeout)
        return self._exif

    def warm_up(self) -> float:
        """One tiny upload's forward passes, so the first real one does not pay TensorFlow's first call
        (tracing, kernel set-up: about 1.8 s on 2 cores); the seconds it took."""
        from PIL import Image

        from worker.detector import perturbed

        t = time.perf_counter()
        size = 2 * self.detector.input_size  # large enough for the shape of a real upload's crop set
        self.detector.score([perturbed(Image.new("RGB", (size, size), (128, 128, 128)), self.detector.input_size)])
        return time.perf_counter() - t

    def close(self) -> None:
        if self._exif is not None:
            self._exif.close()


@dataclass
class Outcome:
    """Everything found about one file."""

    verdict: str
    reasons: list[str]
    fake_probability: float | None  # the score the verdict used; None when it used none (the image is too small)
    metadata_score: float
    model_version: str
    width: int
    height: int
    evidence: list[Evidence]
    metadata: dict[str, dict[str, Any]]
    result: dict[str, Any] = field(default_factory=dict)
    phash: str | None = None
    has_provenance: bool = False
    preview: bytes | None = None  # the JPEG the web serves as the preview (shared/preview.py), stored by the runner
    level: str | None = None  # shared.levels name


@dataclass
class _Prepared:
    """One file after decoding and the metadata/provenance signals, waiting for the model."""

    tags: dict[str, Any]
    width: int
    height: int
    variants: dict[str, Any]  # the model's inputs: the normalised image and its robustness variants
    map_src: Any  # the copy the thumbnail and maps are drawn from (forensics.analysis_copy); None: no maps here
    phash: str
    meta_score: float
    meta_evidence: list[Evidence]
    evidence: list[Evidence]
    timings: dict[str, float]
    preview: bytes | None = None


@contextmanager
def _stage(name: str):
    """Whatever a step raises for one file becomes that file's AnalysisError naming the step, so it
    fails alone and never its chunk. Celery's time limit and an object store that did not answer are not the
    file's fault: they pass through (the job is retried)."""
    try:
        yield
    except (AnalysisError, SoftTimeLimitExceeded, Unavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - any bug or resource error in a step, MemoryError included
        log.exception("%s failed", name)
        raise AnalysisError(f"{name} failed on this file ({exc.__class__.__name__}: {exc})"[:300]) from None


def _prepare(path: Path, res: Resources, for_maps: bool) -> _Prepared:
    """Everything before the model: type check, exiftool, decode, metadata score, provenance, the model's inputs.

    for_maps: keep a reduced copy for maps drawn in this call (the CLI); a worker's maps are their own task,
    which decodes the file again, so the verdict does not pay for that copy (150 ms at 12 MP)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with _stage("reading the stored file"):
        if not path.is_file():
            raise AnalysisError("the uploaded file is missing from storage")
        if sniff_file(path) is None:
            raise AnalysisError(images.EMPTY if path.stat().st_size == 0 else images.NOT_ACCEPTED)
    with _stage("metadata extraction"):
        tags = res.exif.read(path)
    timings["metadata_s"] = time.perf_counter() - t0
    t = time.perf_counter()
    with _stage("decoding"):
        img = decode.load_image(path, res.settings.max_image_pixels)
        decode.check_upscale(img, res.detector.input_size)
    try:  # from the image decoded here, so that the web never decodes one; without it the verdict still stands
        small = preview.encode(img)
    except Exception:  # noqa: BLE001 - a preview is not worth failing the analysis for
        log.exception("the preview failed")
        small = None
    timings["decode_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with _stage("the metadata score"):
        meta_score, meta_evidence = metadata_score(tags, thumbnail_size(str(path)))
    with _stage("the provenance checks (C2PA, source type, generator text)"):
        evidence: list[Evidence] = provenance_evidence(str(path), tags, img)
    with _stage("the watermark check"):
        evidence += watermark_evidence(img)
    with _stage("the camera-original check (JPEG tables, maker notes, thumbnail, times)"):
        evidence += camera_original_evidence(str(path), tags, evidence, res.settings.max_image_pixels)
    timings["provenance_s"] = time.perf_counter() - t
    # Keep only what the later steps need, not the full-resolution image (36 MB at 12 MP, times a chunk).
    from worker.detector import perturbed

    t = time.perf_counter()
    with _stage("preparing the detector's input"):
        variants = perturbed(img, res.detector.input_size)
        prepared = _Prepared(tags, img.width, img.height, variants, forensics.analysis_copy(img) if for_maps else None,
                             phash.dhash(img), meta_score, meta_evidence, evidence, timings, small)
    timings["model_input_s"] = time.perf_counter() - t  # the robustness variants, the difference hash
    return prepared


def analyze_files(paths: list[Path], res: Resources,
                  derived_dirs: list[Path | None] | None = None) -> list[Outcome | AnalysisError]:
    """Analyse several files, running the model on all of them as one batch; one Outcome or error each.

    A file that fails any step fails alone with the step's reason; the others are analysed as usual.
    """
    derived_dirs = derived_dirs or [None] * len(paths)
    det = res.detector  # loaded outside any file's steps: a missing model is not a file's fault
    results: list[Outcome | AnalysisError | None] = [None] * len(paths)
    ready: list[tuple[int, _Prepared]] = []
    for i, path in enumerate(paths):
        try:
            ready.append((i, _prepare(path, res, for_maps=derived_dirs[i] is not None)))
        except AnalysisError as exc:
            results[i] = exc
    if ready:
        t = time.perf_counter()
        all_scores = _scores(det, [p for _, p in ready])
        model_s = (time.perf_counter() - t) / len(ready)
        for (i, prep), scored in zip(ready, all_scores):
            if isinstance(scored, AnalysisError):
                results[i] = scored
                continue
            prep.timings["model_s"] = model_s
            try:
                with _stage("the verdict"):
                    results[i] = _finish(prep, scored, det)
            except AnalysisError as exc:
                results[i] = exc
                continue
            if derived_dirs[i] is not None:  # in-process callers (the CLI) get the maps with the verdict
                try:
                    with _stage("the forensic maps"):
                        made = write_maps(prep.map_src, det, derived_dirs[i])
                    results[i].result = with_maps(results[i].result, made)
                except AnalysisError as exc:
                    results[i] = exc
    return results  # type: ignore[return-value]


def _scores(det, prepared: list[_Prepared]) -> list:  # noqa: ANN001 - worker.detector.Ensemble / Scores
    """The detectors' scores for all files in one batched pass; if that pass fails, file by file, so
    that only the file it fails on is failed."""
    try:
        with _stage("the detector"):
            return list(det.score([p.variants for p in prepared]))
    except AnalysisError as exc:
        if len(prepared) == 1:
            return [exc]
    out: list = []
    for prep in prepared:
        try:
            with _stage("the detector"):
                out.append(det.score([prep.variants])[0])
        except AnalysisError as exc:
            out.append(exc)
    return out


def analyze_file(path: Path, res: Resources, derived_dir: Path | None = None) -> Outcome:
    """Analyse one image file; with derived_dir, also write its thumbnail and forensic maps there."""
    result = analyze_files([path], res, [derived_dir])[0]
    if isinstance(result, AnalysisError):
        raise result
    return result


def write_maps(map_src, det, derived_dir: Path) -> tuple[list[dict[str, str]], float]:  # noqa: ANN001
    """The thumbnail and forensic maps of one image (`forensics.analysis_copy`) into derived_dir; (maps, seconds).

    Not part of the verdict: queued analyses get them afterwards from their own task (worker/maps_task.py).
    """
    t = time.perf_counter()
    derived_dir.mkdir(parents=True, exist_ok=True)
    decode.thumbnail(map_src, derived_dir / "thumbnail.jpg")
    map_info = maps.write_maps(map_src, derived_dir, det.primary)
    return map_info, time.perf_counter() - t


def with_maps(result: dict[str, Any], made: tuple[list[dict[str, str]], float]) -> dict[str, Any]:
    """A stored result with its maps added: listed, one neutral evidence item each, and their time."""
    map_info, seconds = made
    evidence = [e for e in result.get("evidence", []) if e.get("kind") != "forensic_map"]
    evidence += [item("forensic_map", m["name"], m["title"], "neutral", m["label"]) for m in map_info]
    timings = dict(result.get("timings", {})) | {"maps_s": round(seconds, 4)}
    return dict(result) | {"maps": map_info, "evidence": evidence, "timings": timings}


def _finish(prep: _Prepared, model_scores, det) -> Outcome:  # noqa: ANN001 - worker.detector.Scores / Ensemble
    """Model evidence and the fused verdict for one prepared file (the maps come later, on their own)."""
    evidence, timings = list(prep.evidence), prep.timings
    p_fake, scores = float(model_scores.fake_probability), model_scores.line
    thresholds = dataclasses.replace(DEFAULT_THRESHOLDS, model_fake=det.thresholds["fake"],
                                     model_real=det.thresholds["real"],
                                     model_camera=det.thresholds.get("camera", det.thresholds["real"]))
    # Below the model's input size the crops are upscaled and the score is unreliable (measured: 3 of 15
    # real photos at 128 px called fake, none at 224 px), so it is reported but does not vote.
    too_small = min(prep.width, prep.height) < det.input_size
    used = None if too_small else p_fake  # the verdict's input, and the row's fake_probability every listing shows
    evidence.extend(_member_evidence(model_scores.detectors))
    if too_small:
        evidence.append(item("model", f"ensemble {det.version[:12]}", round(p_fake, 4), "neutral",
                             f"the image is only {prep.width}x{prep.height}: too small for the detector, which needs "
                             f"{det.input_size} px on the short side; its score is shown but not used"))
    else:
        evidence.append(_model_evidence(det.version, p_fake, thresholds))
        evidence.append(_robustness_evidence(scores, thresholds))
    evidence.extend(prep.meta_evidence)

    rates = det.meta.get("levels") if isinstance(getattr(det, "meta", None), dict) else None
    verdict = fuse(used, prep.meta_score, evidence, thresholds, rates)
    timings["total_s"] = sum(timings.values())
    result = {
        "verdict": verdict.label, "level": levels.describe(verdict.level, rates), "reasons": verdict.reasons,
        "fake_probability": p_fake, "scored": not too_small,  # the detectors' output, and whether the verdict used it
        "metadata_score": prep.meta_score, "model_version": det.version, "evidence": evidence,
        "detectors": model_scores.detectors,
        "robustness": scores, "thresholds": dataclasses.asdict(thresholds), "maps": [],
        "image": {"width": prep.width, "height": prep.height}, "timings": {k: round(v, 4) for k, v in timings.items()},
    }
    has_provenance = any(found_provenance(e) for e in evidence)
    return Outcome(verdict.label, verdict.reasons, used, prep.meta_score, det.version, prep.width, prep.height,
                   evidence, exif.group(prep.tags), result, prep.phash, has_provenance, prep.preview,
                   verdict.level)


def _model_evidence(version: str, p: float, th) -> Evidence:  # noqa: ANN001
    pt = probability_text(p)
    effect, reason = {
        "fake": ("fake", f"the detectors combined give {pt} probability of AI generation"),
        "real": ("real", f"the detectors combined give only {pt} probability of AI generation"),
        "between": ("neutral", f"the detectors combined are undecided ({pt} probability of AI generation)"),
    }[band(p, th)]
    return item("model", f"ensemble {version[:12]}", round(p, 4), effect, reason)


def _member_evidence(detectors: list[dict]) -> list[Evidence]:
    """One item per detector: its own probability, name and version (the combined item decides)."""
    return [item("model", f"detector {d['name']} {d['version'][:12]}", round(d["fake_probability"], 4), "neutral",
                 f"{d['name']} detector: {d['fake_probability']:.0%} probability of AI generation "
                 f"(weight {d['weight']:.2f} in the combined score)", detector=d["name"])
            for d in detectors]


def _robustness_evidence(scores: list[dict], th) -> Evidence:  # noqa: ANN001
    """A verdict that flips under re-compression or down-scaling is not one to trust."""
    sides = {s["perturbation"]: band(s["fake_probability"], th) for s in scores}
    original = sides.get("original")
    flipped = sorted(k for k, v in sides.items() if v != original)
    # to the opposite side (fake <-> real) reverses the call; to or from "between" only weakens it
    opposite = sorted(k for k in flipped if {sides[k], original} == {"fake", "real"})
    if not flipped:
        return item("robustness", "first view re-scored after JPEG q90/q75/q50 and 0.75x/0.5x", {"flipped": False},
                    "neutral", "the model's answer holds under re-compression and down-scaling")
    value = {"flipped": True, "changed": flipped, "opposite": bool(opposite)}
    if opposite:
        return item("robustness", "first view re-scored after JPEG q90/q75/q50 and 0.75x/0.5x", value, "neutral",
                    "the detectors' call reverses after " + ", ".join(opposite) + ": not a call to act on")
    return item("robustness", "first view re-scored after JPEG q90/q75/q50 and 0.75x/0.5x", value, "neutral",
                "the detectors' call weakens to or from undecided after " + ", ".join(flipped)
                + ", and never reverses")
