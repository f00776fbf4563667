"""A throwaway PostgreSQL server for the store's tests (no mock database).

The `postgres` fixture starts one cluster per test session from the PostgreSQL binaries on this
machine (Debian: /usr/lib/postgresql/<version>/bin; elsewhere `pg_ctl` on PATH) on 127.0.0.1 and
a free port, and removes it afterwards. initdb refuses to run as root, so as root (CI containers)
the cluster runs as the `postgres` system user. Without the binaries the tests are skipped with
the reason, except under CI=true, where they fail: CI must test Postgres.

Local connections are trusted; the role `lakebase_app` (see `set_password`) must log in with a
password, as Lakebase's OAuth credentials are checked.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PASSWORD_ROLE = "lakebase_app"
PG_HBA = f"""\
local all all trust
host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


@dataclass
class PostgresServer:
    port: int
    data_dir: Path

    def url(self, user: str = "postgres", password: str | None = None, database: str = "postgres") -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def execute(self, statement: sql.Composable | str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(statement if isinstance(statement, sql.Composable) else sql.SQL(statement))  # type: ignore[arg-type]

    def new_schema_name(self) -> str:
        """A fresh schema name, so each test starts from an empty database of its own."""
        return f"test_{uuid.uuid4().hex[:12]}"

    def set_password(self, password: str) -> None:
        """(Re)create the password-checked role with this password, and let it use the database."""
        self.execute(
            sql.SQL(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) "
                "THEN CREATE ROLE {role} LOGIN; END IF; END $$"
            ).format(name=sql.Literal(PASSWORD_ROLE), role=sql.Identifier(PASSWORD_ROLE))
        )
        self.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(PASSWORD_ROLE), sql.Literal(password)))
        self.execute(sql.SQL("GRANT CREATE ON DATABASE postgres TO {}").format(sql.Identifier(PASSWORD_ROLE)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries installed, or None."""
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if debian:
        return Path(debian[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _as_server_user(command: list[str]) -> list[str]:
    """initdb and postgres refuse root: run them as the `postgres` user when we are root."""
    if os.name == "posix" and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def start_postgres(bin_dir: Path, *, durable: bool = False) -> PostgresServer:
    """A new cluster; `durable` keeps fsync on (benchmarks), tests run without it."""
    root = Path(tempfile.mkdtemp(prefix="agent-store-pg-"))
    data_dir, log = root / "data", root / "server.log"
    if os.name == "posix" and os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    run = _as_server_user
    subprocess.run(
        run(
            [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    (data_dir / "pg_hba.conf").write_text(PG_HBA)
    port = free_port()
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c max_connections=200"
    if not durable:
        options += " -c fsync=off"
    started = subprocess.run(
        run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-o", options, "-w", "-t", "60", "start"]),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    if started.returncode != 0:
        details = log.read_text() if log.exists() else started.stderr
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout}\n{details}")
    return PostgresServer(port, data_dir)


def stop_postgres(server: PostgresServer, bin_dir: Path) -> None:
    subprocess.run(
        _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-m", "immediate", "stop"]),
        capture_output=True,
        timeout=60,
        check=False,
    )
    shutil.rmtree(server.data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        reason = "PostgreSQL server binaries not found (apt-get install postgresql, or put pg_ctl on PATH)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: CI must run the Postgres tests.")
        pytest.skip(reason)
    server = start_postgres(bin_dir)
    try:
        yield server
    finally:
        stop_postgres(server, bin_dir)
