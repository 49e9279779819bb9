"""The OpenAPI 3.1 document of API v1, served at /api/v1/openapi.json and checked against real responses."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from shared import outbox
from web.api import bp

NULLABLE_NUM = {"type": ["number", "null"]}
NULLABLE_STR = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "error")
ERRORS = {code: ERROR for code in ("400", "401", "404", "409", "413", "415", "429", "503")}
PAGE_PARAMS = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000}},
               {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}]
FILTER_PARAMS = [
    {"name": "verdict", "in": "query", "schema": {"enum": ["real", "uncertain", "fake"]}},
    {"name": "status", "in": "query", "schema": {"enum": ["queued", "running", "done", "failed"]}},
    {"name": "filename", "in": "query", "schema": {"type": "string"}},
    {"name": "batch", "in": "query", "schema": {"type": "string"}},
    {"name": "has_provenance", "in": "query", "schema": {"enum": ["true", "false"]}},
    {"name": "created_after", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "created_before", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "sort", "in": "query", "schema": {"enum": [p + k for k in ("created_at", "fake_probability", "filename",
                                                                          "verdict") for p in ("", "-")]}},
]
ID_PARAM = lambda name: {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}  # noqa: E731

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "status"],
              "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
    "Evidence": {"type": "object", "required": ["kind", "source", "effect", "reason"], "properties": {
        "kind": {"enum": ["c2pa", "iptc_digital_source_type", "generator_metadata", "watermark", "metadata_score",
                          "model", "robustness", "forensic_map"]},
        "source": {"type": "string"}, "value": {}, "effect": {"enum": ["fake", "real", "neutral"]},
        "reason": {"type": "string"}, "weight": {"type": "number"}, "strong": {"type": "boolean"}}},
    "AnalysisSummary": {"type": "object", "required": ["id", "status", "filename", "sha256", "created_at",
                                                       "status_url"], "properties": {
        "id": {"type": "string"}, "status": {"enum": ["queued", "running", "done", "failed"]},
        "filename": {"type": "string"}, "sha256": {"type": "string"}, "created_at": {"type": "string"},
        "finished_at": NULLABLE_STR, "verdict": {"enum": ["real", "uncertain", "fake", None]},
        "fake_probability": NULLABLE_NUM, "metadata_score": NULLABLE_NUM, "batch_id": NULLABLE_STR,
        "has_provenance": {"type": "boolean"}, "reused_from": NULLABLE_STR, "status_url": {"type": "string"},
        "page_url": {"type": "string"}}},
    "Analysis": {"allOf": [_ref("AnalysisSummary"), {"type": "object", "properties": {
        "media_type": {"type": "string"}, "size_bytes": {"type": "integer"},
        "width": {"type": ["integer", "null"]}, "height": {"type": ["integer", "null"]},
        "megapixels": NULLABLE_NUM, "started_at": NULLABLE_STR, "attempts": {"type": "integer"},
        "model_version": NULLABLE_STR, "error": {"type": "string"}, "purged_at": {"type": "string"},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "evidence": {"type": "array", "items": _ref("Evidence")},
        "result": {"type": "object"},
        "similar": {"type": "array", "items": {"type": "object", "required": ["id", "distance_bits"]}}}}]},
    "AnalysisList": {"type": "object", "required": ["items", "page", "per_page", "total", "pages"], "properties": {
        "items": {"type": "array", "items": _ref("AnalysisSummary")}, "page": {"type": "integer"},
        "per_page": {"type": "integer"}, "total": {"type": "integer"}, "pages": {"type": "integer"}}},
    "Counts": {"type": "object", "required": ["queued", "running", "done", "failed"],
               "additionalProperties": {"type": "integer"}},
    "Batch": {"type": "object", "required": ["id", "status", "total", "counts", "progress", "status_url",
                                             "results_url"], "properties": {
        "id": {"type": "string"}, "name": NULLABLE_STR, "created_at": {"type": "string"},
        "finished_at": NULLABLE_STR, "status": {"enum": ["running", "done"]}, "total": {"type": "integer"},
        "counts": _ref("Counts"), "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "callback_url": NULLABLE_STR, "status_url": {"type": "string"}, "results_url": {"type": "string"},
        "page_url": {"type": "string"},
        "items": {"type": "array", "items": _ref("AnalysisSummary")}, "page": {"type": "integer"},
        "per_page": {"type": "integer"},
        "webhook_deliveries": {"type": "array", "items": {"type": "object", "required": ["attempt", "succeeded"],
                               "properties": {"event_id": NULLABLE_STR, "error": {
                                   "type": ["string", "null"],
                                   "description": "HTTP <status>, or one of: " + ", ".join(outbox.Error.ALL)}}}}}},
    "BatchList": {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": _ref("Batch")}, "page": {"type": "integer"},
        "per_page": {"type": "integer"}}},
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "deepfake-detect API", "version": "1",
             "description": "Is an image a real photograph or AI-generated? Submit images, poll analyses."},
    "components": {"schemas": SCHEMAS, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}, {}],
    "paths": {
        "/api/v1/analyses": {
            "post": {"summary": "Submit one image", "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary"}, "callback_url": {"type": "string"}}}}}},
                     "responses": {"202": _json(_ref("AnalysisSummary"), "accepted and queued"), **ERRORS}},
            "get": {"summary": "List past analyses", "parameters": PAGE_PARAMS + FILTER_PARAMS,
                    "responses": {"200": _json(_ref("AnalysisList"), "a page of analyses"), **ERRORS}}},
        "/api/v1/analyses/{analysis_id}": {
            "parameters": [ID_PARAM("analysis_id")],
            "get": {"summary": "Status and result of an analysis (?private=true includes GPS and serial numbers)",
                    "parameters": [{"name": "private", "in": "query", "schema": {"enum": ["true", "false"]}}],
                    "responses": {"200": _json(_ref("Analysis"), "the analysis"), **ERRORS}},
            "delete": {"summary": "Delete an analysis and its files",
                       "responses": {"204": {"description": "deleted"}, **ERRORS}}},
        "/api/v1/analyses/{analysis_id}/files/{name}": {
            "parameters": [ID_PARAM("analysis_id"), ID_PARAM("name")],
            "get": {"summary": "A thumbnail (thumbnail.jpg) or forensic map (ela.png, noise.png, attention.png)",
                    "responses": {"200": {"description": "the image", "content": {
                        "image/png": {"schema": {"type": "string", "format": "binary"}},
                        "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}, **ERRORS}}},
        "/api/v1/batches": {
            "post": {"summary": "Submit many images or one ZIP", "parameters": [
                {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200}}],
                     "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                         "type": "object", "properties": {
                             "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                             "name": {"type": "string"}, "callback_url": {"type": "string"}}}}}},
                     "responses": {"202": _json(_ref("Batch"), "accepted"),
                                   "200": _json(_ref("Batch"), "replayed: same Idempotency-Key and body"),
                                   **ERRORS}},
            "get": {"summary": "List batches", "parameters": PAGE_PARAMS,
                    "responses": {"200": _json(_ref("BatchList"), "a page of batches"), **ERRORS}}},
        "/api/v1/batches/{batch_id}": {
            "parameters": [ID_PARAM("batch_id")],
            "get": {"summary": "Progress of a batch with a page of its analyses", "parameters": PAGE_PARAMS,
                    "responses": {"200": _json(_ref("Batch"), "the batch"), **ERRORS}},
            "delete": {"summary": "Delete a batch, its analyses and files",
                       "responses": {"204": {"description": "deleted"}, **ERRORS}}},
        "/api/v1/batches/{batch_id}/results": {
            "parameters": [ID_PARAM("batch_id"),
                           {"name": "format", "in": "query", "schema": {"enum": ["csv", "json", "jsonl"]}}],
            "get": {"summary": "Export all results", "responses": {"200": {"description": "the results", "content": {
                "text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "array"}},
                "application/x-ndjson": {"schema": {"type": "string"}}}}, **ERRORS}}},
        "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [{}],
                                         "responses": {"200": {"description": "OpenAPI 3.1 document"}}}},
    },
}


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document (no key needed)."""
    return jsonify(SPEC)
