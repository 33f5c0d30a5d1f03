"""Rasa's SQL tracker store, also feeding the conversation metrics with the events it stores.

Every new event of every conversation passes through the tracker store's save, whichever
channel the turn came through and whichever instance served it, so it is the one place that
sees every turn. It replaces an event broker: with a broker configured, Rasa reads the whole
stored conversation once more on every save to find the new events, which cost about 6 ms of
a 32 ms turn under load (bench/load_bench.py; docs/scaling.md). Here the save already knows
them: they are the events it writes.

Endpoints (SQLite and PostgreSQL alike; the keys are those of Rasa's `SQL` tracker store):

    tracker_store:
      type: assistant.observability.metered_tracker_store.MeteredSQLTrackerStore
      dialect: sqlite
      db: ${TRACKER_DB}
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

from assistant.observability.rasa_metrics import METRICS, RasaMetrics

log = logging.getLogger(__name__)


class MeteredSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, metrics: RasaMetrics = METRICS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics
        self._written: dict[str, list[Event]] = {}

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
