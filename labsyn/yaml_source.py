"""YAML files read with the line of every key, so errors can say `file:line: key: what's wrong`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from labsyn.errors import ConfigError

Lines = dict[tuple[str, ...], int]


def load_yaml(path: str | Path, what: str) -> tuple[Any, Lines]:
    """The parsed document and the line of each key path; `ConfigError` names the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return data, line_numbers(node) if node is not None else {}


def line_numbers(node: yaml.Node, path: tuple[str, ...] = ()) -> Lines:
    """Key path (mapping keys and sequence indexes, as strings) -> 1-based line."""
    found = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found.update(line_numbers(value, (*path, str(key.value))))
            found[(*path, str(key.value))] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found.update(line_numbers(item, (*path, str(i))))
    return found


def line_of(lines: Lines, loc: tuple[str, ...]) -> int:
    """The line of `loc`, or of its nearest parent that has one."""
    return next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
