"""Read YAML safely and remember the line of every key and list item, for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from grader.errors import GraderError


class LineDict(dict[Any, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list[Any]):
    """A list that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    items = LineList(loader.construct_object(child, deep=True) for child in node.value)
    items.line = node.start_mark.line + 1
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    return items


class _FastLineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same safe constructors over libyaml's parser (about 6x faster). Its error messages
    differ from the pure-Python parser's, so a file it refuses is parsed again by _LineLoader."""


for _loader in (_LineLoader, _FastLineLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def read_text(path: Path) -> str:
    """A file's text as UTF-8 (a BOM is dropped), or a GraderError that says what is wrong."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GraderError.at(path, None, "no such file", "check the path") from None
    except IsADirectoryError:
        raise GraderError.at(path, None, "is a folder, not a file", "name a file") from None
    except OSError as error:
        raise GraderError.at(path, None, f"cannot read: {error.strerror}") from None
    return decode_bytes(data, path)


def decode_bytes(data: bytes, path: Path | str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise GraderError.at(
            path,
            line,
            f"not valid UTF-8 (byte 0x{data[error.start]:02x})",
            "save the file as UTF-8",
        ) from None


def load_yaml(path: Path) -> Any:
    """Parse a YAML file into LineDict/LineList values; syntax errors name the line and column."""
    text = read_text(path)
    try:
        return yaml.load(text, Loader=_FastLineLoader)
    except yaml.YAMLError:
        pass
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        if mark is None:
            raise GraderError.at(path, None, f"invalid YAML: {problem}") from None
        raise GraderError.at(
            path,
            mark.line + 1,
            f"invalid YAML: {problem}",
            "check the indentation and quoting there",
            column=mark.column + 1,
        ) from None
    except yaml.YAMLError as error:
        raise GraderError.at(path, None, f"invalid YAML: {error}") from None
