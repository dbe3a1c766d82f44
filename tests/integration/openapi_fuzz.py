"""schemathesis over the app's whole OpenAPI document: generated cases per operation, checked."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# No 5xx; status codes, content types and bodies as the document declares them.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz(base_url: str, key: str, examples: int) -> tuple[list[str], int]:
    """Run ``examples`` generated cases per operation: a line per failed check, and the calls made."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=60)
    headers = {"Authorization": f"Bearer {key}"}
    problems: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # failed checks, with the cases that show them
            found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
            problems.extend(f"{operation.label}: {_first_line(error)}" for error in found)
    return problems, calls


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:200]
