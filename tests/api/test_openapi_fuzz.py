"""schemathesis over the whole OpenAPI document: no input makes a server error,
and every answer is what the document says (status, content type, schema,
headers).

Run as an admin (an account API key) and as a realm token scoped to one host,
each with valid (``positive``) and invalid (``negative``) data, a bounded
number of examples per operation with a fixed seed (``derandomize``), so a
run is the same every time and takes about a minute. Operations that name a
zone are fuzzed once more with the zone that exists, to reach the record
code behind it. ``DNSGATE_FUZZ_EXAMPLES`` raises the count for a longer run
by hand.

schemathesis' pytest plugin is off (pyproject ``addopts``): its pytest hooks
do not work with this pytest, so each operation's test is built here with
its Python API. Only the SQLite pass of ``scripts/test`` runs this file.
"""

from __future__ import annotations

import contextlib
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("DNSGATE_FUZZ_EXAMPLES", "20"))
ZONE = "example.test"


@pytest.fixture(params=["admin", "token"])
async def credential(request, world, admin, zone, alice) -> str:
    """An admin's API key, or a token of alice's host realm ``home.example.test``."""
    if request.param == "admin":
        return admin
    return world.token(world.realm(alice, zone, "home")).secret


def _fuzz(operation, headers, mode, examples, **fixed):
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no parameters)
        run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_answers_as_documented(app, credential, mode):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {credential}"}
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:
        runs = [{}]
        if any(p.name == "zone" for p in operation.path_parameters):
            runs.append({"path_parameters": {"zone": ZONE}})
        for fixed in runs:
            try:
                _fuzz(operation, headers, mode, EXAMPLES, **fixed)
            except Exception as exc:
                failures.append(f"{operation.label} {fixed}: {exc}")
    assert not failures, "\n\n".join(failures)
