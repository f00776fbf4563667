"""The load generator: N keep-alive connections posting one body in a loop, over raw asyncio sockets.

    python -m benchmarks.load --port 8000 --body '{"input": [...]}' --concurrency 16 --warmup 1 --duration 4

It runs in a process of its own and speaks just enough HTTP/1.1 (Content-Length or chunked
answers) to stay cheap on CPU: an HTTP client library costs more CPU per request than the servers
it measures (the benchmark reports this process's CPU next to theirs). It prints `measuring` when
the measured window opens and `measured` when it closes (the caller reads the servers' memory
then), then one JSON line (`LoadResult`). Throughput and latencies are those of the requests that
finish inside the window; after it, no new request starts and the ones in flight finish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Sample:
    finished: float
    latency: float
    first_chunk: float  # time to the first body bytes (for SSE: the first frame)
    frames: int  # SSE `data:` frames (0 for a JSON answer)


@dataclass
class LoadResult:
    concurrency: int
    window_s: float
    answered: int  # 200 answers in all, warm-up included
    errors: list[str]
    latencies_ms: list[float] = field(default_factory=list)  # of the requests finished in the window
    first_chunk_ms: list[float] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)  # the distinct frame counts seen
    generator_cpu_s: float = 0.0  # this process's CPU time, warm-up to the last answer


class HttpError(Exception):
    pass


def request_bytes(port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: */*\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader, sent: float) -> tuple[float, bytes]:
    """(time of the first body bytes, body) of one response; raises HttpError unless 200."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    parts: list[bytes] = []
    first = 0.0
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            data = await reader.readexactly(size + 2)
            first = first or time.perf_counter() - sent
            parts.append(data[:-2])
        await reader.readuntil(b"\r\n")  # the empty trailer
    else:
        parts.append(await reader.readexactly(int(headers.get("content-length", "0"))))
        first = time.perf_counter() - sent
    body = b"".join(parts)
    if status_line.split(" ")[1] != "200":
        raise HttpError(f"{status_line}: {body[:300]!r}")
    return first, body


async def client(port: int, payload: bytes, stop_at: float, samples: list[Sample], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (started := time.perf_counter()) < stop_at:
            writer.write(payload)
            try:
                first, body = await read_response(reader, started)
            except HttpError as exc:
                errors.append(str(exc))
                continue
            finished = time.perf_counter()
            samples.append(Sample(finished, finished - started, first, body.count(b"data: ")))
    finally:
        writer.close()


async def run(port: int, path: str, body: bytes, concurrency: int, warmup: float, duration: float) -> LoadResult:
    payload = request_bytes(port, path, body)
    cpu = time.process_time()
    opens = time.perf_counter() + warmup
    closes = opens + duration
    samples: list[Sample] = []
    errors: list[str] = []
    tasks = [asyncio.create_task(client(port, payload, closes, samples, errors)) for _ in range(concurrency)]
    await asyncio.sleep(max(0.0, opens - time.perf_counter()))
    print("measuring", flush=True)
    await asyncio.sleep(max(0.0, closes - time.perf_counter()))
    print("measured", flush=True)
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, BaseException):
            errors.append(f"connection: {outcome!r}")
    in_window = [s for s in samples if opens <= s.finished <= closes]
    return LoadResult(
        concurrency=concurrency,
        window_s=duration,
        answered=len(samples),
        errors=errors[:3] + ([f"... {len(errors)} errors in all"] if len(errors) > 3 else []),
        latencies_ms=[round(s.latency * 1e3, 3) for s in in_window],
        first_chunk_ms=[round(s.first_chunk * 1e3, 3) for s in in_window],
        frames=sorted({s.frames for s in samples}),
        generator_cpu_s=time.process_time() - cpu,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/invocations")
    parser.add_argument("--body", required=True, help="the JSON body to post")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=4.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.port, args.path, args.body.encode(), args.concurrency, args.warmup, args.duration))
    sys.stdout.write(json.dumps(asdict(result)) + "\n")


if __name__ == "__main__":
    main()
