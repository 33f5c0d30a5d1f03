"""What the test suites may not do: leave anything in the checkout's var/ (issue 26, finding 13).

`make test` and then `make run PROFILE=scaled` failed on a fresh clone because a test had
initialised a PostgreSQL cluster in the checkout's var/scaled/postgres, without the password
file that `make run` then generated anew. Every test keeps its state in a temporary
directory; tests/conftest.py compares the checkout's var/ before and after the session with
these helpers and fails the run if a path appeared or disappeared.

Paths only, not their contents: a developer's `make run` beside the tests keeps writing its
logs and conversations, which is not the tests' doing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VarChanges:
    """The paths under var/ that appeared or disappeared between two snapshots."""

    created: tuple[str, ...]
    removed: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.created or self.removed)

    def describe(self, var: Path) -> str:
        lines = [
            f"the tests changed the checkout's {var} (tests keep their state in temporary "
            "directories: give the fixture that wrote there a tmp_path):"
        ]
        lines += [f"  created {p}" for p in self.created[:20]]
        lines += [f"  removed {p}" for p in self.removed[:20]]
        hidden = (
            len(self.created)
            + len(self.removed)
            - min(len(self.created), 20)
            - min(len(self.removed), 20)
        )
        if hidden > 0:
            lines.append(f"  ... and {hidden} more")
        return "\n".join(lines)


def snapshot(var: Path) -> frozenset[str]:
    """Every path under `var` (relative, directories included); empty when it does not exist.
    A directory this user cannot list (PostgreSQL's, under root) counts with its name only."""
    found: set[str] = set()
    if not var.is_dir():
        return frozenset()

    def walk(directory: Path) -> None:
        try:
            entries = list(directory.iterdir())
        except OSError:
            return
        for entry in entries:
            found.add(str(entry.relative_to(var)))
            if entry.is_dir() and not entry.is_symlink():
                walk(entry)

    walk(var)
    return frozenset(found)


def changes(before: frozenset[str], after: frozenset[str]) -> VarChanges:
    return VarChanges(created=tuple(sorted(after - before)), removed=tuple(sorted(before - after)))
