"""YAML loading that remembers line numbers, so a bad rule is reported where staff typed it.

Policy staff edit the rules and the lexicon by hand. "rules[7].when: unknown fact" is useless
to them; "eligibility_rules.yml:112" is not. PyYAML already knows every node's position, so a
loader that keeps it on the mappings and sequences it builds is all that is needed (and it
also refuses duplicate keys, which PyYAML would otherwise silently overwrite).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class LineDict(dict):
    """A mapping from the file, with the line of the mapping and of each of its keys (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):
    """A sequence from the file, with its line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a data file, located for the person who has to fix it."""

    line: int | None
    where: str
    message: str


class DataFileError(ValueError):
    """A data file cannot be used; the message names the file and the line of every problem."""

    def __init__(self, path: Path | str, problems: Iterable[Problem]) -> None:
        self.path = Path(path)
        # In file order: staff fix them top to bottom.
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        lines = [
            f"{self.path}:{p.line or '?'}: {p.where + ': ' if p.where else ''}{p.message}"
            for p in self.problems
        ]
        super().__init__("\n".join(lines))


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry their line numbers."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {result.key_lines[key]})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path) -> Any:
    """Parses a YAML file; syntax errors become a DataFileError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(path, [Problem(None, "", f"cannot read: {exc.strerror}")]) from exc
    try:
        # _LineLoader is a SafeLoader subclass: no arbitrary objects are constructed.
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(m for m in (exc.context, exc.problem) if m) or str(exc)
        raise DataFileError(path, [Problem(line, "", f"YAML syntax: {message}")]) from exc


def line_of(data: Any, loc: Iterable[Any]) -> int | None:
    """The line of the deepest element of `data` that `loc` (a pydantic error path) reaches."""
    line = getattr(data, "line", None)
    node = data
    for step in loc:
        # The key's own line (not its value's, which may start on the next line): that is
        # where a misspelt or mistyped entry is.
        if isinstance(node, LineDict) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return line


def format_loc(loc: Iterable[Any]) -> str:
    """`('rules', 3, 'when')` -> `rules[3].when`: how the error path reads in a message."""
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
