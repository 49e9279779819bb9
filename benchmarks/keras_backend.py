"""The shipped detectors under another Keras 3 backend (JAX or PyTorch), on whatever device it finds.

Why: a GPU machine lent to this project had PyTorch and JAX but no TensorFlow, and TensorFlow (1.3 GB
installed) could not be carried to it; the detectors are standard Keras layers only, so Keras 3 itself
(a few MB) can run them there. This checks that the members give the same probabilities as the worker's
TensorFlow path and times their forward pass; it is not the service's benchmark (``benchmarks.run``).

    python -m benchmarks.keras_backend --make ref.npz            # here: real crops and TensorFlow's P
    KERAS_BACKEND=jax python -m benchmarks.keras_backend ref.npz # there: same P?  how fast?
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = ("content", "finetuned")
N = 32  # the worker's batch (Settings.model_batch)


def make(out: Path) -> None:
    """Up to N multiview crops of the sample photos and each member's P from worker.detector (TensorFlow)."""
    from PIL import Image

    from models import data, preprocess
    from worker.detector import load_member

    samples = sorted((data.shared_dir() / "samples").rglob("*.jp*g"))
    crops = []
    for p in samples:
        try:
            img = preprocess.normalise(Image.open(p).convert("RGB"))
        except OSError:
            continue
        crops.extend(preprocess.scored_crops("multiview", img, preprocess.INPUT_SIZE))
        if len(crops) >= N:
            break
    x = np.stack(crops[:N]).astype(np.uint8)
    ref = {m: load_member(str(ROOT / "models" / f"{m}.keras")).predict(x) for m in MEMBERS}
    np.savez_compressed(out, x=x, **ref)
    print(f"wrote {out}: {len(x)} crops, P " + ", ".join(f"{m} {ref[m].mean():.3f}" for m in MEMBERS))


def check(ref_path: Path, rounds: int = 20) -> dict:
    import keras

    ref = np.load(ref_path)
    x = ref["x"].astype(np.float32)
    out = {"backend": keras.backend.backend(), "devices": _devices(), "batch": len(x), "members": {}}
    for m in MEMBERS:
        model = keras.models.load_model(ROOT / "models" / f"{m}.keras", compile=False)
        p = np.asarray(model.predict_on_batch(x)).reshape(-1)  # first call: compiles
        times = {}
        for n in (1, len(x)):
            model.predict_on_batch(x[:n])
            t = []
            for _ in range(rounds):
                s = time.perf_counter()
                np.asarray(model.predict_on_batch(x[:n]))
                t.append(time.perf_counter() - s)
            times[n] = statistics.median(t)
        out["members"][m] = {"max_abs_diff_vs_tensorflow": float(np.abs(p - ref[m]).max()),
                             "batch1_ms": round(times[1] * 1e3, 2),
                             f"batch{len(x)}_ips": round(len(x) / times[len(x)], 1)}
    return out


def _devices() -> list[str]:
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices()]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(0)] if torch.cuda.is_available() else ["cpu"]
    return ["tensorflow"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ref", type=Path)
    ap.add_argument("--make", action="store_true", help="write the reference crops and TensorFlow's P")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    if args.make:
        make(args.ref)
        return 0
    res = check(args.ref)
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
