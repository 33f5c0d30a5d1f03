"""An event broker that turns conversation events into Prometheus metrics.

Rasa streams every new conversation event (user message, action, bot reply, slot) to the
configured event broker when it saves a tracker, whichever channel the turn came through and
whichever instance served it; that makes the broker the one place that sees every turn, without
touching the dialogue. Configured in endpoints.yml:

    event_broker:
      type: assistant.observability.metrics_broker.MetricsEventBroker

Cost: with a broker configured, Rasa's tracker stores read the stored conversation once more
per save to find the new events (`TrackerStore.stream_events`).
"""

from __future__ import annotations

import logging
from asyncio import AbstractEventLoop
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from assistant.observability.rasa_metrics import METRICS, RasaMetrics

log = logging.getLogger(__name__)


class MetricsEventBroker(EventBroker):
    def __init__(self, metrics: RasaMetrics = METRICS) -> None:
        self.metrics = metrics

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig | None = None,
        event_loop: AbstractEventLoop | None = None,
    ) -> MetricsEventBroker:
        """What Rasa calls for `event_broker: type: <this class>`; there is nothing to set."""
        return cls()

    def publish(self, event: dict[str, Any]) -> None:
        """Counts the event. Never raises: Rasa publishes while saving the conversation, and a
        metrics fault must not lose a turn."""
        try:
            self.metrics.record_event(event)
        except Exception:
            log.exception("metrics: could not count event %s", event.get("event"))
