"""Machine description, the summary table, and the results files."""
from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine(model_path: Path, model_sha: str) -> dict:
    """CPU model, cores, RAM, TF/Python versions, model file and hash, repository state, load."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    import tensorflow as tf

    root = Path(__file__).resolve().parents[1]
    git = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, check=False).stdout.strip()
    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()
             if line[3:].split("/")[0] in ("worker", "web", "shared", "models")]
    return {"cpu_model": cpu, "cores": os.cpu_count(), "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "tf_threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                           "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
            "model_path": str(model_path), "model_sha256": model_sha, "git_commit": git("rev-parse", "HEAD"),
            "uncommitted_service_files": dirty, "load_average_at_start": list(os.getloadavg())}


ROWS = [
    ("1 raw model, batch 1 (compiled forward)", "raw_model_batch1_ips", "img/s"),
    ("1 raw model, worker batch (compiled forward)", "raw_model_ips", "img/s"),
    ("1 raw model, worker batch via Detector.predict", "raw_model_predict_ips", "img/s"),
    ("  model batch-1 time (compiled / predict)", "model_batch1_ms", "ms"),
    ("2 pipeline in-process (CLI path)", "pipeline_ips", "img/s"),
    ("3 end to end through the API", "end_to_end_ips", "img/s"),
    ("  end to end / raw model (same batch, workers)", "end_to_end_vs_raw_ratio", "x"),
    ("  bulk end to end / pipeline in-process (no maps)", "bulk_e2e_vs_pipeline_ratio", "x"),
    ("  model forward passes per upload (mean)", "forward_passes_per_upload", ""),
    ("  end to end, forward passes/s / raw model", "end_to_end_forward_utilisation", "x"),
    ("4 single upload, verdict p50", "single_verdict_p50_ms", "ms"),
    ("4 single upload, verdict p95", "single_verdict_p95_ms", "ms"),
    ("  the same files in-process, p50", "pipeline_single_p50_ms", "ms"),
    ("  single verdict p50 while a batch runs", "single_verdict_p50_under_bulk_ms", "ms"),
    ("  maps ready after the verdict, p50", "maps_ready_p50_ms", "ms"),
    ("5 status endpoint, in progress", "status_rps", "req/s"),
    ("5 status endpoint p99", "status_p99_ms", "ms"),
    ("5 status endpoint, done (full result)", "status_done_rps", "req/s"),
    ("5 status endpoint p99, done", "status_done_p99_ms", "ms"),
    ("6 peak RSS per worker process", "worker_peak_rss_mb", "MB"),
]


def table(r: dict) -> str:
    """The headline figures and the targets, as a plain-text table."""
    extra = {"model_batch1_ms": f"{r.get('model_batch1_ms')} / {r.get('model_batch1_predict_ms')}"}
    lines = [f"{'figure':<50} {'value':>16}  unit"]
    for label, key, unit in ROWS:
        value = extra.get(key, r.get(key))
        lines.append(f"{label:<50} {value!s:>16}  {unit}")
    lines.append("")
    lines.append(f"device={r.get('device')} worker={r.get('worker_devices')} "
                 f"batch_size={r.get('batch_size')} workers={r.get('workers')} n_images={r.get('n_images')} "
                 f"model={str(r.get('machine', {}).get('model_sha256'))[:12]}")
    for name, t in r.get("targets", {}).items():
        lines.append(f"target {name:<28} {'MET ' if t['met'] else 'MISSED'}  {t['detail']}")
    return "\n".join(lines)


def write(r: dict, quick: bool) -> Path:
    """latest.json and a dated copy (quick runs: under results/tmp/); returns the dated file."""
    folder = RESULTS / "tmp" if quick else RESULTS  # results/tmp/ is git-ignored
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dated = folder / f"{stamp}.json"
    text = json.dumps(r, indent=1, default=str) + "\n"
    dated.write_text(text)
    (folder / "latest.json").write_text(text)
    return dated
