"""Service vs raw model, in one run: `.venv/bin/python -m benchmarks.run [--quick]` (issue 7).

Prints a table and writes benchmarks/results/latest.json plus a dated copy (quick runs go to
results/tmp/, which git ignores). Every figure is measured in the same run, so ratios against
the raw model hold even on a machine shared with other work.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import dataset, fleets, inproc, levers, load, model, report

TARGETS_NOTE = ("issue 12: bulk e2e >= 0.8 x in-process pipeline; single verdict p50 <= in-process p50 + 60 ms; "
                "under a 1,000-image batch <= 2 x idle; maps ready <= 1.5 s after the verdict; status >= 1000 req/s, "
                "p99 < 50 ms (make run's web settings); worker RSS <= 1.5 GB. Issue 7's e2e vs raw model is kept as a figure")


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
    ap.add_argument("--pipeline-n", type=int, help="files for the in-process pipeline (default: all, the same files "
                                                   "as end to end, so bulk_e2e_vs_pipeline_ratio compares like with like)")
    ap.add_argument("--bulk-n", type=int, help="files in the batch that runs under the single uploads (default 1000)")
    ap.add_argument("--only", choices=["model", "pipeline", "levers", "service", "fleets"], action="append",
                    help="run only these parts (repeatable); default all; partial runs write only under results/tmp/")
    ap.add_argument("--rounds", type=int, help="fleets: interleaved rounds of each worker setup (default 2, quick 1)")
    ap.add_argument("--merge", action="store_true",
                    help="with --only fleets: its figures added to the committed latest.json (the other figures stay "
                         "those of the run that wrote it), written as a dated file and latest.json")
    args = ap.parse_args(argv)
    quick = args.quick
    n = args.n or (12 if quick else 200)
    k = 4 if quick else 12
    # the fleets comparison starts two stacks a round: a quick run leaves it out unless asked (--only fleets)
    parts = set(args.only or ["model", "pipeline", "levers", "service", *([] if quick else ["fleets"])])

    from shared.settings import Settings
    from worker import detector
    from worker.pipeline import Resources

    tmp = Path(tempfile.mkdtemp(prefix="deepfake-bench-inproc-"))
    settings = Settings.from_env(data_dir=tmp, secret_key="bench")
    sha = detector.load(str(settings.model_path)).version
    bulk_n = args.bulk_n or (40 if quick else 1000)
    log(f"model {settings.model_path} sha256 {sha[:12]}; building {n}+{k} images")
    images, latency_images = split(dataset.build(n + k), k)
    paths = [i.path for i in images]
    r: dict = {"machine": report.machine(settings.model_path, sha), "quick": quick, "targets_note": TARGETS_NOTE,
               "batch_size": settings.model_batch, "workers": args.workers, "n_images": len(paths),
               "batch_chunk": settings.batch_chunk, "api": args.api,
               "images": dataset.summary(images), "latency_images": dataset.summary(latency_images)}
    res = Resources(settings)
    det = res.detector.primary  # raw model figures: the content detector (the heaviest member)
    r["device"] = res.device  # where this process's forward pass runs; the worker's is in worker_devices
    fns = model.callers(det)

    if "model" in parts:
        log("raw model")
        crops = model.crop_pool(det, paths)
        raw = model.measure(det, crops, (1, settings.model_batch), seconds=0.7 if quick else 2.0, rounds=1 if quick else 3)
        r["raw_model"] = raw
        r["raw_model_ips"] = raw["compiled"][str(settings.model_batch)]["ips"]
        r["raw_model_batch1_ips"] = raw["compiled"]["1"]["ips"]
        r["raw_model_predict_ips"] = raw["predict"][str(settings.model_batch)]["ips"]
        r["model_batch1_ms"] = raw["compiled"]["1"]["ms_per_call_p50"]
        r["model_batch1_predict_ms"] = raw["predict"]["1"]["ms_per_call_p50"]

    if "pipeline" in parts:
        step = max(1, round(len(paths) / (args.pipeline_n or len(paths))))
        log(f"pipeline in-process on {len(paths[::step])} files")
        pipe = inproc.run(paths[::step], res)
        r["pipeline"] = pipe
        r["pipeline_ips"] = pipe["ips"]
        r["forward_passes_per_upload"] = pipe["forward_passes_per_upload"]
    if "pipeline" in parts or "fleets" in parts:  # what the single-verdict target compares with, in this run
        log(f"pipeline in-process, one file at a time: the {len(latency_images)} single-upload files")
        single = inproc.per_file_ms([i.path for i in latency_images], res)
        r["pipeline_single_ms"] = single
        r["pipeline_single_p50_ms"] = pct(single, 50)
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
            log(f"single-upload latency: {len(latency_images)} uploads, one at a time, then their maps")
            lat = st.single_latency([i.path for i in latency_images])
            ms = [x["ms"] for x in lat if x["status"] == "done"]
            r["single_upload"] = {"samples": lat, "pipeline_total_ms_p50": pct([1000 * x["total_s"] for x in lat
                                                                               if x["total_s"]], 50)}
            r["single_verdict_p50_ms"], r["single_verdict_p95_ms"] = pct(ms, 50), pct(ms, 95)
            r["maps_ready_p50_ms"] = pct([x["maps_ms"] for x in lat if x.get("maps_state") == "ready"], 50)
            r["maps_ready_p95_ms"] = pct([x["maps_ms"] for x in lat if x.get("maps_state") == "ready"], 95)
            log("status endpoint load")
            secs = 3 if quick else 10
            queued_id = st.queued_row()
            queued = load.status_load(f"{st.web.url}/api/v1/analyses/{queued_id}", secs)
            done = load.status_load(f"{st.web.url}/api/v1/analyses/{ids[0]}", secs)
            r["status_load"] = {"in_progress": queued, "done": done}
            r["status_rps"], r["status_p99_ms"] = queued["rps"], queued["p99_ms"]
            r["status_done_rps"], r["status_done_p99_ms"] = done["rps"], done["p99_ms"]
            r["status_load"]["in_progress_no_rate_limit"] = st.status_without_rate_limit(queued_id, secs)
            bulk, singles = under_bulk_files(images, latency_images, bulk_n)
            log(f"single uploads while a {bulk_n}-image batch runs")
            under = st.under_bulk(singles, bulk)
            r["under_bulk"] = under
            r["single_verdict_p50_under_bulk_ms"] = pct([x["ms"] for x in under["samples"] if x["status"] == "done"], 50)
            r["worker_memory"] = st.memory()
            r["worker_peak_rss_mb"] = r["worker_memory"]["peak_rss_mb"]
            ready = [line.split("process ready: ", 1)[1].strip() for line in st.worker.log if "process ready: model" in line]
            r["worker_model_versions"] = sorted({line.split()[1] for line in ready})
            r["worker_devices"] = sorted({line.split(" on ", 1)[1].rsplit(",", 1)[0] for line in ready if " on " in line})

    if "fleets" in parts:
        bulk, singles = under_bulk_files(images, latency_images, bulk_n)
        r["fleets"] = fleets.run([i.path for i in latency_images], singles, bulk, args.rounds or (1 if quick else 2),
                                 5 if quick else 20, log)
        r["fleets"]["pipeline_single_p50_ms"] = r["pipeline_single_p50_ms"]  # in-process, in this run

    if "model" in parts and "service" in parts:
        log("raw model again (drift check)")
        again = model.measure(det, crops, (settings.model_batch,), seconds=0.7 if quick else 2.0, rounds=1)
        r["raw_model_ips_after"] = again["compiled"][str(settings.model_batch)]["ips"]
    r["model_sha256_after"] = detector._load.__wrapped__(str(settings.model_path)).version  # files unchanged
    r["model_changed_during_run"] = r["model_sha256_after"] != sha
    if args.merge and not quick and "fleets" in r:  # the other figures stay those of the committed run
        base = json.loads((report.RESULTS / "latest.json").read_text())
        r = base | {"fleets": r["fleets"], "fleets_machine": r["machine"]}
    derive(r)
    out = report.write(r, quick or (bool(args.only) and not args.merge))
    print(report.table(r))
    print(f"\nresults: {out}")
    return r


def under_bulk_files(images: list, latency_images: list, bulk_n: int) -> tuple[list[str], list[str]]:
    """The batch and the singles that run under it: byte-distinct copies, so reuse of an earlier analysis cannot
    answer them; the bulk from the 0.3-1 MP images (a realistic upload size for 1,000 files), the singles from
    the latency files."""
    small = [i.path for i in images if i.band == "0.3-1MP"]
    bulk = dataset.variants(small, bulk_n, dataset.CACHE / "variants", "bulk")
    singles = dataset.variants([i.path for i in latency_images], len(latency_images),
                               dataset.CACHE / "variants", "single-under-bulk")
    return bulk, singles


def derive(r: dict) -> None:
    """Ratios and target verdicts from the measured figures (issue 12's targets)."""
    raw, e2e, pipe = r.get("raw_model_ips"), r.get("end_to_end_ips"), r.get("pipeline_ips")
    fpu = r.get("forward_passes_per_upload")
    if raw and e2e:
        r["end_to_end_vs_raw_ratio"] = round(e2e / raw, 4)
        r["end_to_end_forward_utilisation"] = round(e2e * fpu / raw, 3) if fpu else None
    if pipe and e2e:
        r["bulk_e2e_vs_pipeline_ratio"] = round(e2e / pipe, 3)
    targets = {}
    if "bulk_e2e_vs_pipeline_ratio" in r:
        x = r["bulk_e2e_vs_pipeline_ratio"]
        targets["bulk e2e >= 0.8 x pipeline"] = {"met": x >= 0.8, "detail": f"{x:.3f} ({e2e} vs {pipe} img/s)"}
    single, inproc_single = r.get("single_verdict_p50_ms"), r.get("pipeline_single_p50_ms")
    if single and inproc_single:
        limit = inproc_single + 60
        targets["single verdict p50 <= in-process + 60 ms"] = {
            "met": single <= limit, "detail": f"{single} ms vs {limit:.1f} ms"}
    if single and r.get("single_verdict_p50_under_bulk_ms"):
        x = r["single_verdict_p50_under_bulk_ms"]
        targets["under bulk <= 2 x idle"] = {"met": x <= 2 * single, "detail": f"{x} ms vs idle {single} ms"}
    if r.get("maps_ready_p50_ms"):
        targets["maps ready <= 1500 ms after verdict"] = {"met": r["maps_ready_p50_ms"] <= 1500,
                                                         "detail": f"p50 {r['maps_ready_p50_ms']} ms"}
    if r.get("status_rps"):
        targets["status >= 1000 req/s, p99 < 50"] = {
            "met": r["status_rps"] >= 1000 and (r["status_p99_ms"] or 1e9) < 50,
            "detail": f"{r['status_rps']} req/s, p99 {r['status_p99_ms']} ms"}
    if fleet := (r.get("fleets") or {}).get("summary", {}).get("fleet"):  # the default workers, this run's rounds
        idle, under = fleet["idle_p50_ms"], fleet["under_bulk_p50_ms"]
        if own := r["fleets"].get("pipeline_single_p50_ms"):
            targets["fleet: single verdict p50 <= in-process + 60 ms"] = {
                "met": idle <= own + 60, "detail": f"{idle} ms vs {own + 60:.1f} ms"}
        targets["fleet: under bulk <= 2 x idle"] = {"met": under <= 2 * idle,
                                                     "detail": f"{under} ms vs idle {idle} ms"}
    if r.get("worker_peak_rss_mb"):
        targets["worker RSS <= 1536 MB"] = {"met": r["worker_peak_rss_mb"] <= 1536,
                                             "detail": f"{r['worker_peak_rss_mb']} MB"}
    r["targets"] = targets


if __name__ == "__main__":
    main()
