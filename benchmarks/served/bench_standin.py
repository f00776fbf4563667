"""The app's stand-in workspace in a process of its own (`python -m agent_server.standin`, but
remembering only the last 100 calls: it keeps them all for tests, which under a long load would
grow its memory and its garbage collections without bound).

    python bench_standin.py --port 8900
"""

from __future__ import annotations

import argparse

import uvicorn

from agent_server.standin import StandInWorkspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    workspace = StandInWorkspace(port=args.port, remember=100)
    uvicorn.run(workspace.app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
