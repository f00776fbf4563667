"""The stateful server on each store, as real processes: sqlite and a real PostgreSQL.

What does not depend on the agent's framework or the app's task type, so it runs in one combination
(`pytest -m platform`): the OpenAI SDK's stateful API on Postgres too, the Conversations API, users kept
apart, `"store": false`, bad requests, SSE keep-alives, a store that cannot be reached, kill -9 and
SIGTERM during a background response, and two app processes sharing one Postgres.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from openai import BadRequestError, NotFoundError, OpenAI

from agent_server.background import WORKER_STOPPED
from agent_server.standin import StandInWorkspace, free_port
from agent_server.store import LOCAL_USER, open_store, settings_from_env
from conftest import RunningApp, start_app
from test_stateful_responses import SLOW, turn_of, wait_until
from test_stateful_responses import test_a_background_response_is_cancelled as check_cancel
from test_stateful_responses import test_a_background_response_is_polled_to_completion as check_background
from test_stateful_responses import (
    test_a_background_stream_cut_off_is_resumed_with_starting_after as check_resume,
)
from test_stateful_responses import (
    test_a_conversation_continued_with_previous_response_id_only as check_conversation,
)

if TYPE_CHECKING:
    from postgres_server import PostgresServer

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app
pytest_plugins = ["postgres_server"]  # fixture: postgres

BACKENDS = ["sqlite", "postgres"]
LEASE = {"AGENT_BACKGROUND_LEASE_SECONDS": "2"}  # a dead process's responses fail within seconds


def store_env(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """An empty store on `backend` (a new sqlite file, or a new Postgres schema)."""
    if backend == "sqlite":
        return {"AGENT_STORE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    server: PostgresServer = request.getfixturevalue("postgres")
    return {"AGENT_STORE_URL": server.url(), "AGENT_STORE_SCHEMA": server.new_schema_name()}


def model_env(workspace: StandInWorkspace) -> dict[str, str]:
    return {"DATABRICKS_HOST": workspace.url, "DATABRICKS_TOKEN": workspace.token}


def sdk(app: RunningApp, **headers: str) -> OpenAI:
    return OpenAI(base_url=app.url, api_key="unused", max_retries=0, timeout=60, default_headers=headers)


@pytest.fixture(scope="module", params=BACKENDS)
def stored_app(
    request: pytest.FixtureRequest, workspace: StandInWorkspace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    """The app on an empty store of each backend; idle streams send keep-alives every 0.2 s."""
    tmp_path = tmp_path_factory.mktemp(f"app-{request.param}")
    env = {**model_env(workspace), **store_env(request.param, tmp_path, request), "SSE_KEEPALIVE_S": "0.2"}
    running = start_app(tmp_path, env)
    yield running
    running.stop()


@pytest.fixture
def client(stored_app: RunningApp) -> Iterator[OpenAI]:
    with sdk(stored_app) as openai_client:
        yield openai_client


# -- the OpenAI SDK's stateful API on each store ------------------------------------------------------
def test_previous_response_id(client: OpenAI) -> None:
    check_conversation(client)


def test_background_polling(client: OpenAI) -> None:
    check_background(client)


def test_resuming_a_stream(stored_app: RunningApp, client: OpenAI) -> None:
    check_resume(stored_app, client)


def test_cancelling(client: OpenAI) -> None:
    check_cancel(client)


def test_idle_streams_send_keep_alive_comments(stored_app: RunningApp) -> None:
    body = {"model": "agent", "input": SLOW, "stream": True}
    with httpx.stream("POST", f"{stored_app.url}/responses", json=body, timeout=60) as response:
        lines = [line for line in response.iter_lines() if line]
    assert ": ping" in lines, "the 0.3 s pauses between words are longer than the keep-alive interval"
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith(("data: ", ": ")) for line in lines)


# -- the Conversations API -------------------------------------------------------------------------------
def test_the_conversations_api(client: OpenAI) -> None:
    conversation = client.conversations.create(
        metadata={"topic": "time"}, items=[{"type": "message", "role": "user", "content": "Hello"}]
    )
    assert conversation.object == "conversation" and conversation.metadata == {"topic": "time"}

    first = client.responses.create(model="agent", input="What time is it?", conversation=conversation.id)
    second = client.responses.create(model="agent", input="And now?", conversation={"id": conversation.id})
    assert (turn_of(first.output_text), turn_of(second.output_text)) == (2, 3), "Hello counts as a turn"
    assert second.conversation is not None and second.conversation.id == conversation.id

    items = list(client.conversations.items.list(conversation.id, order="asc"))
    users = [i.content[0].text for i in items if i.type == "message" and i.role == "user"]
    assert users == ["Hello", "What time is it?", "And now?"]
    assert [i.type for i in items].count("function_call") == 2
    assert items[-1].type == "message" and items[-1].content[0].text == second.output_text

    newest = client.conversations.items.list(conversation.id, limit=3)  # newest first
    assert [i.id for i in newest.data] == [i.id for i in items[::-1][:3]] and newest.has_more
    following = client.conversations.items.list(conversation.id, limit=3, after=newest.data[-1].id)
    assert [i.id for i in following.data] == [i.id for i in items[::-1][3:6]]
    assert client.conversations.items.retrieve(items[0].id, conversation_id=conversation.id).id == items[0].id

    added = client.conversations.items.create(
        conversation.id, items=[{"type": "message", "role": "user", "content": "A note."}]
    )
    assert [i.content[0].text for i in added.data] == ["A note."]
    client.conversations.items.delete(added.data[0].id, conversation_id=conversation.id)
    assert len(list(client.conversations.items.list(conversation.id))) == len(items)

    assert client.conversations.update(conversation.id, metadata={"topic": "clocks"}).metadata == {"topic": "clocks"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "clocks"}
    client.conversations.delete(conversation.id)
    with pytest.raises(NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(NotFoundError):
        client.responses.create(model="agent", input="hi", conversation=conversation.id)


def test_a_response_whose_conversation_is_deleted_meanwhile_fails_saying_so(client: OpenAI) -> None:
    conversation = client.conversations.create()
    running = client.responses.create(model="agent", input=SLOW, background=True, conversation=conversation.id)
    client.conversations.delete(conversation.id)
    failed = wait_until(lambda: _finished(client, running.id))
    assert failed.status == "failed" and failed.error is not None
    assert "could not be added to the conversation" in failed.error.message
    events = list(client.responses.retrieve(running.id, stream=True))
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_each_user_sees_only_their_own(stored_app: RunningApp) -> None:
    with sdk(stored_app, **{"x-forwarded-email": "alice@example.com"}) as alice:
        with sdk(stored_app, **{"x-forwarded-email": "bob@example.com"}) as bob:
            response = alice.responses.create(model="agent", input="What time is it?")
            conversation = alice.conversations.create()
            for attempt in (
                lambda: bob.responses.retrieve(response.id),
                lambda: bob.responses.input_items.list(response.id),
                lambda: bob.responses.cancel(response.id),
                lambda: bob.responses.delete(response.id),
                lambda: bob.responses.create(model="agent", input="hi", previous_response_id=response.id),
                lambda: bob.conversations.retrieve(conversation.id),
                lambda: bob.conversations.items.list(conversation.id),
                lambda: bob.conversations.delete(conversation.id),
            ):
                with pytest.raises(NotFoundError):
                    attempt()
            assert alice.responses.retrieve(response.id).status == "completed", "untouched by bob"
            # The same client conversation id names two conversations, one per user.
            for user in (alice, bob):
                body: dict[str, Any] = {"context": {"conversation_id": "shared-name"}}
                user.responses.create(model="agent", input="Hi", extra_body=body)
            mine = httpx.get(f"{stored_app.url}/conversations", headers={"x-forwarded-email": "bob@example.com"})
            assert [c["title"] for c in mine.json()["data"]] == ["Hi"]


def test_store_false_writes_nothing_but_reads_history(client: OpenAI) -> None:
    kept = client.responses.create(model="agent", input="What time is it?")
    unstored = client.responses.create(model="agent", input="And now?", previous_response_id=kept.id, store=False)
    assert turn_of(unstored.output_text) == 2
    with pytest.raises(NotFoundError):
        client.responses.retrieve(unstored.id)
    streamed = list(client.responses.create(model="agent", input="hi", store=False, stream=True))
    assert streamed[-1].type == "response.completed"
    with pytest.raises(NotFoundError):
        client.responses.retrieve(streamed[-1].response.id)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"input": "hi", "background": True, "store": False}, 400, "store"),
        ({"input": "hi", "background": "yes"}, 400, "background"),
        ({"input": "hi", "previous_response_id": "resp_missing"}, 404, "resp_missing"),
        ({"input": "hi", "conversation": "conv_missing"}, 404, "conv_missing"),
        ({"input": "hi", "conversation": {"no": "id"}}, 400, "conversation"),
        ({"input": "hi", "previous_response_id": "resp_1", "conversation": "conv_1"}, 400, "not both"),
        ({"input": "hi", "context": {"conversation_id": ""}}, 400, "conversation id"),
    ],
)
def test_bad_stateful_requests_are_refused_with_a_message(
    stored_app: RunningApp, body: dict[str, Any], status: int, message: str
) -> None:
    response = httpx.post(f"{stored_app.url}/responses", json=body, timeout=60)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]


def test_bad_reads_are_refused_with_a_message(stored_app: RunningApp, client: OpenAI) -> None:
    response = client.responses.create(model="agent", input="What time is it?")
    for path, status in [
        (f"/responses/{response.id}?stream=true&starting_after=x", 400),
        (f"/responses/{response.id}/input_items?order=sideways", 400),
        (f"/responses/{response.id}/input_items?limit=1000", 400),
        (f"/responses/{response.id}/input_items?after=msg_nope", 400),
        ("/responses/resp_nope", 404),
        ("/conversations/conv_nope/items", 404),
    ]:
        answer = httpx.get(f"{stored_app.url}{path}", timeout=60)
        assert answer.status_code == status, (path, answer.text)
        assert answer.json()["error"]["message"]


def test_a_response_still_running_cannot_be_continued(client: OpenAI) -> None:
    running = client.responses.create(model="agent", input=SLOW, background=True)
    try:
        with pytest.raises(BadRequestError, match="still"):
            client.responses.create(model="agent", input="next", previous_response_id=running.id)
    finally:
        client.responses.cancel(running.id)


# -- a store that cannot be reached ---------------------------------------------------------------------
def test_an_unreachable_store_answers_503_naming_what_to_set(workspace: StandInWorkspace, tmp_path: Path) -> None:
    env = {
        **model_env(workspace),
        "AGENT_STORE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/nothing",
        "AGENT_STORE_CONNECT_TIMEOUT": "2",
    }
    app = start_app(tmp_path, env)
    try:
        with app.client(timeout=120) as http:
            assert http.get("/health").status_code == 200
            started = time.monotonic()
            refused = http.post("/responses", json={"input": "hi"})
            assert time.monotonic() - started < 60
            assert refused.status_code == 503
            assert "AGENT_STORE_URL" in refused.json()["error"]["message"]
            unstored = http.post("/responses", json={"input": "What time is it?", "store": False})
            assert unstored.status_code == 200, "a request that needs no store is answered"
        assert "The state store is not available" in app.log.read_text()
    finally:
        app.stop()


# -- processes dying -----------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_background_response_of_a_killed_app_ends_failed_after_restart(
    backend: str, workspace: StandInWorkspace, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {**model_env(workspace), **store_env(backend, tmp_path, request), **LEASE}
    app = start_app(tmp_path, env)
    try:
        with sdk(app) as client:
            created = client.responses.create(model="agent", input=SLOW, background=True)
        first_events(app, created.id, 8)  # it is running: killed mid-answer
    finally:
        app.process.send_signal(signal.SIGKILL)
        app.process.wait(timeout=30)

    restarted = start_app(tmp_path, env)
    try:
        with sdk(restarted) as client:
            failed = wait_until(lambda: _finished(client, created.id), timeout=60)
            assert failed.status == "failed" and failed.error is not None
            assert failed.error.message == WORKER_STOPPED
            events = list(client.responses.retrieve(created.id, stream=True))
            assert [e.sequence_number for e in events] == list(range(len(events)))
            assert [e.type for e in events[-2:]] == ["error", "response.failed"], "the stream says how it ended"
    finally:
        restarted.stop()


async def test_sigterm_gives_background_responses_their_grace_period(
    workspace: StandInWorkspace, tmp_path: Path
) -> None:
    finished = await _background_response_across_sigterm(workspace, tmp_path / "long-grace", grace=30)
    assert finished.status == "completed" and "word30" in json.dumps(finished.output), "it finished within 30 s"
    stopped = await _background_response_across_sigterm(workspace, tmp_path / "short-grace", grace=1)
    assert stopped.status == "failed" and stopped.error is not None
    assert "did not finish within 1 s" in stopped.error["message"]


async def _background_response_across_sigterm(workspace: StandInWorkspace, tmp_path: Path, grace: float) -> Any:
    """A slow background response whose app gets SIGTERM, as its store holds it once the app is gone."""
    tmp_path.mkdir()
    env = {**model_env(workspace), "AGENT_SHUTDOWN_GRACE_SECONDS": str(grace)}
    app = start_app(tmp_path, env)
    with sdk(app) as client:
        response_id = client.responses.create(model="agent", input=SLOW, background=True).id
    first_events(app, response_id, 8)
    app.process.send_signal(signal.SIGTERM)
    await asyncio.to_thread(app.process.wait, 60)
    store = await open_store(settings_from_env({"AGENT_STORE_URL": f"sqlite:///{tmp_path / 'state.db'}"}))
    try:
        return await store.get_response(response_id, LOCAL_USER)
    finally:
        await store.close()


def first_events(app: RunningApp, response_id: str, count: int) -> list[dict[str, Any]]:
    """The first `count` events of a response's stream, waiting for them (then the connection is dropped)."""
    events: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{app.url}/responses/{response_id}?stream=true", timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                events.append(json.loads(line.removeprefix("data: ")))
            if len(events) == count:
                break
    return events


def _finished(client: OpenAI, response_id: str) -> Any:
    response = client.responses.retrieve(response_id)
    return response if response.status not in ("queued", "in_progress") else None


# -- two app processes on one Postgres -----------------------------------------------------------------
def test_two_apps_on_one_postgres_share_responses(
    workspace: StandInWorkspace, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {**model_env(workspace), **store_env("postgres", tmp_path, request)}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = start_app(tmp_path / "a", env), start_app(tmp_path / "b", env)
    try:
        with sdk(first) as on_a, sdk(second) as on_b:
            # Started on A, cut off after a few events, resumed through B.
            body = {"model": "agent", "input": SLOW, "background": True, "stream": True}
            seen: list[dict[str, Any]] = []
            with httpx.stream("POST", f"{first.url}/responses", json=body, timeout=60) as response:
                for line in response.iter_lines():
                    if line.startswith("data: {"):
                        seen.append(json.loads(line.removeprefix("data: ")))
                    if len(seen) == 6:
                        break
            response_id = seen[0]["response"]["id"]
            assert on_b.responses.retrieve(response_id).status == "in_progress", "B sees A's run"
            rest = list(on_b.responses.retrieve(response_id, stream=True, starting_after=5))
            numbers = [e["sequence_number"] for e in seen] + [e.sequence_number for e in rest]
            assert numbers == list(range(len(numbers))) and rest[-1].type == "response.completed"
            assert on_b.responses.retrieve(response_id).output_text == rest[-1].response.output_text

            # Continued on B from A's response; cancelled through B while A runs it.
            assert (
                turn_of(
                    on_b.responses.create(model="agent", input="And?", previous_response_id=response_id).output_text
                )
                == 2
            )
            running = on_a.responses.create(model="agent", input=SLOW, background=True)
            wait_until(lambda: on_b.responses.retrieve(running.id).status == "in_progress")
            assert on_b.responses.cancel(running.id).status == "cancelled"
            count = len(list(on_a.responses.retrieve(running.id, stream=True)))
            time.sleep(1)
            assert len(list(on_a.responses.retrieve(running.id, stream=True))) == count, "A stopped running it"
    finally:
        first.stop()
        second.stop()
