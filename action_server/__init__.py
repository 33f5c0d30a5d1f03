"""The action server process: rasa-sdk serving `actions/`, with metrics and readiness routes.

We run rasa 3.6 (the last Rasa Open Source release, Python <= 3.10) against rasa-sdk 3.2x
(Python 3.11, needed by the knowledge stack). The action protocol between them is unchanged
and covered by the end-to-end tests, so rasa-sdk's per-request "versions might not be
compatible" warning is known and deliberately silenced here, and only that warning. The filter
sits in the package's `__init__` because Sanic imports `action_server.app` again in its worker
process, and every import of a submodule runs this first.
"""

import warnings

warnings.filterwarnings(
    "ignore", message=r"Your versions of rasa and rasa_sdk might not be compatible"
)
