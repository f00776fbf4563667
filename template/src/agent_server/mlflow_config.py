"""Where traces go.

- MLFLOW_TRACKING_URI unset: a local sqlite store, `mlflow.db` in the working directory
  (git-ignored). Browse it with `uvx mlflow ui --backend-store-uri sqlite:///mlflow.db`.
- MLFLOW_TRACKING_URI=databricks: the workspace's MLflow, in the experiment named by
  MLFLOW_EXPERIMENT_ID (or MLFLOW_EXPERIMENT_NAME, a workspace path).

A new sqlite store starts as a copy of an empty one kept per MLflow version in the user's cache
(`~/.cache/agent-server`, or $XDG_CACHE_HOME): MLflow's schema migrations (~1 s) run once per
machine, not at every fresh start. A local store is switched to sqlite's write-ahead log (kept in
the file: `mlflow.db-wal` and `mlflow.db-shm` appear next to it): a trace's transaction then
appends to the log instead of writing, syncing and deleting a rollback journal (~25 % of a trace
write here), and readers (`mlflow ui`) no longer block the app's writes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import mlflow

from agent_server import app_config

LOCAL_TRACKING_URI = "sqlite:///mlflow.db"
ATTEMPTS = 3
logger = logging.getLogger("agent_server")


def tracking_uri() -> str:
    """The store traces go to: $MLFLOW_TRACKING_URI, else the local sqlite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or LOCAL_TRACKING_URI


def is_local(uri: str) -> bool:
    """A sqlite store: on this machine, fast to open, one writer at a time."""
    return uri.startswith("sqlite:")


def connect_store() -> str:
    """Point MLflow at its store and experiment (created if missing); the experiment's id.

    Raises when the store cannot be used. Safe to call more than once, and from several workers.
    """
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    experiment_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
    with _store_lock(uri):  # workers must not create the same store at once
        if is_local(uri):
            _start_from_empty_store(uri)
        if experiment_id:
            experiment_id = str(mlflow.set_experiment(experiment_id=experiment_id).experiment_id)
        else:
            experiment_id = str(mlflow.set_experiment(experiment_name()).experiment_id)
        if is_local(uri):
            _use_write_ahead_log(uri)
        return experiment_id


def experiment_name() -> str:
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or app_config.DEFAULT_EXPERIMENT
    if not name or (not tracking_uri().startswith("databricks") and name.startswith("/")):
        return app_config.APP_NAME  # a workspace path means nothing to a local store
    return name


def setup_mlflow() -> None:
    """Point MLflow at its store and experiment, now. Safe to call more than once, and from workers.

    A store that cannot be used turns tracing off with a logged reason; the agent keeps serving.
    (The server itself prepares the store without holding requests: see agent_server.tracing.)
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            connect_store()
            return
        except Exception as exc:  # noqa: BLE001 - tracing must never stop the agent
            if attempt < ATTEMPTS:
                time.sleep(0.5 * attempt)
                continue
            logger.error("MLflow tracing is off: %s", describe_store_error(exc))
            mlflow.tracing.disable()


def describe_store_error(exc: BaseException) -> str:
    experiment = os.environ.get("MLFLOW_EXPERIMENT_ID") or experiment_name()
    return (
        f"cannot use experiment {experiment} at {_without_secrets(tracking_uri())} ({exc}). "
        "Set MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID (see .env.example)."
    )


def _without_secrets(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return parts._replace(netloc=f"{parts.username}:***@{parts.hostname}:{parts.port or ''}".rstrip(":")).geturl()


def _sqlite_path(uri: str) -> Path | None:
    """The file of a sqlite URI: sqlite:///relative.db, sqlite:////absolute.db (None: in memory)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


def _use_write_ahead_log(uri: str) -> None:
    """sqlite's WAL journal mode for the store (a property of the file: set once, kept by every
    connection). A store that cannot switch now (another process holds it) keeps its journal."""
    path = _sqlite_path(uri)
    if path is None:
        return
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as connection:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    except sqlite3.Error as exc:
        mode = str(exc)
    if mode != "wal":
        logger.info("The trace store %s keeps its journal mode (%s).", path, mode)


def _start_from_empty_store(uri: str) -> None:
    """A new sqlite store starts as a copy of the cached empty store (migrated once per MLflow version).

    Anything that goes wrong here leaves the store to MLflow, which then migrates it itself.
    """
    path = _sqlite_path(uri)
    cached = _empty_store_cache()
    if path is None or path.exists() or cached is None:
        return
    with contextlib.suppress(Exception):
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            _make_empty_store(cached)
        _copy_atomically(cached, path)


def _make_empty_store(target: Path) -> None:
    """MLflow's schema, migrated to this version, without a row (the default experiment is made on open)."""
    from mlflow.store.db.utils import _initialize_tables
    from sqlalchemy import create_engine

    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        engine = create_engine(f"sqlite:///{temporary}")
        try:
            _initialize_tables(engine)  # type: ignore[no-untyped-call]
        finally:
            engine.dispose()
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _empty_store_cache() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    return Path(base) / "agent-server" / f"mlflow-{mlflow.__version__}-empty.db"


def _copy_atomically(source: Path, target: Path) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """An exclusive lock next to a local sqlite store (creating its tables races otherwise)."""
    path = _sqlite_path(uri) if is_local(uri) else None
    try:
        import fcntl
    except ImportError:  # Windows: no lock, the retries cover the race
        path = None
    if path is None:
        yield
        return
    with open(f"{path}.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
