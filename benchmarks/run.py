"""Service vs raw model, in one run: `.venv/bin/python -m benchmarks.run [--quick]` (issue 7).

Prints a table and writes benchmarks/results/latest.json plus a dated copy (quick runs go to
results/tmp/, which git ignores). Every figure is measured in the same run, so ratios against
the raw model hold even on a machine shared with other work.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import dataset, inproc, levers, load, model, report

TARGETS_NOTE = "issue 7: e2e >= 0.9 x raw batched; single p50 <= batch-1 + 100 ms; status >= 1000 req/s, p99 < 50 ms; RSS <= 1.5 GB"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))], 1)


def split(images: list, k: int) -> tuple[list, list]:
    """k images spread over the size range for the latency test; the rest for throughput."""
    ranked = sorted(images, key=lambda i: i.megapixels)
    pick = {id(ranked[round(j * (len(ranked) - 1) / max(1, k - 1))]) for j in range(k)}
    return [i for i in images if id(i) not in pick], [i for i in ranked if id(i) in pick]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few images, short timings: a smoke run (~3 min)")
    ap.add_argument("--n", type=int, help="images for throughput (default 200, quick 12)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (celery prefork concurrency)")
    ap.add_argument("--api", choices=["batches", "single"], default="batches",
                    help="end to end through POST /api/v1/batches (50 files a request) or one upload each")
    ap.add_argument("--pipeline-n", type=int, help="files for the in-process pipeline (default 50: every 4th file)")
    ap.add_argument("--only", choices=["model", "pipeline", "levers", "service"], action="append",
                    help="run only these parts (repeatable); default all; partial runs write only under results/tmp/")
    args = ap.parse_args(argv)
    quick = args.quick
    n = args.n or (12 if quick else 200)
    k = 4 if quick else 12
    parts = set(args.only or ["model", "pipeline", "levers", "service"])

    from shared.settings import Settings
    from worker import detector
    from worker.pipeline import Resources

    tmp = Path(tempfile.mkdtemp(prefix="deepfake-bench-inproc-"))
    settings = Settings.from_env(data_dir=tmp, secret_key="bench")
    sha = detector.load(str(settings.model_path)).version
    log(f"model {settings.model_path} sha256 {sha[:12]}; building {n}+{k} images")
    images, latency_images = split(dataset.build(n + k), k)
    paths = [i.path for i in images]
    r: dict = {"machine": report.machine(settings.model_path, sha), "quick": quick, "targets_note": TARGETS_NOTE,
               "batch_size": detector.BATCH, "workers": args.workers, "n_images": len(paths),
               "batch_chunk": settings.batch_chunk, "api": args.api,
               "images": dataset.summary(images), "latency_images": dataset.summary(latency_images)}
    res = Resources(settings)
    det = res.detector.primary  # raw model figures: the content detector (the heaviest member)
    fns = model.callers(det)

    if "model" in parts:
        log("raw model")
        crops = model.crop_pool(det, paths)
        raw = model.measure(det, crops, (1, detector.BATCH), seconds=0.7 if quick else 2.0, rounds=1 if quick else 3)
        r["raw_model"] = raw
        r["raw_model_ips"] = raw["compiled"][str(detector.BATCH)]["ips"]
        r["raw_model_batch1_ips"] = raw["compiled"]["1"]["ips"]
        r["raw_model_predict_ips"] = raw["predict"][str(detector.BATCH)]["ips"]
        r["model_batch1_ms"] = raw["compiled"]["1"]["ms_per_call_p50"]
        r["model_batch1_predict_ms"] = raw["predict"]["1"]["ms_per_call_p50"]

    if "pipeline" in parts:
        step = max(1, round(len(paths) / (args.pipeline_n or (len(paths) if quick else 50))))
        log(f"pipeline in-process on {len(paths[::step])} files")
        pipe = inproc.run(paths[::step], res)
        r["pipeline"] = pipe
        r["pipeline_ips"] = pipe["ips"]
        r["forward_passes_per_upload"] = pipe["forward_passes_per_upload"]
    if "levers" in parts:
        log("levers")
        ranked = sorted(images, key=lambda i: i.megapixels)
        sub = [ranked[round(j * (len(ranked) - 1) / 5)].path for j in range(6)] if not quick else [ranked[0].path]
        r["levers"] = levers.measure(sub, res, fns["compiled"])
    res.close()
    shutil.rmtree(tmp, ignore_errors=True)

    if "service" in parts:
        from benchmarks import service

        log(f"service: starting {args.workers} worker process(es) and the web server")
        with service.Stack(concurrency=args.workers) as st:
            r["worker_start_s"] = round(st.worker_start_s, 1)
            log(f"end to end: {len(paths)} uploads")
            e2e = st.bulk(paths, api=args.api)
            per = e2e.pop("per_analysis")
            ids = e2e.pop("ids")
            e2e["stages"] = inproc.stage_summary([p["timings"] for p in per])
            e2e["queue_wait_s_p50"] = pct([p["queue_wait_s"] for p in per], 50)
            busy = sum(p["timings"].get("total_s", 0) for p in per)
            # share of the worker processes' wall time spent inside the pipeline (the rest: upload,
            # queue, claiming and writing rows, idle waiting)
            e2e["pipeline_busy_share"] = round(busy / (e2e["wall_s"] * args.workers), 3)
            r["end_to_end"] = e2e
            r["end_to_end_ips"] = e2e["ips"]
            log(f"single-upload latency: {len(latency_images)} uploads, one at a time")
            lat = st.single_latency([i.path for i in latency_images])
            ms = [x["ms"] for x in lat if x["status"] == "done"]
            r["single_upload"] = {"samples": lat, "pipeline_total_ms_p50": pct([1000 * x["total_s"] for x in lat
                                                                               if x["total_s"]], 50)}
            r["single_upload_p50_ms"], r["single_upload_p95_ms"] = pct(ms, 50), pct(ms, 95)
            log("status endpoint load")
            secs = 3 if quick else 10
            queued_id = st.queued_row()
            queued = load.status_load(f"{st.web.url}/api/v1/analyses/{queued_id}", secs)
            done = load.status_load(f"{st.web.url}/api/v1/analyses/{ids[0]}", secs)
            r["status_load"] = {"in_progress": queued, "done": done}
            r["status_rps"], r["status_p99_ms"] = queued["rps"], queued["p99_ms"]
            r["status_done_rps"], r["status_done_p99_ms"] = done["rps"], done["p99_ms"]
            r["status_load"]["in_progress_no_rate_limit"] = st.status_without_rate_limit(queued_id, secs)
            pools = {pid: service.rss_mb(pid) for pid in st.pool_pids()}
            r["worker_memory"] = {"pool_processes": pools, "main_process": service.rss_mb(st.worker.proc.pid),
                                  "exiftool": [service.rss_mb(c) for pid in pools for c in service.children(pid)]}
            r["worker_peak_rss_mb"] = max(v["peak_rss_mb"] for v in pools.values())
            versions = {line.rsplit("model ", 1)[-1].strip() for line in st.worker.log if "process ready: model" in line}
            r["worker_model_versions"] = sorted(versions)

    if "model" in parts and "service" in parts:
        log("raw model again (drift check)")
        again = model.measure(det, crops, (detector.BATCH,), seconds=0.7 if quick else 2.0, rounds=1)
        r["raw_model_ips_after"] = again["compiled"][str(detector.BATCH)]["ips"]
    r["model_sha256_after"] = detector._load.__wrapped__(str(settings.model_path)).version  # files unchanged
    r["model_changed_during_run"] = r["model_sha256_after"] != sha
    derive(r)
    out = report.write(r, quick or bool(args.only))
    print(report.table(r))
    print(f"\nresults: {out}")
    return r


def derive(r: dict) -> None:
    """Ratios and target verdicts from the measured figures."""
    raw, e2e, pipe = r.get("raw_model_ips"), r.get("end_to_end_ips"), r.get("pipeline_ips")
    fpu = r.get("forward_passes_per_upload")
    if raw and e2e:
        r["end_to_end_vs_raw_ratio"] = round(e2e / raw, 4)
        r["end_to_end_forward_utilisation"] = round(e2e * fpu / raw, 3) if fpu else None
    if pipe and e2e:
        r["end_to_end_vs_pipeline_ratio"] = round(e2e / pipe, 3)
    targets = {}
    if "end_to_end_vs_raw_ratio" in r:
        x = r["end_to_end_vs_raw_ratio"]
        targets["e2e >= 0.9 x raw"] = {"met": x >= 0.9, "detail": f"{x:.3f} x raw ({e2e} vs {raw} img/s)"}
    if r.get("single_upload_p50_ms") and r.get("model_batch1_ms"):
        limit = r["model_batch1_ms"] + 100
        targets["single p50 <= batch1 + 100 ms"] = {
            "met": r["single_upload_p50_ms"] <= limit, "detail": f"{r['single_upload_p50_ms']} ms vs {limit:.1f} ms"}
    if r.get("status_rps"):
        targets["status >= 1000 req/s, p99 < 50"] = {
            "met": r["status_rps"] >= 1000 and (r["status_p99_ms"] or 1e9) < 50,
            "detail": f"{r['status_rps']} req/s, p99 {r['status_p99_ms']} ms"}
    if r.get("worker_peak_rss_mb"):
        targets["worker RSS <= 1536 MB"] = {"met": r["worker_peak_rss_mb"] <= 1536,
                                             "detail": f"{r['worker_peak_rss_mb']} MB"}
    r["targets"] = targets


if __name__ == "__main__":
    main()
