"""The worker fleet against one worker for every queue, in one run, round by round (`benchmarks.run`'s `fleets`).

`single`: one `celery worker --concurrency=1` on every queue in priority order, as `make run` ran before the
fleet; a running chunk yields between its slices of BULK_SLICE files when an upload waits (pre-emption).
`fleet`: `python -m worker.fleet` as `make run` runs it now: an interactive worker for single uploads beside a
general one at BULK_NICE. The machine is shared and noisy, so the two take turns round by round (who goes
first alternates) on the same files, each on fresh state, and the ratios between them are what to read.
"""
from __future__ import annotations

import os
import statistics
import time

from benchmarks import service

KINDS = ("single", "fleet")


def p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _done_ms(samples: list[dict]) -> list[float]:
    return [x["ms"] for x in samples if x["status"] == "done"]


def measure(kind: str, idle: list[str], under: list[str], bulk: list[str], window_s: float) -> dict:
    """One stack of that kind: idle single verdicts, single verdicts under the batch, the batch's rate, memory."""
    load = [os.getloadavg()[0]]
    with service.Stack(fleet=kind == "fleet") as st:
        lat = st.single_latency(idle)
        busy = st.under_bulk(under, bulk)
        rate = st.bulk_rate(window_s)  # every file posted: only the worker's work is left
        memory = st.memory()
        start_s = st.worker_start_s
    load.append(os.getloadavg()[0])
    timings = [x["total_s"] for x in lat if x.get("total_s")]
    return {"kind": kind, "worker_start_s": round(start_s, 1), "load_average_1min": load,
            "idle_p50_ms": p50(_done_ms(lat)), "first_upload_ms": lat[0]["ms"],
            # the worker's own time for the first upload after start against the rest: what the warm-up saves
            "first_upload_pipeline_ms": round(1000 * timings[0], 1) if timings else None,
            "idle_pipeline_p50_ms": p50([1000 * t for t in timings[1:]]),
            "under_bulk_p50_ms": p50(_done_ms(busy["samples"])), "bulk_ips": rate["ips"],
            # the same uploads' time inside the worker: the rest of under_bulk_p50_ms is waiting and the web
            "under_bulk_pipeline_p50_ms": p50([1000 * x["total_s"] for x in busy["samples"] if x.get("total_s")]),
            "bulk_done_during_singles": busy["bulk_done_during_singles"], "bulk_rate": rate,
            "worker_total_rss_mb": memory["total_rss_mb"], "worker_peak_rss_mb": memory["peak_rss_mb"],
            "pool_processes": len(memory["pool_processes"]), "idle": lat, "under_bulk": busy, "memory": memory}


def run(idle: list[str], under: list[str], bulk: list[str], rounds: int, window_s: float, log) -> dict:
    """`rounds` interleaved rounds; per kind the median over rounds of each figure, and fleet/single ratios."""
    per: dict[str, list[dict]] = {k: [] for k in KINDS}
    for i in range(rounds):
        for kind in KINDS if i % 2 == 0 else KINDS[::-1]:
            log(f"fleets: round {i + 1}/{rounds}, {kind}")
            per[kind].append(measure(kind, idle, under, bulk, window_s))
            m = per[kind][-1]
            log(f"fleets: {kind}: idle {m['idle_p50_ms']} ms, under bulk {m['under_bulk_p50_ms']} ms, "
                f"bulk {m['bulk_ips']} img/s, {m['worker_total_rss_mb']} MB")
    figures = ("idle_p50_ms", "under_bulk_p50_ms", "bulk_ips", "worker_total_rss_mb", "first_upload_ms",
               "first_upload_pipeline_ms", "idle_pipeline_p50_ms", "under_bulk_pipeline_p50_ms")
    summary = {k: {f: p50([m[f] for m in per[k] if m[f] is not None]) for f in figures} for k in KINDS}
    for k in KINDS:
        s = summary[k]
        s["under_bulk_vs_idle"] = round(s["under_bulk_p50_ms"] / s["idle_p50_ms"], 2)
        # within each round, so that a noisy round moves both kinds
        s["under_bulk_vs_idle_per_round"] = [round(m["under_bulk_p50_ms"] / m["idle_p50_ms"], 2) for m in per[k]]
    ratio = {f: round(summary["fleet"][f] / summary["single"][f], 3) for f in figures[:4]}
    return {"rounds": rounds, "bulk_files": len(bulk), "singles": len(under), "bulk_window_s": window_s,
            "load_average_1min": [x for k in KINDS for m in per[k] for x in m["load_average_1min"]],
            "summary": summary, "fleet_vs_single": ratio, "per_round": per, "measured_at": time.time()}
