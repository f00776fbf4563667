"""MLflow settings the app chooses, applied before MLflow is imported.

No outbound call the app was not configured for: it calls the model server, the trace store and
the MCP servers it is configured with, and nothing else. MLflow would otherwise also call out:
- MLFLOW_DISABLE_TELEMETRY=true: no usage data sent to mlflow-telemetry.io (and no `databricks.sdk`
  import at `import mlflow` to prepare it);
- MLFLOW_MODEL_CATALOG_URI="": token costs in traces come from the model catalog bundled with
  MLflow, not fetched from github.com.

Trace export in batches (agent_server.trace_export writes them): finished spans are handed over
every second, or as soon as 50 wait, instead of MLflow's 5 s or 5 (a store write per 5 spans costs
~1.6x the CPU of one per 50).

Each applies only when the variable is not set: set it in the environment to choose otherwise.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_MODEL_CATALOG_URI": "",
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_SPAN_BATCH_SIZE": "50",
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_INTERVAL_MILLIS": "1000",
}

for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)
