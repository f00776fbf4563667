"""A model endpoint that misbehaves on request: an OpenAI-compatible chat-completions server for fault tests.

`python fault_model.py --port P` serves `POST /v1/chat/completions` (and the same under
`/serving-endpoints/`) as a real socket server written on asyncio streams, so it can fail at
any level a real endpoint can: HTTP statuses, a silent connection, a stream cut in the middle,
a broken chunk, the process dying. Standard library only: it runs under any Python 3.11+.

The answer is `You said: <last user message>.`, streamed a word per chunk. A `fault:NAME` word in
the last user message picks a fault:

    429, 500, 503   that status, with Retry-After for 429 (7 s) and 503 (3 s)
    hang            read the request, never answer
    slow            the answer, 0.5 s between words
    idle            two words, then silence
    truncated       three words, then the stream ends cleanly: no finish_reason, no [DONE]
    malformed       two words, then a chunk that is not JSON
    closed          two words, then the connection is closed without ending the body
    killed          two words, then the process kills itself
    pace=S          the answer, S seconds between words (for long answers: cancellation, load)
    think=S         S seconds of silence before the first word, then the answer

`GET /log` lists the model calls: `{"marker", "fault", "started", "ended", "outcome"}` with
`time.time()` stamps, where `ended` is when the answer was sent or the client hung up (how fast
a cancelled request lets go of its model call), and `outcome` says which.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import time
from typing import Any

RETRY_AFTER = {429: "7", 503: "3"}
REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Unavailable"}

calls: list[dict[str, Any]] = []


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        request_line = (await reader.readline()).decode()
        if request_line.count(" ") < 2:  # a connection closed before its request
            return
        headers: dict[str, str] = {}
        while (line := (await reader.readline()).decode().strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        method, path, _ = request_line.split(" ", 2)
        if method == "GET" and path == "/log":
            await respond(writer, 200, json.dumps(calls).encode())
        elif method == "POST" and path.endswith("/chat/completions"):
            await chat_completions(json.loads(body), reader, writer)
        else:
            await respond(writer, 404, b'{"error": {"message": "not found"}}')
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def respond(writer: asyncio.StreamWriter, status: int, body: bytes, **headers: str) -> None:
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", "Content-Type: application/json"]
    head += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    head += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    writer.write("\r\n".join(head).encode() + body)
    await writer.drain()


async def chat_completions(body: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = users[-1].get("content") if users else ""
    text = text if isinstance(text, str) else " ".join(str(part.get("text", "")) for part in text)
    asked = re.search(r"fault:(\S+)", text)
    fault = asked.group(1) if asked else "none"
    call = {"marker": text, "fault": fault, "started": time.time(), "ended": None, "outcome": None}
    calls.append(call)
    hung_up = asyncio.ensure_future(reader.read())  # b"" when the client closes the connection
    try:
        call["outcome"] = await asyncio.wait_for(answer(body, text, fault, writer, hung_up), timeout=600)
    except (TimeoutError, ConnectionError):
        call["outcome"] = "client hung up"
    finally:
        call["ended"] = time.time()
        hung_up.cancel()


async def answer(
    body: dict[str, Any], text: str, fault: str, writer: asyncio.StreamWriter, hung_up: asyncio.Future[bytes]
) -> str:
    status = int(fault) if fault.isdigit() else 200
    if status != 200:
        error = {"error": {"message": f"fault model: injected {status}", "type": "server_error", "code": status}}
        await respond(writer, status, json.dumps(error).encode(), **_retry_after(status))
        return f"answered {status}"
    if fault == "hang":
        await hung_up
        return "client hung up"
    words = re.findall(r"\S+\s*", f"You said: {text}.")
    if not body.get("stream"):
        message = {"role": "assistant", "content": "".join(words)}
        completion = {
            "id": "chatcmpl-fault",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": len(words), "total_tokens": 1 + len(words)},
        }
        await respond(writer, 200, json.dumps(completion).encode())
        return "answered"
    return await stream(body, words, fault, writer, hung_up)


def _retry_after(status: int) -> dict[str, str]:
    return {"Retry_After": RETRY_AFTER[status]} if status in RETRY_AFTER else {}


async def stream(
    body: dict[str, Any], words: list[str], fault: str, writer: asyncio.StreamWriter, hung_up: asyncio.Future[bytes]
) -> str:
    head = ["HTTP/1.1 200 OK", "Content-Type: text/event-stream", "Transfer-Encoding: chunked", "Connection: close"]
    writer.write("\r\n".join([*head, "", ""]).encode())
    await writer.drain()
    pace = float(fault.removeprefix("pace=")) if fault.startswith("pace=") else 0.5 if fault == "slow" else 0.0
    if fault.startswith("think="):
        await pause(float(fault.removeprefix("think=")), hung_up)
    cut_after = {"idle": 2, "truncated": 3, "malformed": 2, "closed": 2, "killed": 2}.get(fault)
    for index, word in enumerate(words):
        if index == cut_after:
            return await cut(fault, writer, hung_up)
        await send_chunk(writer, _chunk(body, {"content": word} if index else {"role": "assistant", "content": word}))
        await pause(pace, hung_up)
    await send_chunk(writer, _chunk(body, {}, finish_reason="stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"prompt_tokens": 1, "completion_tokens": len(words), "total_tokens": 1 + len(words)}
        await send_chunk(writer, {**_chunk(body, {}), "choices": [], "usage": usage})
    await send_data(writer, "[DONE]")
    await end_body(writer)
    return "answered"


async def cut(fault: str, writer: asyncio.StreamWriter, hung_up: asyncio.Future[bytes]) -> str:
    if fault == "idle":
        await hung_up
        return "client hung up"
    if fault == "truncated":
        await end_body(writer)
        return "truncated"
    if fault == "malformed":
        await send_data(writer, '{"id": "chatcmpl-fault", "choices": [{"delta": {"content": "x"')
        await end_body(writer)
        return "malformed"
    if fault == "closed":
        writer.transport.abort()
        return "closed"
    os.kill(os.getpid(), signal.SIGKILL)  # killed
    return "killed"


async def pause(seconds: float, hung_up: asyncio.Future[bytes]) -> None:
    if seconds > 0:
        done, _ = await asyncio.wait([hung_up], timeout=seconds)
        if done:
            raise ConnectionError("client hung up")


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [choice],
    }


async def send_chunk(writer: asyncio.StreamWriter, payload: dict[str, Any]) -> None:
    await send_data(writer, json.dumps(payload))


async def send_data(writer: asyncio.StreamWriter, data: str) -> None:
    frame = f"data: {data}\n\n".encode()
    writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
    await writer.drain()


async def end_body(writer: asyncio.StreamWriter) -> None:
    writer.write(b"0\r\n\r\n")
    await writer.drain()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = await asyncio.start_server(handle, "127.0.0.1", args.port, backlog=1024)
    print(f"fault model on http://127.0.0.1:{args.port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
