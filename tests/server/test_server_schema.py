"""Property-based requests generated from the server's own OpenAPI spec (schemathesis) find no 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.server.test_server import serve

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")


@pytest.mark.slow
def test_no_request_from_the_openapi_spec_gets_a_5xx(tmp_path: Path) -> None:
    with serve(tmp_path, max_upload_mb=1, max_audio_seconds=5, max_queue=4) as srv:
        schema = schemathesis.openapi.from_url(f"{srv.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/v1/health", "/v1/models", "/v1/jobs", "/v1/jobs/{job_id}/track"}
        failures: list[str] = []
        for operation in operations:

            @settings(
                max_examples=10,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def exercise(case) -> None:
                response = case.call(base_url=srv.url, timeout=30)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text}")

            exercise()
        with srv.client() as c:
            for job in c.get("/v1/jobs").json():
                c.delete(f"/v1/jobs/{job['id']}")
    assert not failures, "\n".join(failures[:5])
