"""Reaching the model: a Databricks serving endpoint, or any OpenAI-compatible server.

- OPENAI_BASE_URL set (Ollama, vLLM, a proxy ...): that server, with OPENAI_API_KEY if needed.
- Otherwise the Databricks workspace that databricks-sdk finds: DATABRICKS_HOST + DATABRICKS_TOKEN,
  DATABRICKS_CONFIG_PROFILE, OAuth M2M (DATABRICKS_CLIENT_ID/SECRET, as on Databricks Apps) ...
  Its OpenAI-compatible API lives at {host}/serving-endpoints. When DATABRICKS_HOST and
  DATABRICKS_TOKEN are the whole configuration, the token is sent as the SDK would send it, without
  importing the SDK (~1 s): see token_from_env().

Missing credentials or an unreachable host raise ModelAccessError within seconds, with a message
that says what to set (the SDK alone would retry a refused host for minutes). Model calls follow
one timeout and retry policy, whatever the framework (agent_server.model_http).

On behalf of users (app_config.user_auth()), calls made while serving a request that forwards the
signed-in user's token (`x-forwarded-access-token`) carry that token instead of the app's own
credentials: see DatabricksAuth. Another OpenAI-compatible server never receives it.
"""

from __future__ import annotations

import os
import socket
import weakref
from collections.abc import Callable, Generator
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from openai import AsyncOpenAI

from agent_server import app_config
from agent_server.errors import ModelAccessError
from agent_server.model_http import ModelTransport, TimeoutPolicy
from agent_server.request_context import get_user_token

if TYPE_CHECKING:  # databricks.sdk takes ~1 s to import: only when Databricks is the model server
    from databricks.sdk.core import Config

CONNECT_TIMEOUT_S = 5.0  # the reachability check of the workspace
HOW_TO_CONFIGURE = (
    "Set DATABRICKS_HOST and DATABRICKS_TOKEN (or DATABRICKS_CONFIG_PROFILE, or "
    "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET), or OPENAI_BASE_URL for another "
    "OpenAI-compatible server. `uv run agent-server --demo` runs offline against a stand-in."
)
# Credentials besides a token that databricks-sdk reads from the environment: with any of them set,
# the SDK chooses (and refuses a conflicting mix).
OTHER_CREDENTIALS = (
    "DATABRICKS_CONFIG_PROFILE",
    "DATABRICKS_AUTH_TYPE",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_USERNAME",
    "DATABRICKS_PASSWORD",
    "DATABRICKS_AZURE_RESOURCE_ID",
    "ARM_CLIENT_ID",
    "ARM_CLIENT_SECRET",
    "GOOGLE_CREDENTIALS",
    "DATABRICKS_GOOGLE_SERVICE_ACCOUNT",
)


class DatabricksAuth(httpx.Auth):
    """Databricks auth headers, chosen as each request is sent.

    The user's token when `acting_user_token()` gives one, else the app's own credentials, fresh
    each time (OAuth tokens expire; the SDK refreshes them). The token is read from the context of
    the request being served, so one pooled client serves every user and keeps no user's
    credential. Tasks started while serving a request (framework nodes and tools, background
    runs) inherit that context, and with it the identity of the request that started them.
    """

    def __init__(self, app_headers: Callable[[], dict[str, str]]) -> None:
        self.app_headers = app_headers
        app_config.user_auth()  # a bad $USER_AUTH fails here with its message, not later in a connection error

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        user_token = acting_user_token()
        if user_token:
            request.headers["Authorization"] = f"Bearer {user_token}"
        else:
            request.headers.update(self.app_headers())
        yield request


def acting_user_token() -> str | None:
    """The token that Databricks calls made now carry instead of the app's credentials: the request's
    user token when the app acts on behalf of users; None for the app's own identity."""
    return get_user_token() if app_config.user_auth() else None


@cache
def openai_client() -> AsyncOpenAI:
    """The OpenAI client for the configured model server (see the module docstring), made once."""
    base_url = os.environ.get("OPENAI_BASE_URL")
    if base_url:
        return AsyncOpenAI(
            base_url=base_url,
            api_key=os.environ.get("OPENAI_API_KEY", "unused"),
            max_retries=0,  # the transport retries what is safe to retry (agent_server.model_http)
            http_client=model_http_client(),  # type: ignore[arg-type,unused-ignore]
        )
    host, app_headers = databricks_auth()
    return AsyncOpenAI(
        base_url=f"{host}/serving-endpoints",
        api_key="unused",  # DatabricksAuth sets the Authorization header
        max_retries=0,  # the transport retries what is safe to retry (agent_server.model_http)
        # openai takes httpx (1.x) and httpx2 (3.x) clients; its annotations name only its own
        http_client=model_http_client(DatabricksAuth(app_headers)),  # type: ignore[arg-type,unused-ignore]
    )


@cache
def databricks_auth() -> tuple[str, Callable[[], dict[str, str]]]:
    """The workspace URL, checked to be reachable, and how to get the app's own auth headers. Cached
    once it works (model and MCP calls share it)."""
    token = token_from_env()
    if token is None:
        config = databricks_config()
        return config.host, config.authenticate
    host, secret = token
    check_reachable(host)
    return host, lambda: {"Authorization": f"Bearer {secret}"}


def token_from_env() -> tuple[str, str] | None:
    """(workspace URL, token) when DATABRICKS_HOST and DATABRICKS_TOKEN alone configure the workspace.

    The SDK's "pat" auth sends that token as a bearer token, to the host as given less a trailing
    slash and a :443 port, with https:// when it names no scheme; so does this, without importing the
    SDK. With any other credential set (OTHER_CREDENTIALS), None: the SDK decides.
    """
    host, token = os.environ.get("DATABRICKS_HOST"), os.environ.get("DATABRICKS_TOKEN")
    if not host or not token or any(os.environ.get(name) for name in OTHER_CREDENTIALS):
        return None
    url = urlsplit(host if "://" in host else f"https://{host}")
    netloc = url.netloc.removesuffix(":443") if url.port == 443 else url.netloc
    return url._replace(netloc=netloc, path=url.path.rstrip("/")).geturl(), token


def forget_clients() -> None:
    """Drop the cached client and workspace settings: the next call reads the environment again."""
    openai_client.cache_clear()
    databricks_auth.cache_clear()
    databricks_config.cache_clear()


def model_http_client(auth: httpx.Auth | None = None) -> httpx.AsyncClient:
    """An HTTP client for model calls: the timeout policy from the environment, checked streams."""
    try:
        policy = TimeoutPolicy.from_env()
    except ValueError as exc:
        raise ModelAccessError(str(exc)) from None
    transport = ModelTransport(policy)
    _transports.add(transport)
    # ModelTransport times every call and takes the proxy the environment names (httpx would ignore
    # it with a transport of our own)
    return httpx.AsyncClient(auth=auth, timeout=None, transport=transport, trust_env=False)


_transports: weakref.WeakSet[ModelTransport] = weakref.WeakSet()


async def close_connections() -> None:
    """Close the model calls' open connections of this event loop (the server's shutdown)."""
    for transport in list(_transports):
        await transport.close_connections()


@cache
def databricks_config() -> Config:
    """The workspace configuration, checked to be reachable. Cached once it works."""
    host = os.environ.get("DATABRICKS_HOST")
    profile_file = os.path.expanduser(os.environ.get("DATABRICKS_CONFIG_FILE", "~/.databrickscfg"))
    if not host and not os.environ.get("DATABRICKS_CONFIG_PROFILE") and not os.path.exists(profile_file):
        raise ModelAccessError(f"No model server is configured. {HOW_TO_CONFIGURE}")
    if host:
        check_reachable(host)
    from databricks.sdk.core import Config

    try:
        config = Config(http_timeout_seconds=30, retry_timeout_seconds=30)
    except ValueError as exc:
        raise ModelAccessError(f"Databricks authentication failed: {exc}. {HOW_TO_CONFIGURE}") from None
    if not host:
        check_reachable(config.host)
    return config


def check_reachable(host: str) -> None:
    """Fail in seconds, not minutes, when nothing listens at `host`."""
    if error := connect_error(host):
        raise ModelAccessError(f"Cannot reach DATABRICKS_HOST={host} ({error}). {HOW_TO_CONFIGURE}")


def connect_error(host: str) -> OSError | None:
    """Why a TCP connection to `host` (a URL or a bare host name) fails within seconds; None if it opens."""
    url = urlsplit(host if "://" in host else f"https://{host}")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        return exc
    return None
