"""Health, readiness and Prometheus metrics shared by every process (endpoints and metric
meanings: docs/operations.md).

Below both `actions/` and the processes that serve them, so that each may import it. Modules
are split by the runtime that imports them: `rasa_metrics` (fed by `assistant.tracker_store`)
and `rasa_readiness` run inside Rasa (Python 3.10), `action_metrics` inside the action server
(Python 3.11); `checks` is shared by all. Nothing is imported here, so the Rasa runtime never
loads the action runtime's modules.
"""
