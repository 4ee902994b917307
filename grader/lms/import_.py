"""Import question banks from an LMS: Moodle XML and GIFT, into the bank format of docs/formats.md.

``import_questions`` reads a file into a plain ``dict`` ready for ``yaml.safe_dump`` plus the list
of questions it could not convert; ``write_bank_yaml`` writes that dict as a bank file. The rules
(which Moodle types map to what, how partial-credit answers and ``*`` wildcards become an inline
rubric) are documented in docs/lms.md.

One question that cannot be read never blocks a file: it is skipped with its line and reason, and
everything an imported question loses on the way (media, hints, non-standard fractions, ...) is
listed in ``notes``, so that nothing disappears silently.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from grader.errors import GraderError
from grader.fsutil import atomic_write
from grader.lms.convert import _slug, convert_all
from grader.lms.drafts import ImportResult
from grader.lms.gift import gift_drafts
from grader.lms.moodle import moodle_drafts
from grader.load.fields import ID_PATTERN, LANGUAGE_PATTERN

# ---------------------------------------------------------------- entry points


def import_questions(path: Path, lang: str = "en", bank_id: str | None = None) -> ImportResult:
    """Read a Moodle XML or GIFT file into a bank dict; unconvertible questions go to skipped."""
    path = Path(path)
    if not LANGUAGE_PATTERN.fullmatch(lang):
        raise GraderError.at(
            path, None, f"'{lang}' is not a language code", "use --lang en, ko, ja, ru, ..."
        )
    if bank_id is not None and not ID_PATTERN.fullmatch(bank_id):
        raise GraderError.at(
            path, None, f"'{bank_id}' is not a valid bank id", "use letters, digits, '.', '_', '-'"
        )
    data = _read_bytes(path)
    kind = detect_format(path, data)
    drafts = moodle_drafts(data, path) if kind == "moodle-xml" else gift_drafts(data, path)
    result = ImportResult(bank={}, source=str(path), format=kind)
    questions = convert_all(drafts, lang, result)
    if not questions:
        reasons = "; ".join(result.skipped) or "the file holds no questions"
        raise GraderError.at(
            path,
            None,
            f"no question could be imported ({reasons})",
            "see docs/lms.md for the supported types",
        )
    identifier = bank_id or _slug(path.stem, 60) or "imported"
    result.bank = {
        "id": identifier,
        "title": {lang: path.stem},
        "languages": [lang],
        "questions": questions,
    }
    return result


def detect_format(path: Path, data: bytes) -> str:
    """'moodle-xml' or 'gift', from the content first and the file extension second."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:100].lower()
    if head.startswith((b"<?xml", b"<quiz", b"<!doctype")) or path.suffix.lower() == ".xml":
        return "moodle-xml"
    if path.suffix.lower() in (".gift", ".txt") or b"{" in data:
        return "gift"
    raise GraderError.at(
        path,
        None,
        "not a Moodle XML or GIFT file",
        "export the questions from Moodle as Moodle XML (.xml) or GIFT (.gift)",
    )


def bank_yaml_text(result: ImportResult) -> str:
    """The bank as YAML, headed by comments that name the source and what was not imported."""
    lines = [f"# Imported from {_one_line(result.source)} ({result.format}) by grader import."]
    if result.skipped:
        lines.append("# Not imported:")
        lines.extend(f"#   - {_one_line(item)}" for item in result.skipped)
    if result.notes:
        lines.append("# Dropped or changed while importing:")
        lines.extend(f"#   - {_one_line(item)}" for item in result.notes)
    body = yaml.dump(
        result.bank,
        Dumper=_BankDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=100,
    )
    return "\n".join(lines) + "\n" + body


def write_bank_yaml(result: ImportResult, out: Path) -> None:
    """Write the imported bank as UTF-8 YAML, atomically."""
    atomic_write(Path(out), bank_yaml_text(result))


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _BankDumper(yaml.SafeDumper):
    """A safe dumper that indents lists under their key and writes multi-line text as blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BankDumper.add_representer(str, _represent_text)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise GraderError.at(path, None, "no such file", "check the path") from None
    except IsADirectoryError:
        raise GraderError.at(
            path, None, "is a folder, not a file", "name a .xml or .gift file"
        ) from None
    except OSError as error:
        raise GraderError.at(path, None, f"cannot read: {error.strerror}") from None
