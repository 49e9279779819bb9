"""shared/signals.py is the one list of evidence kinds: the worker, the verdict, the OpenAPI document and the
result page all read it, so a new signal cannot be forgotten in one of them."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from shared import signals, verdict
from shared.models import Analysis, Status
from tests.live import ROOT


def emitted_kinds() -> set[str]:
    """Every evidence kind the worker's code can emit: item("kind", ...), kind="..." and kind defaults."""
    found: set[str] = set()
    for path in (ROOT / "worker").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "item" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    found.add(first.value)
                else:  # a variable kind must come from a parameter with a literal default (checked below)
                    assert isinstance(first, ast.Name) and first.id == "kind", f"{path}: item() with {ast.dump(first)}"
            if isinstance(node, ast.Call):
                found |= {k.value.value for k in node.keywords if k.arg == "kind" and isinstance(k.value, ast.Constant)}
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.args + node.args.kwonlyargs
                defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults \
                    + node.args.kw_defaults
                found |= {d.value for a, d in zip(args, defaults) if a.arg == "kind" and isinstance(d, ast.Constant)}
    return found


def test_every_kind_the_worker_emits_is_in_the_registry_and_none_is_stale():
    kinds = emitted_kinds()
    assert {"c2pa", "model", "forensic_map"} <= kinds  # the scan sees the pipeline and the signal modules
    assert kinds == set(signals.KINDS)


def test_registry_entries_are_consistent():
    assert len(signals.KINDS) == len(signals.SIGNALS)  # no kind listed twice
    assert signals.DECISIVE <= signals.PROVENANCE and signals.VOUCHES_REAL <= signals.PROVENANCE
    assert {s.group for s in signals.SIGNALS} <= set(signals.GROUPS)


def test_verdict_reads_the_registry_for_decisive_and_real_support():
    strong_free = [{"kind": k, "source": "s", "value": None, "effect": "real", "reason": f"{k} says real"}
                   for k in sorted(signals.VOUCHES_REAL)]
    for ev in strong_free:  # each vouching kind alone turns "leans real" into "real"
        assert verdict.fuse(0.05, 0.5, [ev]).label == "real", ev["kind"]
    weak_fake = {"kind": "watermark", "source": "s", "value": None, "effect": "fake", "reason": "weak"}
    assert verdict.fuse(0.05, 0.9, [weak_fake]).label == "uncertain"  # a decisive kind's fake blocks "real"


def test_found_provenance_ignores_checks_that_found_nothing():
    assert not signals.found_provenance({"kind": "watermark", "effect": "neutral"})
    assert signals.found_provenance({"kind": "watermark", "effect": "fake"})
    assert signals.found_provenance({"kind": "c2pa", "effect": "neutral"})
    assert not signals.found_provenance({"kind": "model", "effect": "fake"})


def test_openapi_kind_enum_is_the_registry(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["schemas"]["Evidence"]["properties"]["kind"]["enum"] == list(signals.KINDS)


def test_result_page_gets_the_registry_as_data(app, client):
    a = Analysis(filename="x.jpg", sha256="cd" * 32, media_type="image/jpeg", size_bytes=1, status=Status.DONE,
                 result={"evidence": [], "maps": [], "reasons": []})
    with app.extensions["db_sessionmaker"]() as s:
        s.add(a)
        s.commit()
        html = client.get(f"/analyses/{a.id}").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="signals">(.*?)</script>', html, re.S).group(1))
    assert data == signals.as_data()
    assert [g["name"] for g in data["groups"]] == list(signals.GROUPS)
    script = (ROOT / "web" / "static" / "result.js").read_text()
    assert not any(f"{kind}:" in script or f'"{kind}"' in script for kind in signals.KINDS if kind != "model")
