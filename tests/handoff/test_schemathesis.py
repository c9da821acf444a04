"""Schemathesis against the running service's own OpenAPI description: every operation, with
data that fits the spec and data that does not, authenticated as the spec says (service token,
an agent's session, an admin's where an operation needs more than an agent). No answer may be a
5xx, and every answer must be one the spec documents, with its content type, headers and schema.

Bounded: a few examples per operation and mode, generation only (no shrinking), so it finishes in
a couple of minutes on a busy machine.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import API_TOKEN, HandoffService

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 8  # per generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ADMIN = ("admin@lumen.example", "admin-password-for-fuzzing")
AGENT = "dana@lumen.example"
HTTP_SECONDS = 30


@dataclass(frozen=True)
class Target:
    service: HandoffService
    tokens: dict[str, str]  # role -> session token
    conversation_ids: list[str]

    def log_in(self, email: str, password: str) -> str:
        request = urllib.request.Request(
            f"{self.service.url}/api/v1/auth/login",
            data=json.dumps({"email": email, "password": password}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=HTTP_SECONDS) as answer:
            return json.loads(answer.read())["token"]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    workdir: Path = tmp_path_factory.mktemp("schemathesis")
    service = HandoffService(workdir, "http://127.0.0.1:9")  # no connector: deliveries fail
    # Fuzzed logins fail by the hundred from one address; the throttle has its own tests.
    service.env["LOGIN_FAILURES_PER_ADDRESS"] = "1000000"
    # every feature on, so that a 503 "not configured" never stands in for the real answer
    service.env["SECURE_FORM_KEY"] = "schemathesis-secure-form-key-0123456789"
    service.env["ERASURE_TOKEN"] = "schemathesis-erasure-token"
    service.seed_demo()
    service.cli("create-admin", "--email", ADMIN[0], "--name", "Ada Admin", "--password", ADMIN[1])
    service.start()
    try:
        target = Target(service, {}, [])
        target.tokens["agent"] = target.log_in(AGENT, service.passwords[AGENT])
        target.tokens["admin"] = target.log_in(*ADMIN)
        target.conversation_ids.extend(service.intake(handoff_request())["id"] for _ in range(3))
        yield target
    finally:
        service.stop()


def headers_for(target: Target, spec: dict[str, Any], case: Case) -> dict[str, str]:
    """The bearer the operation's security asks for (none for login, health, …)."""
    operation = case.operation.definition.raw
    schemes = {name for entry in operation.get("security", spec["security"]) for name in entry}
    if "serviceToken" in schemes:
        token = API_TOKEN
    elif "session" in schemes:
        if case.operation.path == "/api/v1/auth/logout":  # would end the shared session
            token = target.log_in(AGENT, target.service.passwords[AGENT])
        else:
            role = operation.get("x-required-role", "agent")
            token = target.tokens["agent" if role == "agent" else "admin"]
    else:
        return {}
    return {"Authorization": f"Bearer {token}"}


def fuzz(
    target: Target, spec: dict[str, Any], operation: APIOperation, mode: GenerationMode
) -> Counter[int]:
    """Run the operation's examples; the statuses it answered (raises on the first failure)."""
    answered: Counter[int] = Counter()
    cases = st.tuples(
        operation.as_strategy(generation_mode=mode),
        st.sampled_from([None, *target.conversation_ids]),
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def run(drawn: tuple[Case, str | None]) -> None:
        case, known_id = drawn
        if known_id is not None and "conversation_id" in (case.path_parameters or {}):
            case.path_parameters["conversation_id"] = known_id  # reach past the 404s
        response = case.call_and_validate(
            headers=headers_for(target, spec, case), checks=CHECKS, timeout=HTTP_SECONDS
        )
        answered[response.status_code] += 1

    run()
    return answered


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented_and_never_5xx(
    target: Target, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{target.service.url}/api/openapi.json")
    failures: list[str] = []
    answered: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            answered[operation.label] = fuzz(target, schema.raw_schema, operation, mode)
        except Unsatisfiable:  # no parameters or body: nothing there to get wrong
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, FailureGroup) as error:  # a FailureGroup is no Exception
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
    if mode is GenerationMode.POSITIVE:  # the drawn ids reach real conversations, not just 404s
        assert answered["GET /api/v1/conversations/{conversation_id}"][200] > 0, answered
