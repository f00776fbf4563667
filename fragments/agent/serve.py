# -- serving: the server routes POST /invocations here ------------------------------------
@invoke()
async def answer(request: Request) -> Response:
    """POST /invocations without "stream": the whole answer at once."""
    return await collect(run_agent(to_chat_messages(request)))


@stream()
async def answer_stream(request: Request) -> AsyncIterator[Chunk]:
    """POST /invocations with "stream": true: the answer as it is produced."""
    async for chunk in stream_chunks(run_agent(to_chat_messages(request))):
        yield chunk


server = create_server(TASK_TYPE)
app = server.app  # what uvicorn imports ("agent:app") for --workers and --reload


def main() -> None:
    """`uv run agent-server`: see `uv run agent-server --help`."""
    server.run(import_string="agent:app")
