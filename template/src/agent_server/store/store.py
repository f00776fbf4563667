"""The state store's API: responses and their events, conversations and their items, per user.

Every method that takes `user` reads and writes only that user's rows: another user's response or
conversation is indistinguishable from a missing one (None, False or NotFound). Methods without
`user` are the background engine's (agent_server.background), which addresses runs by id.

Sequence numbers and item positions are taken from a counter on the parent row with
`UPDATE ... RETURNING` in the same transaction as the insert: unique and gap-free under
concurrent writers in any number of processes, on sqlite and Postgres alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Row, and_, delete, insert, literal, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agent_server.store import migrate, postgres, sqlite
from agent_server.store.errors import NotFound, ResponseClosed, StoreUnavailable
from agent_server.store.lakebase import LakebaseCredentials
from agent_server.store.records import (
    TERMINAL_STATUSES,
    Conversation,
    ConversationItem,
    EventsPage,
    JSONDict,
    ResponseStatus,
    StoredEvent,
    StoredResponse,
)
from agent_server.store.schema import (
    approval_decisions,
    approval_requests,
    conversation_items,
    conversations,
    response_events,
    responses,
)
from agent_server.store.settings import HOW_TO_CONFIGURE, StoreSettings, settings_from_env

logger = logging.getLogger("agent_server.store")
OPEN_STATUSES = ("queued", "in_progress")
POLL_MIN_S = 0.05  # how often a waiting reader looks for new events; it backs off while idle ...
POLL_MAX_S = 0.25  # ... up to this, and is woken at once by writes from its own process
READ_LIMIT = 1000


async def open_store(settings: StoreSettings | None = None, *, migrate_schema: bool = True) -> Store:
    """Connect (failing fast with what to set), migrate when behind, and return the store."""
    settings = settings or settings_from_env()
    credentials = None
    if settings.backend == "sqlite":
        engine = sqlite.create_engine(settings)
    else:
        if settings.lakebase is not None:
            assert settings.url.host
            credentials = LakebaseCredentials(settings.url.host, settings.lakebase, timeout=settings.connect_timeout)
            await asyncio.to_thread(credentials.password)  # mint the first one off the event loop
        engine = postgres.create_engine(settings, credentials)
    try:
        async with asyncio.timeout(settings.connect_timeout * 3 + 5):
            migrated = await migrate.upgrade(engine, settings) if migrate_schema else await _ping(engine)
    except BaseException as exc:
        await engine.dispose()
        if isinstance(exc, OSError | SQLAlchemyError | TimeoutError):
            raise StoreUnavailable(
                f"Cannot use the state store at {settings.describe()}: {_reason(exc)}. {HOW_TO_CONFIGURE}"
            ) from exc
        raise
    logger.info("State store: %s", settings.describe())
    return Store(engine, settings, credentials=credentials, migrated=migrated)


async def _ping(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        await connection.run_sync(lambda _: None)
    return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig).strip().splitlines()[0]
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class Store:
    """Open it with `open_store()`; close it with `close()`."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: StoreSettings,
        *,
        credentials: LakebaseCredentials | None = None,
        migrated: bool = False,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.migrated = migrated  # whether this process brought the schema up to date when it opened
        self._appended: dict[str, asyncio.Event] = {}  # wakes this process's readers at once
        self._background: set[asyncio.Task[None]] = set()
        if credentials is not None:
            self._background.add(asyncio.create_task(credentials.keep_fresh(), name="lakebase-credential-refresh"))

    @property
    def backend(self) -> str:
        """The database: "sqlite" or "postgresql"."""
        return self.settings.backend

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.engine.dispose()

    # -- responses ----------------------------------------------------------------------------
    async def create_response(
        self,
        user: str,
        request: JSONDict,
        *,
        response_id: str | None = None,
        status: ResponseStatus = "queued",
        background: bool = False,
        conversation_id: str | None = None,
        previous_response_id: str | None = None,
    ) -> StoredResponse:
        """A new response. NotFound when the conversation or previous response is not this user's."""
        now = time.time()
        async with self.engine.begin() as connection:
            if conversation_id is not None:
                await self._conversation_row(connection, conversation_id, user)
            if (
                previous_response_id is not None
                and await self._response_row(connection, previous_response_id, user) is None
            ):
                raise NotFound(f"No response {previous_response_id}.")
            row = await connection.execute(
                insert(responses)
                .values(
                    id=response_id or _new_id("resp"),
                    user_id=user,
                    conversation_id=conversation_id,
                    previous_response_id=previous_response_id,
                    status=status,
                    background=background,
                    request=request,
                    next_sequence_number=0,
                    cancel_requested=False,
                    created_at=now,
                    updated_at=now,
                )
                .returning(*responses.c)
            )
            return _response(row.one())

    async def get_response(self, response_id: str, user: str) -> StoredResponse | None:
        async with self.engine.connect() as connection:
            row = await self._response_row(connection, response_id, user)
        return _response(row) if row is not None else None

    async def response_history(self, response_id: str, user: str) -> list[StoredResponse]:
        """The chain of `previous_response_id`s ending at `response_id`, oldest first (NotFound if absent)."""
        chain = (
            select(responses.c.id, responses.c.previous_response_id, literal(0).label("depth"))
            .where(responses.c.id == response_id, responses.c.user_id == user)
            .cte("chain", recursive=True)
        )
        chain = chain.union_all(
            select(responses.c.id, responses.c.previous_response_id, (chain.c.depth + 1).label("depth")).where(
                responses.c.id == chain.c.previous_response_id, responses.c.user_id == user
            )
        )
        query = select(*responses.c).join(chain, responses.c.id == chain.c.id).order_by(chain.c.depth.desc())
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        if not rows:
            raise NotFound(f"No response {response_id}.")
        return [_response(row) for row in rows]

    async def finish_response(
        self,
        response_id: str,
        status: ResponseStatus,
        *,
        output: Any = None,
        error: JSONDict | None = None,
        owner: str | None = None,
    ) -> bool:
        """Record the end of a response; False when it had already finished (or `owner` lost it)."""
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"{status!r} is not a final status")
        conditions = [responses.c.id == response_id, responses.c.status.in_(OPEN_STATUSES)]
        if owner is not None:
            conditions.append(responses.c.owner == owner)
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(responses)
                .where(*conditions)
                .values(
                    status=status, output=output, error=error, owner=None, lease_expires_at=None, updated_at=time.time()
                )
            )
        self._wake(response_id)
        return result.rowcount == 1

    async def request_cancel(self, response_id: str, user: str) -> StoredResponse | None:
        """Ask for a response to stop. A queued one nobody runs is cancelled at once; a running one is
        flagged, and its background engine stops it. Returns the response as it is now (None if absent)."""
        now = time.time()
        async with self.engine.begin() as connection:
            await connection.execute(
                update(responses)
                .where(
                    responses.c.id == response_id,
                    responses.c.user_id == user,
                    responses.c.status == "queued",
                    responses.c.owner.is_(None),
                )
                .values(status="cancelled", cancel_requested=True, updated_at=now)
            )
            await connection.execute(
                update(responses)
                .where(
                    responses.c.id == response_id,
                    responses.c.user_id == user,
                    responses.c.status.in_(OPEN_STATUSES),
                )
                .values(cancel_requested=True, updated_at=now)
            )
            row = await self._response_row(connection, response_id, user)
        self._wake(response_id)
        return _response(row) if row is not None else None

    async def is_cancel_requested(self, response_id: str) -> bool:
        async with self.engine.connect() as connection:
            flag = await connection.scalar(select(responses.c.cancel_requested).where(responses.c.id == response_id))
        return bool(flag)

    async def delete_response(self, response_id: str, user: str) -> bool:
        """Delete a response and its events (conversation items it produced stay)."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                delete(responses).where(responses.c.id == response_id, responses.c.user_id == user)
            )
        return result.rowcount == 1

    # -- events ---------------------------------------------------------------------------------
    async def append_events(self, response_id: str, events: Sequence[Mapping[str, Any]]) -> list[StoredEvent]:
        """Append events, numbering them; each stored copy's "sequence_number" is set to its number.

        Raises ResponseClosed once the response has finished, NotFound when it does not exist.
        """
        if not events:
            return []
        now = time.time()
        async with self.engine.begin() as connection:
            next_number = await connection.scalar(
                update(responses)
                .where(responses.c.id == response_id, responses.c.status.in_(OPEN_STATUSES))
                .values(next_sequence_number=responses.c.next_sequence_number + len(events), updated_at=now)
                .returning(responses.c.next_sequence_number)
            )
            if next_number is None:
                status = await connection.scalar(select(responses.c.status).where(responses.c.id == response_id))
                if status is None:
                    raise NotFound(f"No response {response_id}.")
                raise ResponseClosed(f"Response {response_id} is {status}: no more events can be added.")
            first = next_number - len(events)
            stored = [
                StoredEvent(response_id, first + i, {**event, "sequence_number": first + i})
                for i, event in enumerate(events)
            ]
            await connection.execute(
                insert(response_events),
                [
                    {
                        "response_id": response_id,
                        "sequence_number": e.sequence_number,
                        "event": e.data,
                        "created_at": now,
                    }
                    for e in stored
                ],
            )
        self._wake(response_id)
        return stored

    async def read_events(
        self, response_id: str, user: str, *, after: int = -1, limit: int = READ_LIMIT
    ) -> list[StoredEvent]:
        """Events with a sequence number above `after`, in order (NotFound when the response is absent)."""
        async with self.engine.connect() as connection:
            if await self._response_row(connection, response_id, user) is None:
                raise NotFound(f"No response {response_id}.")
            return await self._events_after(connection, response_id, after, limit)

    async def wait_for_events(
        self, response_id: str, user: str, *, after: int = -1, timeout: float = 15.0, limit: int = READ_LIMIT
    ) -> EventsPage:
        """Events after `after` as soon as there are any, or an empty page after `timeout` seconds.

        Returns at once when the response has finished. Writes from any process are seen: this
        process's at once, others' within POLL_MAX_S (polling backs off while nothing comes).
        """
        deadline = time.monotonic() + timeout
        interval = POLL_MIN_S
        while True:
            wakeup = self._appended.setdefault(response_id, asyncio.Event())
            async with self.engine.connect() as connection:
                status = await connection.scalar(
                    select(responses.c.status).where(responses.c.id == response_id, responses.c.user_id == user)
                )
                if status is None:
                    raise NotFound(f"No response {response_id}.")
                events = await self._events_after(connection, response_id, after, limit)
            if status in TERMINAL_STATUSES and self._appended.get(response_id) is wakeup:
                del self._appended[response_id]  # nothing will be written to it any more
            remaining = deadline - time.monotonic()
            if events or status in TERMINAL_STATUSES or remaining <= 0:
                return EventsPage(events, status)
            try:
                await asyncio.wait_for(wakeup.wait(), min(interval, remaining))
            except TimeoutError:
                interval = min(interval * 2, POLL_MAX_S)

    async def tail_events(
        self, response_id: str, user: str, *, after: int = -1, idle_timeout: float = 15.0
    ) -> AsyncIterator[list[StoredEvent]]:
        """Batches of events until the response has finished and every event was yielded.

        An empty batch means `idle_timeout` seconds passed without events (time for an SSE keep-alive).
        """
        while True:
            page = await self.wait_for_events(response_id, user, after=after, timeout=idle_timeout)
            if page.finished:
                return
            if page.events:
                after = page.events[-1].sequence_number
            yield page.events

    # -- background runs (agent_server.background) ------------------------------------------------
    async def record_approval_request(self, request_id: str, user: str, name: str, arguments: str) -> None:
        """Remember that this app asked `user` to approve a call of tool `name` with `arguments`."""
        values = {"request_id": request_id, "user_id": user, "name": name, "arguments": arguments}
        try:
            async with self.engine.begin() as connection:
                await connection.execute(insert(approval_requests).values(**values, created_at=time.time()))
        except IntegrityError:  # recorded already (the same item sent twice)
            pass

    async def issued_approval_request(self, request_id: str, user: str, name: str, arguments: str) -> bool:
        """Whether this app asked `user` to approve request `request_id`, a call of `name` with `arguments`."""
        columns = (approval_requests.c.user_id, approval_requests.c.name, approval_requests.c.arguments)
        async with self.engine.connect() as connection:
            found = await connection.execute(select(*columns).where(approval_requests.c.request_id == request_id))
            row = found.one_or_none()
        return row is not None and tuple(row) == (user, name, arguments)

    async def claim_decision(self, request_id: str, user: str, approve: bool) -> bool:
        """Record `user`'s decision on approval request `request_id`; False when it was decided before
        (by any request, in any process): the caller must not act on it again."""
        try:
            async with self.engine.begin() as connection:
                await connection.execute(
                    insert(approval_decisions).values(
                        request_id=request_id, user_id=user, approve=approve, created_at=time.time()
                    )
                )
        except IntegrityError:
            return False
        return True

    async def claim_response(self, response_id: str, owner: str, lease_seconds: float) -> StoredResponse | None:
        """Make `owner` the runner of a queued response (now in_progress); None when it is not claimable."""
        now = time.time()
        async with self.engine.begin() as connection:
            row = await connection.execute(
                update(responses)
                .where(responses.c.id == response_id, responses.c.status == "queued", responses.c.owner.is_(None))
                .values(status="in_progress", owner=owner, lease_expires_at=now + lease_seconds, updated_at=now)
                .returning(*responses.c)
            )
            claimed = row.one_or_none()
        return _response(claimed) if claimed is not None else None

    async def renew_leases(self, owner: str, response_ids: Iterable[str], lease_seconds: float) -> set[str]:
        """Extend `owner`'s leases; the ids it still holds (a missing one was taken from it)."""
        ids = list(response_ids)
        if not ids:
            return set()
        now = time.time()
        async with self.engine.begin() as connection:
            rows = await connection.execute(
                update(responses)
                .where(responses.c.id.in_(ids), responses.c.owner == owner, responses.c.status.in_(OPEN_STATUSES))
                .values(lease_expires_at=now + lease_seconds)
                .returning(responses.c.id)
            )
            return {row.id for row in rows}

    async def cancel_requests(self, response_ids: Iterable[str]) -> set[str]:
        """Which of these responses someone asked to cancel."""
        ids = list(response_ids)
        if not ids:
            return set()
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(responses.c.id).where(responses.c.id.in_(ids), responses.c.cancel_requested.is_(True))
            )
            return {row.id for row in rows}

    async def fail_abandoned(self, error: JSONDict, *, unclaimed_after: float) -> list[str]:
        """Mark failed every open response whose runner stopped renewing its lease, and every queued one
        that nobody claimed within `unclaimed_after` seconds (its process died before it could). Returns
        their ids. A response that runs is always claimed (agent_server.background), so none is missed."""
        now = time.time()
        abandoned = and_(responses.c.status.in_(OPEN_STATUSES), responses.c.lease_expires_at < now)
        unclaimed = and_(
            responses.c.status == "queued",
            responses.c.owner.is_(None),
            responses.c.created_at < now - unclaimed_after,
        )
        async with self.engine.begin() as connection:
            rows = await connection.execute(
                update(responses)
                .where(abandoned | unclaimed)
                .values(status="failed", error=error, owner=None, lease_expires_at=None, updated_at=now)
                .returning(responses.c.id)
            )
            ids = [row.id for row in rows]
        for response_id in ids:
            self._wake(response_id)
        return ids

    # -- conversations --------------------------------------------------------------------------
    async def create_conversation(
        self,
        user: str,
        *,
        title: str | None = None,
        metadata: JSONDict | None = None,
        items: Sequence[JSONDict] = (),
        conversation_id: str | None = None,
    ) -> Conversation:
        now = time.time()
        new_id = conversation_id or _new_id("conv")
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(conversations).values(
                    id=new_id,
                    user_id=user,
                    title=title,
                    metadata=metadata or {},
                    next_position=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            if items:
                await self._add_items(connection, new_id, items, None, now)
            return _conversation(await self._conversation_row(connection, new_id, user))

    async def ensure_conversation(
        self, conversation_id: str, user: str, *, metadata: JSONDict | None = None
    ) -> Conversation:
        """The conversation with this id, created for `user` when it does not exist yet (safe when several
        requests create it at once). NotFound when the id belongs to another user."""
        found = await self.get_conversation(conversation_id, user)
        if found is not None:
            return found
        try:
            return await self.create_conversation(user, metadata=metadata, conversation_id=conversation_id)
        except IntegrityError:  # created meanwhile by another request, or another user's
            found = await self.get_conversation(conversation_id, user)
            if found is None:
                raise NotFound(f"No conversation {conversation_id}.") from None
            return found

    async def get_conversation(self, conversation_id: str, user: str) -> Conversation | None:
        async with self.engine.connect() as connection:
            try:
                return _conversation(await self._conversation_row(connection, conversation_id, user))
            except NotFound:
                return None

    async def list_conversations(self, user: str, *, limit: int = 20, offset: int = 0) -> list[Conversation]:
        """This user's conversations, most recently active first."""
        query = (
            select(*conversations.c)
            .where(conversations.c.user_id == user)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self.engine.connect() as connection:
            return [_conversation(row) for row in await connection.execute(query)]

    async def update_conversation(
        self, conversation_id: str, user: str, *, title: str | None = None, metadata: JSONDict | None = None
    ) -> Conversation | None:
        """Rename and/or replace the metadata; None when absent."""
        values: dict[str, Any] = {"updated_at": time.time()}
        if title is not None:
            values["title"] = title
        if metadata is not None:
            values["metadata"] = metadata
        async with self.engine.begin() as connection:
            row = await connection.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, conversations.c.user_id == user)
                .values(**values)
                .returning(*conversations.c)
            )
            updated = row.one_or_none()
        return _conversation(updated) if updated is not None else None

    async def delete_conversation(self, conversation_id: str, user: str) -> bool:
        """Delete a conversation and its items (its responses stay, detached)."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                delete(conversations).where(conversations.c.id == conversation_id, conversations.c.user_id == user)
            )
        return result.rowcount == 1

    async def add_items(
        self, conversation_id: str, user: str, items: Sequence[JSONDict], *, response_id: str | None = None
    ) -> list[ConversationItem]:
        """Append items in order (NotFound when the conversation is not this user's)."""
        if not items:
            return []
        now = time.time()
        async with self.engine.begin() as connection:
            return await self._add_items(connection, conversation_id, items, response_id, now, user=user)

    async def list_items(
        self,
        conversation_id: str,
        user: str,
        *,
        after: int = -1,
        before: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[ConversationItem]:
        """Items by position, above `after` and below `before`. NotFound when the conversation is absent."""
        order = conversation_items.c.position.desc() if newest_first else conversation_items.c.position
        query = select(*conversation_items.c).where(
            conversation_items.c.conversation_id == conversation_id, conversation_items.c.position > after
        )
        if before is not None:
            query = query.where(conversation_items.c.position < before)
        async with self.engine.connect() as connection:
            await self._conversation_row(connection, conversation_id, user)
            rows = await connection.execute(query.order_by(order).limit(limit))
            return [_item(row) for row in rows]

    async def get_item(self, conversation_id: str, item_id: str, user: str) -> ConversationItem | None:
        """One item by its id (None when absent). NotFound when the conversation is absent."""
        async with self.engine.connect() as connection:
            await self._conversation_row(connection, conversation_id, user)
            row = await connection.execute(
                select(*conversation_items.c).where(
                    conversation_items.c.conversation_id == conversation_id, conversation_items.c.item_id == item_id
                )
            )
            found = row.one_or_none()
        return _item(found) if found is not None else None

    async def replace_items(
        self,
        conversation_id: str,
        user: str,
        items: Sequence[JSONDict],
        *,
        from_position: int | None = None,
        response_id: str | None = None,
        title: str | None = None,
    ) -> list[ConversationItem]:
        """In one transaction: drop the items at `from_position` and after (None: drop none), append
        `items`, and set the title when the conversation has none. NotFound when it is not this user's."""
        now = time.time()
        async with self.engine.begin() as connection:
            await self._conversation_row(connection, conversation_id, user)
            if from_position is not None:
                await connection.execute(
                    delete(conversation_items).where(
                        conversation_items.c.conversation_id == conversation_id,
                        conversation_items.c.position >= from_position,
                    )
                )
            if title:
                await connection.execute(
                    update(conversations)
                    .where(conversations.c.id == conversation_id, conversations.c.title.is_(None))
                    .values(title=title)
                )
            if not items:
                return []
            return await self._add_items(connection, conversation_id, items, response_id, now, user=user)

    async def delete_item(self, conversation_id: str, item_id: str, user: str) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                delete(conversation_items).where(
                    conversation_items.c.conversation_id == conversation_id,
                    conversation_items.c.item_id == item_id,
                    conversation_items.c.conversation_id.in_(
                        select(conversations.c.id).where(conversations.c.user_id == user)
                    ),
                )
            )
        return result.rowcount == 1

    # -- helpers --------------------------------------------------------------------------------
    async def _add_items(
        self,
        connection: AsyncConnection,
        conversation_id: str,
        items: Sequence[JSONDict],
        response_id: str | None,
        now: float,
        *,
        user: str | None = None,
    ) -> list[ConversationItem]:
        condition = conversations.c.id == conversation_id
        if user is not None:
            condition = condition & (conversations.c.user_id == user)
        next_position = await connection.scalar(
            update(conversations)
            .where(condition)
            .values(next_position=conversations.c.next_position + len(items), updated_at=now)
            .returning(conversations.c.next_position)
        )
        if next_position is None:
            raise NotFound(f"No conversation {conversation_id}.")
        first = next_position - len(items)
        added = []
        for offset, item in enumerate(items):
            item_id = str(item.get("id") or _new_id("msg" if item.get("type", "message") == "message" else "item"))
            added.append(
                ConversationItem(conversation_id, first + offset, item_id, {**item, "id": item_id}, response_id, now)
            )
        await connection.execute(
            insert(conversation_items),
            [
                {
                    "conversation_id": conversation_id,
                    "position": a.position,
                    "item_id": a.id,
                    "item": a.item,
                    "response_id": a.response_id,
                    "created_at": now,
                }
                for a in added
            ],
        )
        return added

    async def _response_row(self, connection: AsyncConnection, response_id: str, user: str) -> Row[Any] | None:
        result = await connection.execute(
            select(*responses.c).where(responses.c.id == response_id, responses.c.user_id == user)
        )
        return result.one_or_none()

    async def _conversation_row(self, connection: AsyncConnection, conversation_id: str, user: str) -> Row[Any]:
        result = await connection.execute(
            select(*conversations.c).where(conversations.c.id == conversation_id, conversations.c.user_id == user)
        )
        row = result.one_or_none()
        if row is None:
            raise NotFound(f"No conversation {conversation_id}.")
        return row

    async def _events_after(
        self, connection: AsyncConnection, response_id: str, after: int, limit: int
    ) -> list[StoredEvent]:
        rows = await connection.execute(
            select(response_events.c.sequence_number, response_events.c.event)
            .where(response_events.c.response_id == response_id, response_events.c.sequence_number > after)
            .order_by(response_events.c.sequence_number)
            .limit(limit)
        )
        return [StoredEvent(response_id, row.sequence_number, row.event) for row in rows]

    def _wake(self, response_id: str) -> None:
        wakeup = self._appended.pop(response_id, None)
        if wakeup is not None:
            wakeup.set()


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _response(row: Row[Any]) -> StoredResponse:
    return StoredResponse(
        id=row.id,
        user=row.user_id,
        status=row.status,
        request=row.request,
        output=row.output,
        error=row.error,
        conversation_id=row.conversation_id,
        previous_response_id=row.previous_response_id,
        background=bool(row.background),
        cancel_requested=bool(row.cancel_requested),
        owner=row.owner,
        lease_expires_at=row.lease_expires_at,
        event_count=row.next_sequence_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(
        id=row.id,
        user=row.user_id,
        title=row.title,
        metadata=row.metadata,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _item(row: Row[Any]) -> ConversationItem:
    return ConversationItem(row.conversation_id, row.position, row.item_id, row.item, row.response_id, row.created_at)
