"""Schemathesis fuzzes every API operation from the OpenAPI document: no 5xx, responses match the document."""
from __future__ import annotations

import uuid

import pytest
import redis
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from hypothesis import HealthCheck, given, settings

from shared.migrate import upgrade
from tests.conftest import REDIS_URL


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'fuzz.db'}"
    upgrade(url)
    from web import create_app

    queue = f"fuzz-{uuid.uuid4().hex[:8]}"
    app = create_app({"data_dir": tmp, "database_url": url, "upload_dir": tmp / "uploads", "redis_url": REDIS_URL,
                      "queue": queue, "secret_key": "fuzz"})
    yield app
    app.extensions["db_engine"].dispose()
    redis.Redis.from_url(REDIS_URL).delete(queue)


def test_every_api_operation_survives_fuzzing(fuzz_app):
    """Each operation gets generated requests (valid and invalid); any 5xx or schema violation fails."""
    api = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            # A schema-valid upload may still be refused: "any bytes" cannot say "an image" in OpenAPI.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        fuzz()
