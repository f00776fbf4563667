"""Where traces go.

- MLFLOW_TRACKING_URI unset: a local sqlite store, `mlflow.db` in the working directory
  (git-ignored). Browse it with `uvx mlflow ui --backend-store-uri sqlite:///mlflow.db`.
- MLFLOW_TRACKING_URI=databricks: the workspace's MLflow, in the experiment named by
  MLFLOW_EXPERIMENT_ID (or MLFLOW_EXPERIMENT_NAME, a workspace path).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

import mlflow

from agent_server import app_config

LOCAL_TRACKING_URI = "sqlite:///mlflow.db"
ATTEMPTS = 3
logger = logging.getLogger("agent_server")


def setup_mlflow() -> None:
    """Point MLflow at its store and experiment. Safe to call more than once, and from workers.

    A store that cannot be used turns tracing off with a logged reason; the agent keeps serving.
    """
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(LOCAL_TRACKING_URI)
    tracking_uri = mlflow.get_tracking_uri()
    experiment_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
    experiment_name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or app_config.DEFAULT_EXPERIMENT
    if not experiment_name or (tracking_uri != "databricks" and experiment_name.startswith("/")):
        experiment_name = app_config.APP_NAME  # a workspace path means nothing to a local store
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with _store_lock(tracking_uri):  # workers must not create the same store at once
                if experiment_id:
                    mlflow.set_experiment(experiment_id=experiment_id)
                else:
                    mlflow.set_experiment(experiment_name)
            return
        except Exception as exc:  # noqa: BLE001 - tracing must never stop the agent
            if attempt < ATTEMPTS:
                time.sleep(0.5 * attempt)
                continue
            logger.error(
                "MLflow tracing is off: cannot use experiment %s at %s (%s). Set MLFLOW_TRACKING_URI and "
                "MLFLOW_EXPERIMENT_ID (see .env.example).",
                experiment_id or experiment_name,
                tracking_uri,
                exc,
            )
            mlflow.tracing.disable()


@contextlib.contextmanager
def _store_lock(tracking_uri: str) -> Iterator[None]:
    """An exclusive lock next to a local sqlite store (creating its tables races otherwise)."""
    if not tracking_uri.startswith("sqlite:///"):
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: no lock, the retries cover the race
        yield
        return
    path = tracking_uri.removeprefix("sqlite:///") + ".lock"
    with open(path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def flush_traces() -> None:
    """Write out traces still queued for asynchronous logging (called on shutdown)."""
    mlflow.flush_trace_async_logging()
