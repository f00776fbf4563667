"""Requests the server refuses, each with a 4xx that says why: never a 500, never a body read whole."""

from __future__ import annotations

import httpx
import pytest

from agent import TASK_TYPE
from payloads import request_body

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app

DEEP = "[" * 50_000 + "]" * 50_000
HUGE_INT = "1" * 5_000
SURROGATE = '{"input": "\\ud800", "messages": [{"role": "user", "content": "\\ud800"}]}'


@pytest.mark.parametrize(
    ("content", "content_type", "status", "says"),
    [
        (DEEP, "application/json", 400, "nested"),
        ('{"input": [], "messages": [], "n": ' + HUGE_INT + "}", "application/json", 400, "not valid JSON"),
        (SURROGATE, "application/json", 400, "surrogate"),
        ('{"input": "hi"}', "text/plain", 415, "application/json"),
        ("input=hi", "application/x-www-form-urlencoded", 415, "application/json"),
    ],
    ids=["deep", "huge-integer", "lone-surrogate", "text-plain", "form"],
)
def test_unsafe_bodies_get_a_4xx_that_says_why(
    client: httpx.Client, content: str, content_type: str, status: int, says: str
) -> None:
    response = client.post("/invocations", content=content, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    assert says in response.json()["error"]["message"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: httpx.Client) -> None:
    body = request_body(TASK_TYPE, "x" * (10 * 1024 * 1024))  # 10 MiB; the default limit is 1 MiB
    response = client.post("/invocations", json=body)
    assert response.status_code == 413
    assert "MAX_REQUEST_BYTES" in response.json()["error"]["message"]


def test_a_chunked_body_over_the_limit_is_refused(client: httpx.Client) -> None:
    def chunks() -> object:
        yield b'{"input": "'
        for _ in range(2048):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/invocations", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_the_openapi_document_describes_the_request_body(client: httpx.Client) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/invocations"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    field = "input" if TASK_TYPE == "agent/v1/responses" else "messages"
    assert field in schema["properties"] and "stream" in schema["properties"]
