"""Read YAML safely and remember the line of every key and list item, for error messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from grader.errors import GraderError
from grader.values import unpaired_surrogate

MAX_DEPTH = 64  # nested mappings and lists; banks need fewer than ten
MAX_ALIAS_VALUES = 10_000  # values that aliases (*name) may add by repeating an anchored one


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


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int:
    try:
        value: int = yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:  # more digits than Python converts (4300)
        raise yaml.constructor.ConstructorError(
            None, None, "a number with too many digits", node.start_mark
        ) from None
    return value


def _construct_str(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    value = loader.construct_scalar(node)
    assert isinstance(value, str)
    surrogate = unpaired_surrogate(value)
    if surrogate is not None:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"the text holds an unpaired surrogate (\\u{ord(value[surrogate]):04x}), "
            "not a character",
            node.start_mark,
        )
    return value


class _FastLineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same safe constructors over libyaml's parser (about 6x faster). Its error messages
    differ from the pure-Python parser's, so a file it refuses is parsed again by _LineLoader."""


for _loader in (_LineLoader, _FastLineLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
    _loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    _loader.add_constructor("tag:yaml.org,2002:str", _construct_str)


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
    """UTF-8 (a BOM dropped), or UTF-16 after its BOM; a bad byte is a located GraderError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        try:
            return data[2:].decode(encoding)
        except UnicodeDecodeError as error:
            newline = "\n".encode(encoding)
            line = data[2 : 2 + error.start].count(newline) + 1
            raise GraderError.at(
                path,
                line,
                "not valid UTF-16 (an unpaired surrogate or a cut character at byte "
                f"{error.start + 2})",
                "save the file as UTF-8",
            ) from None
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
    """Parse a YAML file into LineDict/LineList values; syntax errors name the line and column.

    Nesting deeper than MAX_DEPTH and aliases that would repeat more than MAX_ALIAS_VALUES values
    (a "billion laughs" in a few kilobytes) are refused before anything is built.
    """
    text = read_text(path)
    _check_shape(text, path)
    try:
        return yaml.load(text, Loader=_FastLineLoader)
    except yaml.constructor.ConstructorError as error:
        raise _located(error, path) from None  # our own check, not libyaml's syntax: report it
    except yaml.YAMLError:
        pass  # libyaml's message is less clear than the pure-Python parser's: parse again
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as error:
        raise _located(error, path) from None
    except yaml.YAMLError as error:
        raise GraderError.at(path, None, f"invalid YAML: {error}") from None
    except RecursionError:
        raise GraderError.at(
            path, None, f"invalid YAML: nested more than {MAX_DEPTH} levels deep"
        ) from None


def _located(error: yaml.MarkedYAMLError, path: Path) -> GraderError:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "invalid YAML"
    if mark is None:
        return GraderError.at(path, None, f"invalid YAML: {problem}")
    return GraderError.at(
        path,
        mark.line + 1,
        f"invalid YAML: {problem}",
        "check the indentation and quoting there",
        column=mark.column + 1,
    )


def _check_shape(text: str, path: Path) -> None:
    """Refuse deep nesting and alias bombs, from the parser's events (no recursion, no values).

    libyaml stops at its own nesting limit with a syntax error; the pure-Python parser then reads
    the events (it keeps its state in lists, not in the call stack). A syntax error is left to
    the loaders, which report it with their clearer messages."""
    for parser in (getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.SafeLoader):
        try:
            _check_events(yaml.parse(text, Loader=parser), path)
            return
        except yaml.YAMLError:
            continue


def _check_events(events: Iterator[yaml.Event], path: Path) -> None:
    sizes: dict[str, int] = {}  # anchor -> values it stands for
    frames: list[list[Any]] = []  # per open collection: [anchor, values so far]
    added = 0
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            if len(frames) >= MAX_DEPTH:
                raise _shape_error(path, event, f"nested more than {MAX_DEPTH} levels deep")
            frames.append([event.anchor, 1])
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = frames.pop()
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, sizes.get(event.anchor or "", 1)
            added += size
            if added > MAX_ALIAS_VALUES:
                raise _shape_error(
                    path,
                    event,
                    f"aliases repeat more than {MAX_ALIAS_VALUES:,} values",
                    "write the values out, or use fewer aliases",
                )
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        else:
            continue
        if anchor:
            sizes[anchor] = size
        if frames:
            frames[-1][1] += size


def _shape_error(
    path: Path, event: yaml.Event, problem: str, fix: str = "flatten the structure"
) -> GraderError:
    mark = event.start_mark
    return GraderError.at(
        path,
        mark.line + 1 if mark else None,
        f"invalid YAML: {problem}",
        fix,
        column=mark.column + 1 if mark else None,
    )
