"""The app's side of the trace writer process (agent_server/trace_writer.py): start it, send it each
write task, replace it when it dies or hangs, stop it. agent_server.trace_export decides when it is
used (AGENT_TRACE_WRITER=process) and queues the tasks it writes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from agent_server import trace_writer

logger = logging.getLogger("agent_server")

WRITER_START_TIMEOUT_S = 60.0  # the writer process imports MLflow and opens the store
WRITER_TASK_TIMEOUT_S = 120.0  # one write (a locked sqlite store is waited for; a hung one is not)
WRITER_START_ATTEMPTS = 2  # in a row; then the fallback writes the traces


class Writer(Protocol):
    """What writes the trace export queue's tasks: in the app (trace_export.InAppWrites) or here."""

    def run(self, task: Any) -> str | None: ...
    def begin_stop(self) -> None: ...
    def stop(self, grace: float) -> None: ...


class WriterProcess:
    """Each write task sent to the trace writer process (agent_server/trace_writer.py), one at a time.

    The child starts with the first trace (nothing before the first answer waits for it, or shares
    the CPU with it), and again with the next task after it died or hung (a write that takes more
    than WRITER_TASK_TIMEOUT_S); the task it was writing then is counted as failed. When it cannot
    start twice in a row, for a task it cannot take (`trace_writer.encode`), or when the app stops
    while it starts, the task is written in the app, by `fallback`. Once stopped, nothing more is written.
    """

    def __init__(self, tracking_uri: str, fallback: Writer) -> None:
        self.tracking_uri = tracking_uri
        self._in_app = fallback
        self._lock = threading.Lock()  # the child and its socket, between the writer thread and stop()
        self._child: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._connection: Connection | None = None
        self._failed_starts = 0
        self._stopping = threading.Event()  # the app is stopping: no new child
        self._stopped = False

    def run(self, task: Any) -> str | None:
        payload = trace_writer.encode(task)
        for _ in range(2):  # a child found gone before it took the task is replaced, once
            connection = self._connected() if payload is not None else None
            if connection is None or payload is None:
                break
            try:
                connection.send_bytes(payload)
            except OSError:
                self._child_gone()
                continue
            try:
                if not connection.poll(WRITER_TASK_TIMEOUT_S):
                    self._kill_child()
                    return self._child_gone(f"hung: no answer in {WRITER_TASK_TIMEOUT_S:g} s, killed")
                answer: str | None = connection.recv()
            except (EOFError, OSError):
                return self._child_gone()
            return answer
        if self._stopped:
            return "the app stopped before the trace writer took it"
        return self._in_app.run(task)

    def begin_stop(self) -> None:
        """The app is stopping: a child still starting is given up (what is queued is written here)."""
        self._stopping.set()

    def stop(self, grace: float) -> None:
        """Let the child finish its task and exit (it stops at the end of its input), or kill it."""
        self._stopping.set()
        with self._lock:
            self._stopped = True
            child, sock = self._child, self._socket
        if child is None:
            return
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        try:
            child.wait(grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def _connected(self) -> Connection | None:
        if self._connection is not None:
            return self._connection
        with self._lock:
            if self._stopping.is_set() or self._failed_starts >= WRITER_START_ATTEMPTS:
                return None
            ours, theirs = socket.socketpair()
            script = Path(__file__).with_name("trace_writer.py")
            command = [sys.executable, "-P", str(script), str(theirs.fileno()), self.tracking_uri, str(os.getpid())]
            self._child, self._socket = None, ours
            try:
                with theirs:
                    self._child = subprocess.Popen(command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
                connection = Connection(os.dup(ours.fileno()))
            except OSError as exc:  # no process (or no file descriptor) to spare
                if self._child is not None:
                    self._child.kill()
                ours.close()
                self._child, self._socket = None, None
                self._start_failed(str(exc))
                return None
        try:
            ready = self._wait_ready(connection)
        except (EOFError, OSError):
            ready = False
        with self._lock:
            stopped = self._stopped
        if not ready or stopped:
            self._kill_child()
            self._forget(connection)
            if not self._stopping.is_set():  # else given up: the app stops (what is queued is written here)
                self._start_failed(f"not ready after {WRITER_START_TIMEOUT_S:g} s, or it exited")
            return None
        self._failed_starts = 0
        self._connection = connection
        return connection

    def _wait_ready(self, connection: Connection) -> bool:
        """Wait for the child's "ready" (it imports MLflow, ~2-5 s); False when it did not come."""
        deadline = time.monotonic() + WRITER_START_TIMEOUT_S
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if connection.poll(0.1):
                connection.recv()
                return True
        return False

    def _start_failed(self, why: str) -> None:
        self._failed_starts += 1
        fallback = "" if self._failed_starts < WRITER_START_ATTEMPTS else "; traces are written in the app"
        logger.warning("The trace writer process did not start (%s)%s.", why, fallback)

    def _kill_child(self) -> None:
        with self._lock:
            child = self._child
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()

    def _child_gone(self, why: str = "") -> str:
        code = self._child.poll() if self._child else None
        if self._connection is not None:
            self._forget(self._connection)
        because = why or f"exited (code {code})"
        if not self._stopped:
            logger.warning("The trace writer process %s; another takes over.", because)
        return f"the trace writer process {because} while writing"

    def _forget(self, connection: Connection) -> None:
        connection.close()
        with self._lock:
            if self._socket is not None:
                self._socket.close()
            self._connection, self._socket = None, None
