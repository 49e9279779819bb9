"""Schemathesis fuzzes every API operation from the OpenAPI document, on SQLite and PostgreSQL: no 5xx, responses
match the document."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.live import app_for, isolated


@pytest.fixture
def fuzz_app(tmp_path, database_url):
    with app_for(isolated(tmp_path, "fuzz", database_url)) as app:
        yield app


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
