"""Where the state store lives, read from the environment.

1. AGENT_STORE_URL: any SQLAlchemy URL. `postgresql://...` (psycopg 3 is used) or `sqlite:///path`.
2. Otherwise PGHOST (Databricks Apps sets PGHOST, PGPORT, PGDATABASE, PGUSER and PGSSLMODE for the
   app's Lakebase `database`/`postgres` resource): that Postgres. Its password is PGPASSWORD when set,
   else a short-lived Lakebase OAuth credential for the app's identity (see `lakebase.py`) for the
   instance LAKEBASE_INSTANCE_NAME (or endpoint LAKEBASE_ENDPOINT), else the one serving PGHOST.
3. Otherwise an embedded sqlite file, `.agent/state.db` in the working directory (the app's root).

On Postgres the tables live in their own schema, AGENT_STORE_SCHEMA (default: the app's name), so
apps sharing one Lakebase database do not collide. AGENT_STORE_CONNECT_TIMEOUT bounds each
connection attempt (seconds, default 10): an unreachable store fails fast instead of hanging.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from agent_server import app_config

DEFAULT_SQLITE_PATH = Path(".agent") / "state.db"
DEFAULT_CONNECT_TIMEOUT_S = 10.0
HOW_TO_CONFIGURE = (
    "Set AGENT_STORE_URL to a reachable database (e.g. postgresql://user:password@host:5432/db), give the "
    "app a Lakebase database resource on Databricks Apps (PGHOST ...), or set neither to use the embedded "
    f"sqlite file {DEFAULT_SQLITE_PATH}."
)


class StoreConfigError(ValueError):
    """The store's settings are invalid; the message says what to set."""


@dataclass(frozen=True)
class LakebaseTarget:
    """Which Lakebase database to mint credentials for (either may be None: resolved from the host)."""

    instance_name: str | None  # Lakebase Provisioned (`database` resource)
    endpoint: str | None  # Lakebase Autoscaling: projects/<p>/branches/<b>/endpoints/<e> (`postgres` resource)


@dataclass(frozen=True)
class StoreSettings:
    url: URL
    schema: str | None = None  # Postgres only
    lakebase: LakebaseTarget | None = None  # Postgres with OAuth credentials
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    source: str = "default"  # where the URL came from, for messages

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def describe(self) -> str:
        """The URL without its password, and where it came from."""
        return f"{self.url.render_as_string(hide_password=True)} ({self.source})"


def settings_from_env(environ: Mapping[str, str] = os.environ) -> StoreSettings:
    timeout = _connect_timeout(environ)
    schema = _schema(environ)
    if environ.get("AGENT_STORE_URL"):
        url = normalized_url(environ["AGENT_STORE_URL"])
        return StoreSettings(url, schema_for(url, schema), None, timeout, "AGENT_STORE_URL")
    if environ.get("PGHOST"):
        return _from_libpq_env(environ, schema, timeout)
    path = DEFAULT_SQLITE_PATH.resolve()
    return StoreSettings(URL.create("sqlite+aiosqlite", database=str(path)), None, None, timeout, "embedded default")


def normalized_url(raw: str) -> URL:
    """`raw` with its async driver: psycopg 3 for Postgres, aiosqlite for sqlite."""
    try:
        url = make_url(raw.replace("postgres://", "postgresql://", 1) if raw.startswith("postgres://") else raw)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several types for a bad URL
        raise StoreConfigError(f"AGENT_STORE_URL is not a valid database URL ({exc}). {HOW_TO_CONFIGURE}") from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise StoreConfigError("AGENT_STORE_URL: sqlite needs a file path (sqlite:///path/state.db).")
        return url.set(drivername="sqlite+aiosqlite")
    raise StoreConfigError(f"AGENT_STORE_URL: {backend} is not supported; use postgresql:// or sqlite:///.")


def schema_for(url: URL, schema: str) -> str | None:
    return schema if url.get_backend_name() == "postgresql" else None


def _from_libpq_env(environ: Mapping[str, str], schema: str, timeout: float) -> StoreSettings:
    missing = [name for name in ("PGDATABASE", "PGUSER") if not environ.get(name)]
    if missing:
        raise StoreConfigError(
            f"PGHOST is set but {' and '.join(missing)} is not: set both (Databricks Apps sets them for a "
            f"Lakebase database resource), or unset PGHOST. {HOW_TO_CONFIGURE}"
        )
    port = environ.get("PGPORT", "5432")
    if not port.isdigit():
        raise StoreConfigError(f"PGPORT must be a port number, not {port!r}.")
    lakebase = None
    if not environ.get("PGPASSWORD"):
        lakebase = LakebaseTarget(
            _resource_name(environ, "LAKEBASE_INSTANCE_NAME"), _resource_name(environ, "LAKEBASE_ENDPOINT")
        )
    sslmode = environ.get("PGSSLMODE") or ("require" if lakebase else None)  # OAuth credentials need TLS
    url = URL.create(
        "postgresql+psycopg",
        username=environ["PGUSER"],
        password=environ.get("PGPASSWORD") or None,
        host=environ["PGHOST"],
        port=int(port),
        database=environ["PGDATABASE"],
        query={"sslmode": sslmode} if sslmode else {},
    )
    source = "PGHOST, Lakebase OAuth" if lakebase else "PGHOST, PGPASSWORD"
    return StoreSettings(url, schema, lakebase, timeout, source)


def _resource_name(environ: Mapping[str, str], variable: str) -> str | None:
    """LAKEBASE_INSTANCE_NAME or LAKEBASE_ENDPOINT, unless it holds a host name (`valueFrom` in app.yaml may
    give the database's host; names have no dots): the instance or endpoint is then looked up by PGHOST."""
    name = environ.get(variable, "").strip()
    return name if name and "." not in name else None


def _schema(environ: Mapping[str, str]) -> str:
    raw = environ.get("AGENT_STORE_SCHEMA") or re.sub(r"[^a-z0-9_]", "_", app_config.APP_NAME.lower())
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", raw):
        raise StoreConfigError(
            f"AGENT_STORE_SCHEMA={raw!r} is not a plain Postgres schema name (lowercase letters, digits, _)."
        )
    return raw


def _connect_timeout(environ: Mapping[str, str]) -> float:
    raw = environ.get("AGENT_STORE_CONNECT_TIMEOUT", "")
    if not raw:
        return DEFAULT_CONNECT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise StoreConfigError(f"AGENT_STORE_CONNECT_TIMEOUT must be a positive number of seconds, not {raw!r}.")
    return value
