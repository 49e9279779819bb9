"""`deepfake-detect predict [--json] FILE...` runs the analysis pipeline in-process, no server needed;
`deepfake-detect submit --server URL [--key KEY] FILE|DIR|ZIP...` sends files to a running service as batches,
and `--url URL` (repeated) image links for it to fetch."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from shared.settings import Settings
from shared.storage import sha256_file
from worker.errors import AnalysisError


def _line(record: dict) -> str:
    if "error" in record:
        return f"{record['file']}: error: {record['error']}"
    level = record.get("level") or {}
    rates = (level.get("rates") or {}).get("sentence")
    # the first reason restates the level and its meaning: the line gives the level, its rates, then the evidence
    reasons = "; ".join(record["reasons"][1:4] if level else record["reasons"][:3])
    members = ", ".join(f"{d['name']} {d['fake_probability']:.3f}" for d in record.get("detectors", []))
    head = f"{level['label']} (verdict {record['verdict']})" if level else record["verdict"]
    return (f"{record['file']}: {head}{f' - {rates}' if rates else ''} (fake probability "
            f"{record['fake_probability']:.3f} [{members}], metadata score {record['metadata_score']:.2f}) - {reasons}")


def predict(files: list[str], as_json: bool, maps_dir: str | None) -> int:
    """Analyse each file, print one line each; exit status 1 if any file could not be analysed."""
    from worker.pipeline import Resources, analyze_file

    res = Resources(Settings.from_env())
    failed = 0
    try:
        for name in files:
            path = Path(name)
            record: dict = {"file": name}
            try:
                if not path.is_file():
                    raise AnalysisError("no such file")
                record["sha256"] = sha256_file(path)
                derived = Path(maps_dir) / record["sha256"] if maps_dir else None
                outcome = analyze_file(path, res, derived_dir=derived)
                record |= {k: outcome.result[k] for k in ("fake_probability", "metadata_score", "verdict", "level", "reasons",
                                                           "model_version", "detectors", "evidence", "robustness")}
            except AnalysisError as exc:
                record["error"] = str(exc)
                failed += 1
            print(json.dumps(record, default=str) if as_json else _line(record), flush=True)
    finally:
        res.close()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `deepfake-detect` command."""
    parser = argparse.ArgumentParser(prog="deepfake-detect", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="analyse image files in this process")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--maps-dir", help="also write thumbnails and forensic maps under this folder")
    s = sub.add_parser("submit", help="upload files, folders or ZIPs to a server as batches, or send image links; "
                                      "write the results")
    s.add_argument("paths", nargs="*", metavar="FILE|DIR|ZIP")
    s.add_argument("--url", action="append", default=[], metavar="URL", dest="urls",
                   help="an image link for the server to fetch and analyse (repeat for more)")
    s.add_argument("--server", required=True, help="e.g. http://127.0.0.1:8000")
    s.add_argument("--key", default=os.environ.get("DEEPFAKE_API_KEY"), help="API key (or $DEEPFAKE_API_KEY)")
    s.add_argument("--out", help="results file: .csv or .jsonl (default: CSV on stdout)")
    s.add_argument("--name", help="batch name")
    s.add_argument("--batch-size", type=int, default=100, help="files per batch request (default 100)")
    args = parser.parse_args(argv)
    if args.command == "submit":
        from client.submit import submit

        if not args.paths and not args.urls:
            s.error("give files, folders or ZIPs, or --url URL")
        failed = submit(args.paths, args.server, args.key, args.out, args.name, args.batch_size, urls=args.urls)
        return 1 if failed else 0
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:  # set: the user wants TensorFlow's log, as it comes
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        _import_tensorflow_quietly()
    return predict(args.files, args.json, args.maps_dir)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 pointed at /dev/null, so its answer is all the command prints.

    Its C++ start-up notices (absl's "before absl::InitializeLog()" warning, oneDNN's) are written straight
    to the descriptor while the module loads, whatever TF_CPP_MIN_LOG_LEVEL says. A failed import still raises
    here, with descriptor 2 back in place for its traceback.
    """
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


if __name__ == "__main__":
    sys.exit(main())
