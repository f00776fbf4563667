"""Images in a user message reach the model as image parts, whatever the framework."""

from __future__ import annotations

import json

import pytest

from agent import run_agent
from agent_server import ChatMessage, TextDelta
from agent_server.standin import StandInWorkspace
from payloads import IMAGE


@pytest.mark.usefixtures("model_at_standin")
async def test_an_image_reaches_the_model_as_an_image_part(workspace: StandInWorkspace) -> None:
    seen = len(workspace.requests)
    message: ChatMessage = {
        "role": "user",
        "content": [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": IMAGE}}],
    }
    events = [event async for event in run_agent([message])]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).endswith(" I saw 1 image.")
    for request in workspace.requests[seen:]:  # every model call of the answer sees it
        [user] = [m for m in request["messages"] if m["role"] == "user"]
        images = [p for p in user["content"] if isinstance(p, dict) and p.get("type") == "image_url"]
        assert [p["image_url"]["url"] for p in images] == [IMAGE], json.dumps(user)[:500]
