"""Starts the rasa-sdk action server with the project's actions.

We run rasa 3.6 (the last Rasa Open Source release, Python <= 3.10) against rasa-sdk 3.2x
(Python 3.11, needed by the knowledge stack). The action protocol between them is unchanged
and covered by our end-to-end tests, so rasa-sdk's per-request "versions might not be
compatible" warning is known and deliberately silenced here, and only that warning. The
filter sits at module level because Sanic re-imports this module in its worker process.
"""

from __future__ import annotations

import sys
import warnings

warnings.filterwarnings(
    "ignore", message=r"Your versions of rasa and rasa_sdk might not be compatible"
)


def main() -> None:
    from rasa_sdk.__main__ import main as rasa_sdk_main

    if "--actions" not in sys.argv:
        sys.argv += ["--actions", "actions"]
    rasa_sdk_main()


if __name__ == "__main__":
    main()
