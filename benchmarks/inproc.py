"""Pipeline in-process: `analyze_file` on every file of the set, as the CLI runs it (no server)."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from worker.errors import AnalysisError


def run(paths: list[str], res, derived_root: Path | None = None) -> dict:
    """Images/s over the whole set, and the per-stage timings each analysis reports."""
    from worker.pipeline import analyze_file

    timings: list[dict] = []
    failed: list[str] = []
    crops = [count_crops(m) for m in res.detector.members]
    start = time.perf_counter()
    try:
        for i, p in enumerate(paths):
            derived = derived_root / f"{i:04d}" if derived_root else None
            try:
                outcome = analyze_file(Path(p), res, derived_dir=derived)
            except AnalysisError as exc:
                failed.append(f"{Path(p).name}: {exc}")
                continue
            timings.append(outcome.result["timings"])
    finally:
        for m in res.detector.members:
            del m.predict  # back to the class's method
    wall = time.perf_counter() - start
    ok = len(timings)
    return {"ips": round(ok / wall, 3), "wall_s": round(wall, 2), "n_ok": ok, "failed": failed,
            "forward_passes_per_upload": round(sum(len(b) for seen in crops for b in seen) / max(ok, 1), 2),
            "stages": stage_summary(timings)}


def per_file_ms(paths: list[str], res) -> list[float]:
    """Each file's `analyze_file` time alone (no maps), as a single upload's worker runs it."""
    from worker.pipeline import analyze_file

    out = []
    for p in paths:
        t = time.perf_counter()
        try:
            analyze_file(Path(p), res)
        except AnalysisError:
            continue
        out.append(round(1000 * (time.perf_counter() - t), 1))
    return out


def count_crops(det) -> list:
    """Record every batch the pipeline sends to ``det.predict`` (remove with ``del det.predict``)."""
    seen: list = []
    original = det.predict

    def predict(batch):
        seen.append(batch)
        return original(batch)

    det.predict = predict
    return seen


def stage_summary(timings: list[dict]) -> dict:
    """Per stage: total seconds, share of the summed total_s, mean and p95 ms per image."""
    if not timings:
        return {}
    total = sum(t.get("total_s", 0.0) for t in timings) or 1e-9
    out = {}
    for key in sorted({k for t in timings for k in t}):
        vals = [t[key] for t in timings if key in t]
        out[key] = {"sum_s": round(sum(vals), 2), "share": round(sum(vals) / total, 3),
                    "mean_ms": round(1000 * statistics.fmean(vals), 1),
                    "p95_ms": round(1000 * _pct(vals, 95), 1)}
    return out


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]
