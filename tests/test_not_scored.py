"""Numbers the verdict did not use: an image too small for the detector is "not scored" in its row, the API, the
history, the batch poll and the batch downloads, never "82 % fake"; its score stays in the evidence."""
from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

from shared.models import Analysis, Batch, Status
from worker.pipeline import _finish, _Prepared

DETECTOR = SimpleNamespace(thresholds={"fake": 0.5, "real": 0.2}, input_size=224, version="v" * 64, meta={})


def finish(width: int, height: int, p: float = 0.82):
    prep = _Prepared(tags={}, width=width, height=height, variants={}, map_src=None, phash="0" * 16,
                     meta_score=0.5, meta_evidence=[], evidence=[], timings={})
    scores = SimpleNamespace(fake_probability=p, line=[{"perturbation": "original", "fake_probability": p,
                                                        "crop": "first"}],
                             detectors=[{"name": "a", "version": "1" * 64, "fake_probability": p, "weight": 1.0}])
    return _finish(prep, scores, DETECTOR)


def test_the_pipeline_keeps_no_row_score_for_an_image_too_small_for_the_detector():
    small, large = finish(100, 80), finish(640, 480)
    assert small.fake_probability is None and small.result["scored"] is False
    assert small.result["fake_probability"] == 0.82  # the detectors' output is kept, marked as not used
    assert small.verdict != "fake"  # the verdict did not use it (shared/verdict.py, unchanged)
    assert large.fake_probability == 0.82 and large.result["scored"] is True and large.verdict == "fake"


def test_listings_and_downloads_say_not_scored(app, client):
    small = finish(100, 80)
    with app.extensions["db_sessionmaker"]() as s:
        batch = Batch(total=2)
        s.add(batch)
        s.flush()
        for name, outcome in (("tiny.jpg", small), ("big.jpg", finish(640, 480))):
            s.add(Analysis(filename=name, sha256=name.encode().hex().ljust(64, "0"), media_type="image/jpeg",
                           size_bytes=1, status=Status.DONE, verdict=outcome.verdict, level=outcome.level,
                           fake_probability=outcome.fake_probability, result=outcome.result, batch_id=batch.id))
        s.add(Analysis(filename="waiting.jpg", sha256="9" * 64, media_type="image/jpeg", size_bytes=1))
        s.commit()
        batch_id = batch.id
    items = {i["filename"]: i for i in client.get(f"/batches/{batch_id}/status").get_json()["items"]}
    assert items["tiny.jpg"]["scored"] is False and items["tiny.jpg"]["fake_probability"] is None
    assert items["big.jpg"]["scored"] is True and items["big.jpg"]["fake_probability"] == 0.82
    listed = {i["filename"]: i for i in client.get("/api/v1/analyses").get_json()["items"]}
    assert listed["waiting.jpg"]["scored"] is None  # not done: nothing to say yet
    history = client.get("/history").get_data(as_text=True)
    tiny_row = history[history.index("tiny.jpg"):history.index("</tr>", history.index("tiny.jpg"))]
    assert "not scored" in tiny_row and "82 %" not in tiny_row and "82 %" in history
    rows = {r["filename"]: r for r in csv.DictReader(io.StringIO(
        client.get(f"/batches/{batch_id}/results?format=csv").get_data(as_text=True)))}
    assert rows["tiny.jpg"]["fake_probability"] == "" and rows["tiny.jpg"]["scored"] == "False"
    assert rows["big.jpg"]["fake_probability"] == "0.82" and rows["big.jpg"]["scored"] == "True"
    jsonl = [json.loads(line) for line in client.get(f"/batches/{batch_id}/results?format=jsonl").get_data(
        as_text=True).splitlines()]
    assert {r["filename"]: r["scored"] for r in jsonl} == {"tiny.jpg": False, "big.jpg": True}
