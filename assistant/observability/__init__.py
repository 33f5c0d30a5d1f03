"""Health, readiness and Prometheus metrics for the Rasa server, the action server and the
staff console (endpoints and metric meanings: docs/operations.md).

Modules are split by the runtime that imports them: `rasa_metrics` (fed by
`assistant.tracker_store`) and `rasa_readiness` run inside Rasa (Python 3.10), `action_metrics`
and `action_ops` inside the action server (Python 3.11); `checks` is shared by all three.
"""
