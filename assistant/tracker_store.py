"""The tracker store of both profiles: Rasa's SQL tracker store (SQLite or PostgreSQL), which
also feeds the conversation metrics, and keeps SQLite connections open in WAL mode.

Metrics. Every new event of every conversation passes through the tracker store's save,
whichever channel the turn came through and whichever instance served it, so it is the one
place that sees every turn. An event broker would see the same events, but with one
configured Rasa reads the whole stored conversation once more on every save to find them:
about 6 ms of a 32 ms turn under load (bench/load_bench.py; docs/scaling.md). Here the save
already knows them: they are the events it writes.

SQLite (embedded profile). Rasa opens a new SQLite connection for every query and syncs the
file on every commit. Here connections are pooled, the database is in WAL mode, and commits
use `synchronous=NORMAL`: together 8% of the Rasa server's CPU per turn. A committed turn
survives a crash of any process (tests/e2e kill servers mid-conversation); a power loss of
the machine can lose the last commits, which is why deployments that must survive one use the
scaled profile's PostgreSQL. Readers (the staff console) are unaffected: WAL readers see
every committed turn.

Endpoints (the keys are those of Rasa's `SQL` tracker store):

    tracker_store:
      type: assistant.tracker_store.AssistantSQLTrackerStore
      dialect: sqlite
      db: ${TRACKER_DB}
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.pool import QueuePool

from observability.rasa_metrics import METRICS, RasaMetrics

log = logging.getLogger(__name__)


def _sqlite_engine(url: Any) -> sa.engine.Engine:
    # Rasa's sessions never span an await, so connections are used one at a time; a second
    # pooled one serves the readiness check and the REST channel's paused check.
    engine = sa.create_engine(url, poolclass=QueuePool, pool_size=2,
                              connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


class AssistantSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, metrics: RasaMetrics = METRICS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics
        self._written: dict[str, list[Event]] = {}
        if self.engine.dialect.name == "sqlite":
            engine = _sqlite_engine(self.engine.url)
            self.engine.dispose()
            self.engine = engine
            self.sessionmaker = sa.orm.session.sessionmaker(bind=engine)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        # Called by SQLTrackerStore.save, with no await between here and its commit, so the
        # list kept for this sender cannot be another save's.
        events = list(super()._additional_events(session, tracker))
        self._written[tracker.sender_id] = events
        return iter(events)

    async def save(self, tracker: DialogueStateTracker) -> None:
        try:
            await super().save(tracker)
        finally:
            written = self._written.pop(tracker.sender_id, [])
        for event in written:  # only once they are stored
            self._record(tracker.sender_id, event)

    def _record(self, sender_id: str, event: Event) -> None:
        """Never raises: a metrics fault must not fail the turn the events belong to."""
        try:
            self.metrics.record_event({"sender_id": sender_id, **event.as_dict()})
        except Exception:
            log.exception("metrics: could not count event %s", event.type_name)
