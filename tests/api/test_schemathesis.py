"""Property-based conformance: schemathesis generates requests, valid and invalid, for every
operation of /api/v1/openapi.json and checks each response with its default checks: no
5xx, every status, header, content type and body is one the document promises, invalid
data is rejected, valid data accepted, and the key is really required. Bounded: 25
examples per operation and mode."""

from __future__ import annotations

import re
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from giftcerts.api import idempotency
from giftcerts.api.operations import OPERATIONS

# Operations whose bodies have rules the schema cannot state (a blank name, an email's
# syntax, the workspace's amount bounds): schema-valid data may get a 422 there.
RULES_IN_CORE = {"createOrder", "createCertificate", "voidCertificate"}


@pytest.fixture
def schema(app, tenant):
    # Some real data, so that generated ids now and then find something.
    for _ in range(3):
        tenant.certificate(amount="50")
    for _ in range(3):
        tenant.order(total=90000)
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


def rule_refusals_name_body_fields(op):
    def check(ctx, response, case):
        """A 422 for schema-valid data is a validation_error about the body's own fields."""
        if response.status_code == 422:
            error = response.json()["error"]
            assert error["code"] == "validation_error", error
            assert set(error["fields"]) <= set(op.body.model_fields), error
    return check


def own_idempotency_key(case) -> None:
    """Generated keys repeat ("0", "A"...) across different bodies, and a reused key is rightly
    refused (see test_idempotency.py); so each case with a valid key gets a key of its own.
    An invalid key (negative mode) is left as generated: it must be refused."""
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str) and re.fullmatch(idempotency.KEY_PATTERN[1:-1], key) and len(key) <= 200:
        case.headers["Idempotency-Key"] = f"{key}-{uuid.uuid4().hex}"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_every_operation_conforms_to_its_document(schema, tenant, op, mode):
    operation = schema[op.path][op.method]
    auth = {"Authorization": f"Bearer {tenant.key}"}
    options = {}
    if op.name in RULES_IN_CORE and mode is GenerationMode.POSITIVE:
        options = {"excluded_checks": [positive_data_acceptance],
                   "additional_checks": [rule_refusals_name_body_fields(op)]}

    # A generated query parameter whose value is None or an empty list is silently dropped by the
    # HTTP client (`{"cursor": 1, "": []}` is sent as `?cursor=1`), so such a "negative" case
    # reaches the server as a valid request: leave those out.
    cases = operation.as_strategy(generation_mode=mode).filter(
        lambda case: not any(value is None or value == [] for value in (case.query or {}).values()))

    @given(case=cases)
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def conforms(case):
        own_idempotency_key(case)
        case.call_and_validate(headers=auth, **options)

    conforms()
