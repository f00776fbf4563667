"""Where the store lives, how its schema is created and migrated, and failing fast when it is unreachable."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from agent_server import app_config
from agent_server.store import StoreConfigError, StoreUnavailable, open_store, settings_from_env
from agent_server.store.migrate import VERSION_TABLE, alembic_config, revisions
from agent_server.store.schema import metadata

pytestmark = pytest.mark.platform  # independent of the agent: the template's CI runs it in one app

pytest_plugins = ["postgres_server", "store_backends"]  # fixtures: postgres; backend, store_env, store


def test_the_default_is_an_sqlite_file_in_the_app_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = settings_from_env({})
    assert settings.backend == "sqlite"
    assert Path(settings.url.database or "") == tmp_path / ".agent" / "state.db"


async def test_the_embedded_store_is_created_on_first_use_in_wal_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store(settings_from_env({}))
    try:
        assert store.migrated
        async with store.engine.connect() as connection:
            assert (await connection.scalar(text("PRAGMA journal_mode"))) == "wal"
            assert (await connection.scalar(text("PRAGMA busy_timeout"))) >= 10_000
            assert (await connection.scalar(text("PRAGMA foreign_keys"))) == 1
    finally:
        await store.close()
    assert (tmp_path / ".agent" / "state.db").is_file()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@db:5432/app", "postgresql+psycopg"),
        ("postgres://u:p@db/app", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg"),
        ("sqlite:////var/data/state.db", "sqlite+aiosqlite"),
    ],
)
def test_agent_store_url_gets_the_async_driver(url: str, driver: str) -> None:
    settings = settings_from_env({"AGENT_STORE_URL": url, "PGHOST": "ignored.example.com"})
    assert settings.url.drivername == driver
    assert settings.lakebase is None
    assert "p@" not in settings.describe(), "passwords never reach messages"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AGENT_STORE_URL": "mysql://db/app"}, "not supported"),
        ({"AGENT_STORE_URL": "not a url"}, "not a valid database URL"),
        ({"AGENT_STORE_URL": "sqlite://"}, "needs a file path"),
        ({"PGHOST": "db.example.com", "PGDATABASE": "app"}, "PGUSER"),
        ({"PGHOST": "db", "PGUSER": "u", "PGDATABASE": "d", "PGPORT": "x"}, "PGPORT"),
        ({"AGENT_STORE_SCHEMA": "Robert'); DROP"}, "AGENT_STORE_SCHEMA"),
        ({"AGENT_STORE_CONNECT_TIMEOUT": "-1"}, "AGENT_STORE_CONNECT_TIMEOUT"),
    ],
)
def test_bad_settings_say_what_to_set(env: dict[str, str], message: str) -> None:
    with pytest.raises(StoreConfigError, match=message):
        settings_from_env(env)


def test_the_databricks_apps_postgres_variables_select_lakebase_credentials() -> None:
    injected = {
        "PGHOST": "instance-1.database.cloud.databricks.com",
        "PGPORT": "5432",
        "PGDATABASE": "databricks_postgres",
        "PGUSER": "9f1c-service-principal",
        "PGSSLMODE": "require",
        "LAKEBASE_INSTANCE_NAME": "instance-1",
    }
    settings = settings_from_env(injected)
    assert settings.url.render_as_string() == (
        "postgresql+psycopg://9f1c-service-principal@instance-1.database.cloud.databricks.com:5432/"
        "databricks_postgres?sslmode=require"
    )
    assert settings.lakebase is not None and settings.lakebase.instance_name == "instance-1"
    assert settings.schema == app_config.APP_NAME.replace("-", "_"), "the app's own schema"

    with_password = settings_from_env({**injected, "PGPASSWORD": "secret"})
    assert with_password.lakebase is None and with_password.url.password == "secret"


async def test_the_migrated_schema_matches_the_tables_the_code_uses(store_env: dict[str, str]) -> None:
    store = await open_store(settings_from_env(store_env))
    try:
        assert store.migrated

        def differences(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return list(compare_metadata(context, metadata))

        async with store.engine.connect() as connection:
            assert await connection.run_sync(differences) == []
            version = await connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        assert version == revisions()[-1]
    finally:
        await store.close()
    again = await open_store(settings_from_env(store_env))
    await again.close()
    assert not again.migrated, "an up-to-date schema is left alone"


async def test_an_unreachable_postgres_fails_fast_and_says_what_to_set() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = settings_from_env({"AGENT_STORE_URL": f"postgresql://app:secret@127.0.0.1:{port}/app"})
    with pytest.raises(StoreUnavailable, match="AGENT_STORE_URL") as raised:
        await open_store(settings)
    assert "secret" not in str(raised.value)
    assert f"127.0.0.1:{port}" in str(raised.value)


async def test_a_postgres_that_never_answers_fails_within_the_connect_timeout() -> None:
    """A server that accepts TCP connections but never speaks (a hung proxy) must not hang the app."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections complete in the backlog; nothing ever answers
        port = silent.getsockname()[1]
        settings = settings_from_env(
            {"AGENT_STORE_URL": f"postgresql://app@127.0.0.1:{port}/app", "AGENT_STORE_CONNECT_TIMEOUT": "2"}
        )
        with pytest.raises(StoreUnavailable, match="AGENT_STORE_URL"):  # not TimeoutError: the app's own bound
            await asyncio.wait_for(open_store(settings), timeout=60)


async def test_a_schema_from_a_newer_app_version_is_refused_with_an_explanation(store_env: dict[str, str]) -> None:
    store = await open_store(settings_from_env(store_env))
    async with store.engine.begin() as connection:
        await connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    await store.close()
    with pytest.raises(StoreUnavailable, match="revision 9999, which this version of the app does not know"):
        await open_store(settings_from_env(store_env))


def test_revisions_form_one_line_numbered_in_order() -> None:
    """The store finds the newest revision by its number, without Alembic: the numbers must agree with Alembic."""
    scripts = ScriptDirectory.from_config(alembic_config())
    chain = [script.revision for script in scripts.walk_revisions()][::-1]  # oldest first
    assert chain == revisions()
    assert scripts.get_heads() == [revisions()[-1]]
