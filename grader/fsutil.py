"""Writing files safely: atomic replacement, safe file names, spreadsheet-safe cells."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

from grader.errors import GraderError

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A signed identifier such as "+1" or "-jdoe": no operator, call or link a spreadsheet could run.
_PLAIN_SIGNED = re.compile(r"[+-][\w.@-]*")
_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10)]
)


def atomic_write(path: Path, data: str | bytes | Iterable[str]) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``.

    ``data`` may be text chunks, written as they come (a large file is never held in memory).
    """
    ensure_folder(path.parent)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        raise GraderError.at(
            path.parent, None, f"cannot write here: {error.strerror}", "choose another --out folder"
        ) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            _write_payload(stream, data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise GraderError.at(
                path,
                None,
                f"cannot write: {error.strerror}",
                "check the folder's permissions and free space",
            ) from None
        raise


def _write_payload(stream: BinaryIO, data: str | bytes | Iterable[str]) -> None:
    if isinstance(data, bytes):
        stream.write(data)
    elif isinstance(data, str):
        stream.write(data.encode("utf-8"))
    else:
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        try:
            text.writelines(data)
        finally:
            text.detach()  # flushes; the caller closes the file


def ensure_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise GraderError.at(
            folder, None, "exists and is not a folder", "choose another --out folder"
        ) from None
    except OSError as error:
        raise GraderError.at(
            folder,
            None,
            f"cannot create the folder: {error.strerror}",
            "choose another --out folder",
        ) from None
    if not os.access(folder, os.W_OK):
        raise GraderError.at(
            folder,
            None,
            "the folder is not writable",
            "choose another --out folder or fix its permissions",
        )


class Identifier(str):
    """An LMS identifier cell (an ID, an SIS id, an e-mail): the LMS must match it exactly, so
    ``safe_cell`` writes it unchanged when ``plain_identifier`` allows, and guards it otherwise."""


def plain_identifier(text: str) -> bool:
    """Whether an identifier can be written as it is: not a formula start, or a plain +/- id."""
    return not text.startswith(FORMULA_STARTS) or bool(_PLAIN_SIGNED.fullmatch(text))


def safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return text
    if isinstance(value, Identifier) and plain_identifier(text):
        return text
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, guard_formulas: bool = True
) -> str:
    """CSV text; every cell through ``safe_cell`` unless ``guard_formulas`` is off, which only a
    file that grader itself reads back may do (a submissions file must keep answers exact)."""
    cell = safe_cell if guard_formulas else (lambda value: "" if value is None else str(value))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([cell(name) for name in header])
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return buffer.getvalue()


def safe_file_names(ids: Iterable[str]) -> dict[str, str]:
    """A file-name stem per id: readable, no path parts, and never the same for two ids."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for identifier in ids:
        base = _readable_stem(identifier)
        name = base
        salt = 0
        while (name != identifier and salt == 0) or name.lower() in used:
            seed = identifier if salt == 0 else f"{identifier}\n{salt}"
            digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:8]
            name = f"{base}-{digest}"
            salt += 1
        used.add(name.lower())
        names[identifier] = name
    return names


def _reserved(stem: str) -> bool:
    """A name Windows keeps for devices (CON, nul, COM1, ...), whatever the extension."""
    return stem.split(".")[0].upper() in _WINDOWS_DEVICES


def _readable_stem(identifier: str) -> str:
    text = unicodedata.normalize("NFKC", identifier)
    text = _UNSAFE.sub("_", text).strip("._-")[:60] or "student"
    return f"_{text}" if _reserved(text) else text
