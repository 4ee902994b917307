"""Writing files safely: atomic replacement, a grading's outputs swapped in together, safe file
names, spreadsheet-safe cells."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from grader.errors import GraderError

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A signed identifier such as "+1" or "-jdoe": no operator, call or link a spreadsheet could run.
_PLAIN_SIGNED = re.compile(r"[+-][\w.@-]*")
MAX_STEM_BYTES = 80  # the readable part of a generated file name, in UTF-8 bytes
MAX_NAME_BYTES = MAX_STEM_BYTES + 9  # with "-" and 8 hex digits: far below the usual 255
_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10)]
)


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (threads may be
    creating files meanwhile); else by setting and restoring it, once, at import."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file: like any other tool's output


def atomic_write(path: Path, data: str | bytes | Iterable[str]) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``.

    ``data`` may be text chunks, written as they come (a large file is never held in memory).
    The file gets the mode the umask gives new files (not mkstemp's 0600).
    """
    ensure_folder(path.parent)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{bounded(path.name, MAX_STEM_BYTES)}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        raise GraderError.at(
            path.parent, None, f"cannot write here: {error.strerror}", "choose another --out folder"
        ) from None
    try:
        if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
            os.fchmod(handle, FILE_MODE)
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


def bounded(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def _readable_stem(identifier: str) -> str:
    text = unicodedata.normalize("NFKC", identifier)
    text = bounded(_UNSAFE.sub("_", text).strip("._-")[:60], MAX_STEM_BYTES - 1).strip("._-")
    text = text or "student"
    return f"_{text}" if _reserved(text) else text


# ---------------------------------------------------------------- a grading's outputs, together


class CommittedInterrupt(KeyboardInterrupt):
    """Ctrl-C or SIGTERM that came while the new outputs were put in place: they are, whole."""


_STAGING_PREFIX = ".grader-new-"
_TRASH_PREFIX = ".grader-old-"
_JOURNAL = ".grader-swap.json"


@dataclass(frozen=True)
class StagedOutput:
    """A fresh folder inside ``out_dir`` that receives a run's outputs; ``final`` maps a path in
    it to where it will be once the outputs are swapped in."""

    out_dir: Path
    folder: Path

    def final(self, path: Path) -> Path:
        return self.out_dir / path.relative_to(self.folder)


@contextlib.contextmanager
def staged_output(out_dir: Path, entries: Sequence[str]) -> Iterator[StagedOutput]:
    """Write a run's outputs into a fresh folder, then swap them into ``out_dir`` together.

    ``entries`` are the names in ``out_dir`` the run owns (results.json, students, ...): each is
    replaced by the new one, or removed when the run wrote none (so pages of students no longer
    in the class go). Files of other names are left alone. ``out_dir`` is locked against a second
    writer for the whole run. If the block fails or is interrupted, the staging folder is removed
    and ``out_dir`` is as it was. The swap is a few renames, during which Ctrl-C and SIGTERM wait;
    a swap cut short by a crash is finished by the next run into the folder.
    """
    ensure_folder(out_dir)
    with _locked(out_dir):
        _recover(out_dir)
        staging = out_dir / f"{_STAGING_PREFIX}{secrets.token_hex(4)}"
        try:
            staging.mkdir()
        except OSError as error:
            raise GraderError.at(
                out_dir, None, f"cannot write here: {error.strerror}", "choose another --out folder"
            ) from None
        try:
            yield StagedOutput(out_dir, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        with _signals_deferred():
            _swap(out_dir, staging, entries)


def _swap(out_dir: Path, staging: Path, entries: Sequence[str]) -> None:
    trash = out_dir / (_TRASH_PREFIX + staging.name[len(_STAGING_PREFIX) :])
    new = [name for name in entries if (staging / name).exists()]
    journal = {"staging": staging.name, "trash": trash.name, "new": new, "owned": list(entries)}
    try:
        trash.mkdir(mode=0o700, exist_ok=True)
        atomic_write(out_dir / _JOURNAL, json.dumps(journal))
        _apply(out_dir, journal)
    except OSError as error:
        raise GraderError.at(
            out_dir, None, f"cannot put the new outputs in place: {error.strerror}"
        ) from None


def _apply(out_dir: Path, journal: Mapping[str, object]) -> None:
    """Move the owned entries out of the way and the new ones in; each step can be repeated, so
    a swap cut short is finished by doing it again."""
    staging, trash = out_dir / str(journal["staging"]), out_dir / str(journal["trash"])
    new = set(journal["new"]) if isinstance(journal["new"], list) else set()
    owned = journal["owned"] if isinstance(journal["owned"], list) else []
    for name in (str(item) for item in owned):
        target, incoming, old = out_dir / name, staging / name, trash / name
        arrived = name in new and not incoming.exists()
        if target.exists() and not arrived and not old.exists():
            target.rename(old)
        if incoming.exists():
            incoming.rename(target)
    _sync_folder(out_dir)
    (out_dir / _JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(trash, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


def _recover(out_dir: Path) -> None:
    """Finish a swap a crash cut short; remove what an interrupted run left (under the lock)."""
    journal_path = out_dir / _JOURNAL
    if journal_path.is_file():
        try:
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            journal = None
        try:
            if isinstance(journal, dict) and {"staging", "trash", "new", "owned"} <= set(journal):
                _apply(out_dir, journal)
            journal_path.unlink(missing_ok=True)
        except OSError as error:
            raise GraderError.at(
                out_dir,
                None,
                f"cannot finish putting an earlier run's outputs in place: {error.strerror}",
                f"check the folder's permissions, or remove {_JOURNAL} and the .grader-* folders",
            ) from None
    for leftover in out_dir.glob(".grader-*-*"):
        if leftover.name.startswith((_STAGING_PREFIX, _TRASH_PREFIX)) and leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """An exclusive lock on the folder itself (flock; released when the process ends, however
    it ends). Where there is no flock, nothing is locked."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    try:
        descriptor = os.open(out_dir, os.O_RDONLY)
    except OSError as error:
        raise GraderError.at(out_dir, None, f"cannot open the folder: {error.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GraderError.at(
                out_dir,
                None,
                "another grader run is writing to this folder",
                "wait for it to finish, or choose another --out folder",
            ) from None
        yield
    finally:
        os.close(descriptor)  # releases the lock


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Within the block Ctrl-C and SIGTERM are noted, not acted on; after it, a noted one raises
    CommittedInterrupt. Only the main thread can change signal handlers: elsewhere, nothing."""
    received: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    kinds = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = {kind: signal.signal(kind, note) for kind in kinds}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)
    if received:
        raise CommittedInterrupt
