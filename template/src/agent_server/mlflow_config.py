"""Where traces go.

- MLFLOW_TRACKING_URI unset: a local sqlite store, `mlflow.db` in the working directory
  (git-ignored). Browse it with `uvx mlflow ui --backend-store-uri sqlite:///mlflow.db`.
- MLFLOW_TRACKING_URI=databricks: the workspace's MLflow, in the experiment named by
  MLFLOW_EXPERIMENT_ID (or MLFLOW_EXPERIMENT_NAME, a workspace path).
"""

from __future__ import annotations

import logging
import os

import mlflow

from agent_server import app_config

LOCAL_TRACKING_URI = "sqlite:///mlflow.db"
logger = logging.getLogger("agent_server")


def setup_mlflow() -> None:
    """Point MLflow at its store and experiment. Safe to call more than once.

    A store that cannot be used turns tracing off with a logged reason; the agent keeps serving.
    """
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(LOCAL_TRACKING_URI)
    experiment_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
    experiment_name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or app_config.DEFAULT_EXPERIMENT
    if mlflow.get_tracking_uri() != "databricks" and experiment_name.startswith("/"):
        experiment_name = app_config.APP_NAME  # a workspace path means nothing to a local store
    try:
        if experiment_id:
            mlflow.set_experiment(experiment_id=experiment_id)
        else:
            mlflow.set_experiment(experiment_name or app_config.APP_NAME)
    except Exception as exc:  # noqa: BLE001 - tracing must never stop the agent
        logger.error(
            "MLflow tracing is off: cannot use experiment %s at %s (%s). Set MLFLOW_TRACKING_URI and "
            "MLFLOW_EXPERIMENT_ID (see .env.example).",
            experiment_id or experiment_name,
            mlflow.get_tracking_uri(),
            exc,
        )
        mlflow.tracing.disable()


def flush_traces() -> None:
    """Write out traces still queued for asynchronous logging (called on shutdown)."""
    mlflow.flush_trace_async_logging()
