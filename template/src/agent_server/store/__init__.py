"""The app's state store: responses and their events, conversations and their items.

An embedded sqlite file by default (`.agent/state.db`, zero setup, shared by `--workers N`), or
Postgres: AGENT_STORE_URL, or the Lakebase database Databricks Apps injects as PGHOST ... (see
`settings.py`). The schema is migrated on start-up (`migrate.py`).

    store = await open_store()            # in the app's lifespan; raises StoreUnavailable
    user = user_from_headers(request.headers)
    response = await store.create_response(user, body, background=True)
    ...
    await store.close()
"""

from agent_server.store.errors import NotFound, ResponseClosed, StoreUnavailable
from agent_server.store.records import (
    TERMINAL_STATUSES,
    Conversation,
    ConversationItem,
    EventsPage,
    ResponseStatus,
    StoredEvent,
    StoredResponse,
)
from agent_server.store.settings import StoreConfigError, StoreSettings, settings_from_env
from agent_server.store.store import Store, open_store
from agent_server.store.users import LOCAL_USER, user_from_headers

__all__ = [
    "LOCAL_USER",
    "TERMINAL_STATUSES",
    "Conversation",
    "ConversationItem",
    "EventsPage",
    "NotFound",
    "ResponseClosed",
    "ResponseStatus",
    "Store",
    "StoreConfigError",
    "StoreSettings",
    "StoreUnavailable",
    "StoredEvent",
    "StoredResponse",
    "open_store",
    "settings_from_env",
    "user_from_headers",
]
