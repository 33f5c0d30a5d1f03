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

Unexpanded variables. Rasa substitutes `${VAR}` only in unquoted YAML values; a quoted one
(`db: "${TRACKER_DB}"`, as this project's endpoints.yml once had) reaches the store as the
literal text, and SQLite then creates a database file named `${TRACKER_DB}` in the working
directory: conversations silently land in the wrong file (one such file was committed at the
repository root). The store refuses any connection setting that still contains `${` before
anything is created, naming the setting (tests/unit/assistant/test_tracker_store_path.py).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from sqlalchemy.pool import QueuePool

from observability.rasa_metrics import METRICS, RasaMetrics

log = logging.getLogger(__name__)

# The connection settings a `${VAR}` of the endpoints file can end up in. The password is left
# out: a real one may contain "${", and an unexpanded one fails the login anyway.
_CONNECTION_SETTINGS = ("dialect", "host", "port", "db", "username", "login_db")


class UnexpandedVariableError(RasaException):
    """A tracker store setting still holds a `${VAR}`: the endpoints file quoted it, or the
    program that started Rasa read the file without Rasa's substitution. (Not an
    ImportError or AttributeError, which Rasa answers by falling back to an in-memory store.)"""


def refuse_unexpanded_variables(settings: dict[str, Any]) -> None:
    """Raises UnexpandedVariableError when a connection setting contains `${`."""
    bad = {k: v for k in _CONNECTION_SETTINGS
           if isinstance(v := settings.get(k), str) and "${" in v}
    if bad:
        names = ", ".join(f"{k}={v!r}" for k, v in bad.items())
        raise UnexpandedVariableError(
            f"tracker store: {names} still contains an unexpanded ${{...}} variable (with "
            "SQLite, a database file of that literal name in the working directory). "
            "Set the variable (e.g. TRACKER_DB=var/rasa/tracker.db) and keep ${...} values "
            "unquoted in the endpoints file: Rasa substitutes only unquoted values.")


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
        # Before Rasa's __init__, which creates the SQLite file and its tables.
        given = inspect.signature(SQLTrackerStore.__init__).bind_partial(self, *args, **kwargs)
        refuse_unexpanded_variables({**given.arguments.get("kwargs", {}), **given.arguments})
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
