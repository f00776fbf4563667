"""The OpenAI Conversations API, so `OpenAI(base_url=<app>).conversations` works, and the user's list.

- `POST /conversations` (`items`, `metadata`), `GET`, `POST` (new `metadata`), `DELETE /conversations/{id}`;
- `GET`, `POST /conversations/{id}/items`, `GET`, `DELETE /conversations/{id}/items/{item_id}`;
- `GET /conversations` (not in OpenAI's API): the user's conversations, most recent first, each with
  a `title` (its first user message), for a chat UI's list; `?limit=20&offset=0`.

A response joins a conversation with `"conversation": <id>` (agent_server.memory); the conversations
that chat clients name with `context.conversation_id` or `custom_inputs.thread_id` are listed too.
Every user sees only their own conversations.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent_server.errors import BadRequest
from agent_server.items import input_items
from agent_server.protocols.base import JsonDict
from agent_server.request_context import get_user, set_request_headers
from agent_server.routes.responses import page_params
from agent_server.state import AppState
from agent_server.store import Conversation, ConversationItem, NotFound, Store

MAX_ITEMS_PER_REQUEST = 20  # as OpenAI's API
MAX_LIST = 100
MAX_METADATA_PAIRS = 16


def add_routes(app: FastAPI, state: AppState) -> None:
    async def opened(http_request: Request) -> tuple[Store, str]:
        set_request_headers(http_request.headers)
        return await state.store(), get_user()

    @app.post("/conversations")
    async def create(http_request: Request) -> Response:
        body = await _body(http_request)
        store, user = await opened(http_request)
        items = _items(body.get("items") or [])
        conversation = await store.create_conversation(user, metadata=_metadata(body.get("metadata")), items=items)
        return JSONResponse(conversation_object(conversation))

    @app.get("/conversations")
    async def list_conversations(http_request: Request) -> Response:
        store, user = await opened(http_request)
        limit = _integer(http_request.query_params.get("limit"), "limit", 20)
        offset = _integer(http_request.query_params.get("offset"), "offset", 0)
        if not 1 <= limit <= MAX_LIST or offset < 0:
            raise BadRequest(f"limit must be between 1 and {MAX_LIST}, offset 0 or more.")
        found = await store.list_conversations(user, limit=limit + 1, offset=offset)
        return JSONResponse(
            {"object": "list", "data": [conversation_object(c) for c in found[:limit]], "has_more": len(found) > limit}
        )

    @app.get("/conversations/{conversation_id}")
    async def retrieve(conversation_id: str, http_request: Request) -> Response:
        store, user = await opened(http_request)
        return JSONResponse(conversation_object(await _conversation(store, conversation_id, user)))

    @app.post("/conversations/{conversation_id}")
    async def update(conversation_id: str, http_request: Request) -> Response:
        body = await _body(http_request)
        store, user = await opened(http_request)
        title = body.get("title")
        if title is not None and not isinstance(title, str):
            raise BadRequest("title must be a string.")
        metadata = _metadata(body["metadata"]) if "metadata" in body else None
        updated = await store.update_conversation(conversation_id, user, title=title, metadata=metadata)
        if updated is None:
            raise NotFound(f"No conversation {conversation_id}.")
        return JSONResponse(conversation_object(updated))

    @app.delete("/conversations/{conversation_id}")
    async def delete(conversation_id: str, http_request: Request) -> Response:
        store, user = await opened(http_request)
        if not await store.delete_conversation(conversation_id, user):
            raise NotFound(f"No conversation {conversation_id}.")
        return JSONResponse({"id": conversation_id, "object": "conversation.deleted", "deleted": True})

    @app.get("/conversations/{conversation_id}/items")
    async def list_items(conversation_id: str, http_request: Request) -> Response:
        store, user = await opened(http_request)
        order, limit, after = page_params(http_request)
        newest_first = order == "desc"
        position: dict[str, int] = {}
        if after:
            item = await store.get_item(conversation_id, after, user)
            if item is None:
                raise BadRequest(f"after: no item {after} in conversation {conversation_id}.")
            position = {"before": item.position} if newest_first else {"after": item.position}
        found = await store.list_items(conversation_id, user, limit=limit + 1, newest_first=newest_first, **position)
        data = [item.item for item in found[:limit]]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": len(found) > limit,
            }
        )

    @app.post("/conversations/{conversation_id}/items")
    async def add_items(conversation_id: str, http_request: Request) -> Response:
        body = await _body(http_request)
        store, user = await opened(http_request)
        added = await store.add_items(conversation_id, user, _items(body.get("items")))
        data = [item.item for item in added]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": False,
            }
        )

    @app.get("/conversations/{conversation_id}/items/{item_id}")
    async def retrieve_item(conversation_id: str, item_id: str, http_request: Request) -> Response:
        store, user = await opened(http_request)
        return JSONResponse((await _item(store, conversation_id, item_id, user)).item)

    @app.delete("/conversations/{conversation_id}/items/{item_id}")
    async def delete_item(conversation_id: str, item_id: str, http_request: Request) -> Response:
        store, user = await opened(http_request)
        if not await store.delete_item(conversation_id, item_id, user):
            await _conversation(store, conversation_id, user)  # NotFound for the conversation first
            raise NotFound(f"No item {item_id} in conversation {conversation_id}.")
        return JSONResponse(conversation_object(await _conversation(store, conversation_id, user)))


def conversation_object(conversation: Conversation) -> JsonDict:
    return {
        "id": conversation.id,
        "object": "conversation",
        "created_at": int(conversation.created_at),
        "metadata": conversation.metadata,
        "title": conversation.title,  # ours: for a list of conversations
        "updated_at": int(conversation.updated_at),
    }


async def _conversation(store: Store, conversation_id: str, user: str) -> Conversation:
    conversation = await store.get_conversation(conversation_id, user)
    if conversation is None:
        raise NotFound(f"No conversation {conversation_id}.")
    return conversation


async def _item(store: Store, conversation_id: str, item_id: str, user: str) -> ConversationItem:
    item = await store.get_item(conversation_id, item_id, user)
    if item is None:
        raise NotFound(f"No item {item_id} in conversation {conversation_id}.")
    return item


async def _body(http_request: Request) -> JsonDict:
    try:
        body = json.loads(await http_request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _items(raw: Any) -> list[JsonDict]:
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise BadRequest("items must be a list of items (objects).")
    if len(raw) > MAX_ITEMS_PER_REQUEST:
        raise BadRequest(f"At most {MAX_ITEMS_PER_REQUEST} items per request.")
    for index, item in enumerate(raw):
        kind = item.get("type", "message")
        if kind == "message" and (item.get("role") not in ("user", "assistant", "system", "developer")):
            raise BadRequest(f"items[{index}].role must be user, assistant, system or developer.")
        if kind in ("function_call", "function_call_output") and not isinstance(item.get("call_id"), str):
            raise BadRequest(f"items[{index}].call_id must be a string.")
    return input_items([{key: value for key, value in item.items() if key != "id"} for item in raw])


def _metadata(raw: Any) -> JsonDict:
    """OpenAI's metadata: up to 16 string pairs."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > MAX_METADATA_PAIRS:
        raise BadRequest(f"metadata must be an object of at most {MAX_METADATA_PAIRS} string values.")
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in raw.items()):
        raise BadRequest("metadata keys and values must be strings.")
    return dict(raw)


def _integer(value: str | None, name: str, default: int) -> int:
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {value!r}.") from None
