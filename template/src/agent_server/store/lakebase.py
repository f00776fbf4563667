"""Short-lived Postgres passwords for Lakebase, minted by the Databricks SDK for the app's identity.

On Databricks Apps the app's service principal connects as PGUSER with an OAuth database credential
(valid about an hour, checked only at login). It is minted with
`WorkspaceClient().database.generate_database_credential(instance_names=[...])` for Lakebase
Provisioned and `WorkspaceClient().postgres.generate_database_credential(endpoint=...)` for Lakebase
Autoscaling. Which one: LAKEBASE_INSTANCE_NAME or LAKEBASE_ENDPOINT when set, else the instance or
endpoint whose host is PGHOST, looked up once.

`password()` is what SQLAlchemy's `do_connect` hook asks for each new connection; `keep_fresh()`
re-mints in a thread before expiry, so connecting never waits on the workspace in steady state.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agent_server.store.errors import StoreUnavailable
from agent_server.store.settings import LakebaseTarget

if TYPE_CHECKING:  # databricks.sdk takes ~1 s to import: only when Lakebase is used
    from databricks.sdk import WorkspaceClient

logger = logging.getLogger("agent_server.store")
ASSUMED_LIFETIME_S = 3600.0  # when the credential carries no expiry
REFRESH_BEFORE_EXPIRY_S = 600.0
HOW_TO_CONFIGURE = (
    "On Databricks Apps, add a Lakebase database resource to the app (databricks.yml) and set "
    "LAKEBASE_INSTANCE_NAME (Provisioned) or LAKEBASE_ENDPOINT (Autoscaling: projects/<p>/branches/<b>/endpoints/<e>); "
    "locally, authenticate to the workspace (DATABRICKS_HOST + DATABRICKS_TOKEN or DATABRICKS_CONFIG_PROFILE), or set "
    "PGPASSWORD or AGENT_STORE_URL instead."
)


class LakebaseCredentials:
    def __init__(
        self,
        host: str,
        target: LakebaseTarget,
        *,
        client: WorkspaceClient | None = None,
        refresh_before_expiry: float = REFRESH_BEFORE_EXPIRY_S,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.target = target
        self.refresh_before_expiry = refresh_before_expiry
        self._timeout = timeout
        self._client = client
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def password(self) -> str:
        """A credential valid for a while yet: the cached one, or a new one."""
        with self._lock:
            if self._token is None or time.time() >= self._expires_at - self.refresh_before_expiry:
                self._mint()
            assert self._token is not None
            return self._token

    @property
    def expires_at(self) -> float:
        return self._expires_at

    async def keep_fresh(self) -> None:
        """Re-mint before expiry, forever (run as a task; cancel it to stop)."""
        while True:
            delay = max(self._expires_at - self.refresh_before_expiry - time.time(), 1.0)
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(self.password)
            except StoreUnavailable as exc:  # the next connection tries again, and says why
                logger.warning("Could not refresh the Lakebase credential: %s", exc)
                await asyncio.sleep(30)

    # -- minting -----------------------------------------------------------------------------
    def _mint(self) -> None:
        client = self._workspace()
        try:
            kind, name = self._resolved(client)
            if kind == "endpoint":
                credential: Any = client.postgres.generate_database_credential(endpoint=name)
                expiry = float(credential.expire_time.ToSeconds()) if credential.expire_time else None
            else:
                credential = client.database.generate_database_credential(
                    request_id=str(uuid.uuid4()), instance_names=[name]
                )
                expiry = _parse_time(credential.expiration_time)
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(
                f"Could not get a Lakebase credential for {self.host}: {exc}. {HOW_TO_CONFIGURE}"
            ) from exc
        if not credential.token:
            raise StoreUnavailable(f"The workspace returned an empty Lakebase credential for {self.host}.")
        self._token = credential.token
        self._expires_at = expiry or time.time() + ASSUMED_LIFETIME_S
        logger.info("Lakebase credential minted for %s, valid until %s", self.host, _iso(self._expires_at))

    def _workspace(self) -> WorkspaceClient:
        if self._client is None:
            from databricks.sdk import WorkspaceClient
            from databricks.sdk.core import Config

            try:
                config = Config(http_timeout_seconds=self._timeout, retry_timeout_seconds=self._timeout)
            except ValueError as exc:
                raise StoreUnavailable(f"Databricks authentication failed: {exc}. {HOW_TO_CONFIGURE}") from None
            self._client = WorkspaceClient(config=config)
        return self._client

    def _resolved(self, client: WorkspaceClient) -> tuple[str, str]:
        """("endpoint", name) or ("instance", name): from the settings, else looked up by host once."""
        if not self.target.endpoint and not self.target.instance_name:
            instance = _instance_with_host(client, self.host)
            endpoint = None if instance else _endpoint_with_host(client, self.host)
            if not instance and not endpoint:
                raise StoreUnavailable(
                    f"No Lakebase instance or endpoint visible to this identity has the host {self.host}. "
                    f"{HOW_TO_CONFIGURE}"
                )
            self.target = LakebaseTarget(instance, endpoint)
        if self.target.endpoint:
            return "endpoint", self.target.endpoint
        assert self.target.instance_name
        return "instance", self.target.instance_name


def _instance_with_host(client: WorkspaceClient, host: str) -> str | None:
    """The Lakebase Provisioned instance serving `host` (None when there is none, or no access)."""
    try:
        for instance in client.database.list_database_instances():
            if host in (instance.read_write_dns, instance.read_only_dns):
                return instance.name
    except Exception as exc:  # noqa: BLE001 - API off or not permitted: not Provisioned
        logger.debug("Lakebase Provisioned lookup failed: %s", exc)
    return None


def _endpoint_with_host(client: WorkspaceClient, host: str) -> str | None:
    """The Lakebase Autoscaling endpoint serving `host` (None when there is none, or no access)."""
    try:
        for project in client.postgres.list_projects():
            for branch in client.postgres.list_branches(parent=str(project.name)):
                for endpoint in client.postgres.list_endpoints(parent=str(branch.name)):
                    hosts = endpoint.status.hosts if endpoint.status else None
                    if hosts and host in (hosts.host, hosts.read_write_pooled_host):
                        return endpoint.name
    except Exception as exc:  # noqa: BLE001 - API off or not permitted: not Autoscaling
        logger.debug("Lakebase Autoscaling lookup failed: %s", exc)
    return None


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")
