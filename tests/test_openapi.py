"""The OpenAPI document is valid and true: real responses validate against it."""
from __future__ import annotations

import io
import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.conftest import camera_like_jpeg, make_jpeg
from tests.live import Worker, app_for, isolated, wait_final
from web.core.openapi import document


def spec_of(app) -> dict:
    with app.test_request_context():
        return document()


def checker(app):
    """check(response, path, method): validate a response against the app's document."""
    return lambda resp, path, method: _check(spec_of(app), resp, path, method)


def _check(spec: dict, resp, path: str, method: str) -> None:
    """Validate a response against the documented schema for its path, method and status."""
    operation = spec["paths"][path][method]
    documented = operation["responses"].get(str(resp.status_code))
    assert documented, f"{method.upper()} {path} answered {resp.status_code}, which the document does not list"
    content = documented.get("content", {}).get("application/json")
    if content:
        Draft202012Validator({"components": spec["components"], **content["schema"]}).validate(resp.get_json())


def test_document_is_valid_openapi_and_served(app, client):
    served = client.get("/api/v1/openapi.json").get_json()
    validate(served)
    assert served == spec_of(app)


def test_every_api_route_is_documented(app):
    # the documentation page beside the document (web/core/apidocs.py) is not an operation of the API
    routes = {re.sub(r"<(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/v1") and not r.endpoint.startswith("apidocs.")}
    assert routes == set(spec_of(app)["paths"])


def test_the_document_is_generated_from_the_request_models(app):
    """Lengths come from the columns, enums from the registries: what the document says is what is enforced."""
    from shared.evidence import Kind
    from shared.models import Batch

    spec = spec_of(app)
    header = {p["name"]: p for p in spec["paths"]["/api/v1/batches"]["post"]["parameters"]}["Idempotency-Key"]
    assert header["schema"]["maxLength"] == Batch.__table__.c.idempotency_key.type.length
    kinds = spec["components"]["schemas"]["Evidence"]["properties"]["kind"]["enum"]
    assert kinds == list(Kind.__args__)


def test_real_responses_match_the_document(app, client):
    check = checker(app)
    upload = lambda: client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg")},  # noqa: E731
                                 content_type="multipart/form-data")
    created = upload()
    check(created, "/api/v1/analyses", "post")
    analysis_id = created.get_json()["id"]
    check(client.get(f"/api/v1/analyses/{analysis_id}"), "/api/v1/analyses/{analysis_id}", "get")
    check(client.get("/api/v1/analyses/nope"), "/api/v1/analyses/{analysis_id}", "get")
    check(client.get("/api/v1/analyses?verdict=fake&sort=-fake_probability"), "/api/v1/analyses", "get")
    check(client.get("/api/v1/analyses?verdict=bogus"), "/api/v1/analyses", "get")
    check(client.post("/api/v1/analyses", data={"file": (io.BytesIO(b"text"), "t.jpg")},
                      content_type="multipart/form-data"), "/api/v1/analyses", "post")
    batch = client.post("/api/v1/batches", data={"files": [(io.BytesIO(make_jpeg()), "b.jpg"),
                                                           (io.BytesIO(b"x"), "bad.bin")]},
                        content_type="multipart/form-data")
    check(batch, "/api/v1/batches", "post")
    batch_id = batch.get_json()["id"]
    check(client.get(f"/api/v1/batches/{batch_id}"), "/api/v1/batches/{batch_id}", "get")
    check(client.get("/api/v1/batches"), "/api/v1/batches", "get")
    check(client.get(f"/api/v1/batches/{batch_id}/results?format=xml"), "/api/v1/batches/{batch_id}/results", "get")
    check(client.delete(f"/api/v1/batches/{batch_id}"), "/api/v1/batches/{batch_id}", "delete")
    check(client.delete(f"/api/v1/analyses/{analysis_id}"), "/api/v1/analyses/{analysis_id}", "delete")


@pytest.mark.slow
def test_a_done_analysis_and_its_batch_match_the_document(database_url, tmp_path):
    """A real worker finishes the analysis, so the `done` shapes (evidence, result, similar) are checked too."""
    overrides = isolated(tmp_path, "openapi", database_url)
    with app_for(overrides) as app:
        worker = Worker(overrides).wait_ready()
        try:
            client, check = app.test_client(), checker(app)
            photo = camera_like_jpeg(tmp_path / "camera.jpg").read_bytes()
            batch = client.post("/api/v1/batches", data={"files": [(io.BytesIO(photo), "camera.jpg")]},
                                content_type="multipart/form-data").get_json()
            status_url = client.get(batch["status_url"]).get_json()["items"][0]["status_url"]
            body = wait_final(lambda url: client.get(url).get_json(), status_url)
            assert body["status"] == "done", body.get("error") or "".join(worker.log)[-3000:]
            check(client.get(status_url), "/api/v1/analyses/{analysis_id}", "get")
            check(client.get(status_url + "?private=true"), "/api/v1/analyses/{analysis_id}", "get")
            check(client.get(status_url + "/report"), "/api/v1/analyses/{analysis_id}/report", "get")
            check(client.get("/api/v1/analyses?status=done"), "/api/v1/analyses", "get")
            check(client.get(batch["status_url"]), "/api/v1/batches/{batch_id}", "get")
            results = client.get(batch["results_url"] + "?format=json")
            assert results.status_code == 200 and results.get_json()[0]["verdict"] == body["verdict"]
        finally:
            worker.stop()


def test_a_file_in_the_wrong_part_is_a_400_naming_the_field_on_every_operation(app, client):
    """A part the operation does not expect holds a file object: the error names the field, never a 500."""
    assert client.post("/api/v1/analyses", data={"image": (io.BytesIO(make_jpeg()), "a.jpg")}).get_json() == \
        {"error": "no image was sent: use the multipart field 'file' for a file, or the field 'url' (a form field, "
                  'or the JSON body {"url": "https://…"}) for a link', "status": 400}
    for path, operations in spec_of(app)["paths"].items():
        url = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
        for method in set(operations) & {"post", "put", "patch", "delete"}:
            resp = client.open(url, method=method.upper(), data={"image": (io.BytesIO(make_jpeg()), "a.jpg")})
            assert resp.status_code < 500, (method, path, resp.get_json())
            assert resp.is_json and "error" in resp.get_json(), (method, path)
