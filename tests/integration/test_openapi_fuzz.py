"""schemathesis over the whole OpenAPI document, with an admin key, against the app served over HTTP.

A small budget per operation keeps it to a minute or two; ``tests/bench/bench_openapi_fuzz.py``
runs a larger one. Every answer must be below 500 and match what the document declares.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.api.errors import path_pattern
from pipeline.settings import KafkaSettings
from tests.integration.openapi_fuzz import fuzz
from tests.integration.served import served

EXAMPLES = 4


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, chdb_url: str, kafka_bootstrap: str
) -> Iterator[tuple[str, str]]:
    kafka_settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}", idempotence=False
    )
    with served(Path(tmp_path_factory.mktemp("served")), chdb_url, kafka_settings) as got:
        yield got


def test_every_operation_answers_below_500_as_documented(api: tuple[str, str]) -> None:
    problems, calls = fuzz(*api, EXAMPLES)

    assert calls > 100
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/realmmanagement/v1/acme/interfaces/org.x.Y/18446744073709551616", None),
        ("DELETE", "/realmmanagement/v1/acme/interfaces/org.x.Y/18446744073709551616", None),
        ("GET", "/realmmanagement/v1/acme/interfaces/org.x.Y/-1", None),
        ("POST", "/auth/v1/apikeys", {"data": {"expiry_days": 1e308}}),
        ("POST", "/auth/v1/apikeys", {"data": None}),
        ("POST", "/auth/v1/apikeys", {"data": []}),
        ("POST", "/auth/v1/apikeys", []),
    ],
)
def test_bad_input_found_by_fuzzing_is_a_4xx(
    api: tuple[str, str], method: str, url: str, body: object
) -> None:
    base_url, key = api

    answer = httpx.request(
        method, base_url + url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )

    assert 400 <= answer.status_code < 500, answer.text


def test_405_names_every_method_the_document_declares_at_that_path(api: tuple[str, str]) -> None:
    base_url, key = api
    paths = httpx.get(f"{base_url}/openapi.json", timeout=60).json()["paths"]
    wrong: list[str] = []
    for template in paths:
        url = re.sub(r"\{(\w+)\}", lambda m: "a/b" if m[1] == "path" else "x1", template)
        declared = {
            method.upper()
            for other, ops in paths.items()
            if path_pattern(other).fullmatch(url)
            for method in ops
        }
        undeclared = sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - declared)
        if not undeclared:
            continue
        answer = httpx.request(
            undeclared[0], base_url + url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        allow = {method.strip() for method in answer.headers.get("allow", "").split(",") if method.strip()}
        if answer.status_code != 405 or allow != declared:
            wrong.append(
                f"{undeclared[0]} {url}: {answer.status_code} Allow {sorted(allow)}, not {sorted(declared)}"
            )

    assert wrong == [], "\n".join(wrong)
