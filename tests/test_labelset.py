"""`python -m models.evaluate --labels EXPORT --files DIR`: reviewed files from a labels export become a test set."""
from __future__ import annotations

import io
import json
import shutil

import pytest

from models import evaluate, labelset
from tests.conftest import make_jpeg
from tests.test_detector import tiny  # noqa: F401 - the fixture: a tiny Keras detector


def reviewed(app, client, tmp_path):
    """Three uploads labelled real, fake and unsure through the API; both exports written to tmp_path."""
    ids = {}
    for name, colour, lab in (("-dash.jpg", (200, 30, 30), "real"), ("b.jpg", (30, 200, 30), "fake"),
                              ("c.jpg", (30, 30, 200), "unsure")):
        body = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg((300, 300), colour)), name)},
                           content_type="multipart/form-data").get_json()
        assert client.post(f"/api/v1/analyses/{body['id']}/labels", json={"label": lab}).status_code == 201
        ids[name] = body["sha256"]
    for fmt in ("csv", "jsonl"):
        with client.get(f"/api/v1/labels/export?format={fmt}") as resp:  # closing a stream ends its request
            (tmp_path / f"labels.{fmt}").write_bytes(resp.get_data())
    return ids


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_files_are_found_by_sha256_in_the_storage_layout(app, client, tmp_path, fmt):
    sha = reviewed(app, client, tmp_path)
    found = labelset.load(tmp_path / f"labels.{fmt}", app.config["SETTINGS"].upload_dir)
    assert sorted((i.group, i.label) for i in found.items) == sorted([(sha["-dash.jpg"], 0), (sha["b.jpg"], 1)])
    assert found.skipped == 1 and found.missing == []
    assert all(i.path.endswith(i.group) for i in found.items)


def test_files_are_found_by_name_only_when_the_sha256_matches(app, client, tmp_path):
    sha = reviewed(app, client, tmp_path)
    uploads, flat = app.config["SETTINGS"].upload_dir, tmp_path / "flat"
    (flat / "nested").mkdir(parents=True)
    shutil.copy(labelset.storage.path_for(uploads, sha["-dash.jpg"]), flat / "nested" / "-dash.jpg")  # by name
    (flat / "b.jpg").write_bytes(make_jpeg((300, 300), (1, 2, 3)))  # same name, another file: not used
    found = labelset.load(tmp_path / "labels.csv", flat)  # the CSV guards "-dash.jpg" as "'-dash.jpg"
    assert [(i.path, i.label) for i in found.items] == [(str(flat / "nested" / "-dash.jpg"), 0)]
    assert [r["sha256"] for r in found.missing] == [sha["b.jpg"]]
    shutil.copy(labelset.storage.path_for(uploads, sha["b.jpg"]), flat / sha["b.jpg"])  # DIR/<sha256>
    assert len(labelset.load(tmp_path / "labels.jsonl", flat).items) == 2


def test_evaluate_cli_scores_the_reviewed_files(app, client, tmp_path, tiny, capsys):  # noqa: F811
    reviewed(app, client, tmp_path)
    out, plot = tmp_path / "figures.json", tmp_path / "roc.png"
    argv = ["--labels", str(tmp_path / "labels.jsonl"), "--files", str(app.config["SETTINGS"].upload_dir),
            "--model", str(tiny), "--plot", str(plot), "--json", str(out)]
    assert evaluate.main(argv) == 0
    figures = json.loads(out.read_text())
    assert (figures["n"], figures["n_real"], figures["n_fake"]) == (2, 1, 1)
    assert "2 files found, 0 not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate.main(["--labels", str(tmp_path / "labels.jsonl")])  # no --files
