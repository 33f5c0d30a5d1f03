"""A data file that follows its edits without a restart, and survives a bad edit.

Policy staff change the rules or the lexicon while the action server runs. Each use checks
the file's modification time; a changed file is reloaded. If the new version is invalid the
last good one keeps serving (and the error is logged with its line), so a typo never takes
the assistant down; only a file that was never valid is an error for the caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from knowledge.eligibility.yaml_lines import DataFileError

log = logging.getLogger(__name__)
T = TypeVar("T")


class ReloadingFile(Generic[T]):
    def __init__(self, path: Path, loader: Callable[[Path], T]) -> None:
        self.path = Path(path)
        self._loader = loader
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._value: T | None = None

    def get(self) -> T:
        """The current value; raises DataFileError only if no valid version was ever loaded."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except OSError:
            stamp = None
        with self._lock:
            if self._value is not None and stamp == self._stamp:
                return self._value
            try:
                value = self._loader(self.path)
            except DataFileError as exc:
                if self._value is None:
                    raise
                log.error("keeping the previous %s; the edited file is invalid:\n%s",
                          self.path.name, exc)
                self._stamp = stamp  # report once per edit, not on every assessment
                return self._value
            self._value, self._stamp = value, stamp
            return value
