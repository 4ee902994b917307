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

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree as ET
from xml.parsers import expat

import yaml

from grader.errors import GraderError
from grader.fsutil import atomic_write
from grader.load.fields import ID_PATTERN, LANGUAGE_PATTERN
from grader.load.yamlread import decode_bytes
from grader.values import MAX_MAGNITUDE, MAX_POINTS

FORMATS = ("moodle-xml", "gift")
FULL_MARKS = 100.0 - 1e-6
# Moodle's grade choices for an answer (question_bank::fraction_options), and their negatives.
MOODLE_FRACTIONS = (
    *(1.0, 0.9, 0.8333333, 0.8, 0.75, 0.7, 0.6666667, 0.6, 0.5, 0.4, 0.3333333, 0.3, 0.25),
    *(0.2, 0.1666667, 0.1428571, 0.125, 0.1111111, 0.1, 0.05, 0.0),
)
MOODLE_FRACTION_SLACK = 0.00001  # Moodle's match_grade_options accepts this much difference
COMBINED_FEEDBACK = (
    ("correctfeedback", "correct"),
    ("partiallycorrectfeedback", "partially correct"),
    ("incorrectfeedback", "incorrect"),
)
SHORT_QUOTE = 60

UNSUPPORTED_REASONS = {
    "description": "a description has no answer to grade",
    "matching": "matching questions are not supported",
    "multianswer": "embedded answers (cloze) are not supported",
    "calculated": "calculated questions are not supported",
    "calculatedsimple": "calculated questions are not supported",
    "calculatedmulti": "calculated questions are not supported",
    "ddwtos": "drag-and-drop questions are not supported",
    "ddimageortext": "drag-and-drop questions are not supported",
    "ddmarker": "drag-and-drop questions are not supported",
    "gapselect": "select-missing-words questions are not supported",
    "randomsamatch": "random matching questions are not supported",
    "random": "random questions are not supported",
}


@dataclass
class ImportResult:
    """A bank converted from an LMS file, and what could not be converted."""

    bank: dict[str, Any]  # ready for yaml.safe_dump; follows docs/formats.md
    skipped: list[str] = field(default_factory=list)  # "name (type) at line N: reason"
    notes: list[str] = field(default_factory=list)  # what imported questions lost or changed
    source: str = ""
    format: str = ""  # "moodle-xml" | "gift"


@dataclass
class _Choice:
    """One answer of a source question: its text, its credit in percent, its feedback."""

    text: str
    fraction: float  # percent, -100..100
    feedback: str = ""
    value: float | None = None  # numeric answers
    tolerance: float = 0.0


@dataclass
class _Draft:
    """One question as read from the source file, before it is shaped into a bank question."""

    name: str
    kind: str  # Moodle's type name: shortanswer, essay, multichoice, numerical, truefalse, ...
    line: int
    prompt: str = ""
    points: float = 1.0
    feedback: str = ""
    choices: list[_Choice] = field(default_factory=list)
    single: bool = True
    units: list[str] = field(default_factory=list)
    case_sensitive: bool = False
    grader_notes: str = ""  # an essay's information for graders: never a model answer
    notes: list[str] = field(default_factory=list)
    error: str = ""  # why the question could not be read; it is skipped

    @property
    def label(self) -> str:
        kind = f" ({self.kind})" if self.kind else ""
        return f"{self.name}{kind} at line {self.line}"

    def convert(self, raw: str, text_format: str, where: str) -> str:
        """Plain text of a source text; media that HTML loses are noted as dropped."""
        if text_format != "html":
            return tidy_text(raw)
        text, media = _html_text(raw)
        self.notes.extend(_media_note(kind, name, where) for kind, name in media)
        return text


class _Skip(Exception):
    """A question that cannot become a bank question; the message says why."""


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
    drafts = _moodle_drafts(data, path) if kind == "moodle-xml" else _gift_drafts(data, path)
    result = ImportResult(bank={}, source=str(path), format=kind)
    questions = _convert_all(drafts, lang, result)
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


# ---------------------------------------------------------------- drafts -> bank questions


def _convert_all(drafts: list[_Draft], lang: str, result: ImportResult) -> list[dict[str, Any]]:
    questions: list[dict[str, Any]] = []
    used: set[str] = set()
    for position, draft in enumerate(drafts, 1):
        if draft.kind == "category":
            result.notes.append(f"{draft.label}: not kept (a bank has no categories)")
            continue
        converter = _CONVERTERS.get(draft.kind)
        try:
            if draft.error:
                raise _Skip(draft.error)
            if converter is None:
                raise _Skip(
                    UNSUPPORTED_REASONS.get(
                        draft.kind, f"'{draft.kind}' questions are not supported"
                    )
                )
            if draft.points <= 0:
                raise _Skip("it is worth 0 points")
            _check_fractions(draft)
            body = converter(draft, lang)
        except _Skip as skip:
            result.skipped.append(f"{draft.label}: {skip}")
            continue
        identifier = _unique_id(_slug(draft.name) or f"q{position}", used)
        question = {"id": identifier, **body}
        if draft.feedback and "feedback" not in question:
            question["feedback"] = {lang: draft.feedback}
        questions.append(question)
        result.notes.extend(f"{draft.label}: {note}" for note in draft.notes)
    return questions


def _check_fractions(draft: _Draft) -> None:
    """Note every answer whose fraction Moodle itself would refuse (it accepts only its list)."""
    for choice in draft.choices:
        share = abs(choice.fraction) / 100
        if share > 1 + MOODLE_FRACTION_SLACK:
            draft.notes.append(
                f"answer '{_short(choice.text)}': {_percent(choice.fraction)} % is outside "
                "Moodle's -100..100 %; counted as "
                f"{_percent(100 if choice.fraction > 0 else -100)} %"
            )
            continue
        nearest = min(MOODLE_FRACTIONS, key=lambda value: abs(share - value))
        if abs(share - nearest) >= MOODLE_FRACTION_SLACK:
            sign = -1 if choice.fraction < 0 else 1
            draft.notes.append(
                f"answer '{_short(choice.text)}': {_percent(choice.fraction)} % is not one of "
                f"Moodle's grades (Moodle refuses such a file; the nearest is "
                f"{_percent(sign * nearest * 100)} %); kept as {_percent(choice.fraction)} %"
            )


def _percent(value: float) -> str:
    return f"{value:.5f}".rstrip("0").rstrip(".")


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SHORT_QUOTE else line[: SHORT_QUOTE - 1] + "…"


def _head(draft: _Draft, kind: str, lang: str) -> dict[str, Any]:
    if not draft.prompt:
        raise _Skip("it has no question text")
    return {"type": kind, "points": _number(draft.points), "prompt": {lang: draft.prompt}}


def _short_answer(draft: _Draft, lang: str) -> dict[str, Any]:
    question = _head(draft, "short_answer", lang)
    given = [choice for choice in draft.choices if choice.text.strip()]
    answers: list[tuple[_Choice, str]] = []
    for choice in given:
        if choice.fraction <= 0:
            continue
        term = _answer_term(choice.text)
        if term is None:
            draft.notes.append(f"answer '{choice.text}' would match almost anything; dropped")
        else:
            answers.append((choice, term))
    if not any(choice.fraction >= FULL_MARKS for choice, _ in answers):
        raise _Skip("no answer earns full marks")
    models = _unique_texts(
        _unescape_star(choice.text)
        for choice, _ in answers
        if choice.fraction >= FULL_MARKS and not _is_wildcard(choice.text)
    )
    if models:
        question["answers"] = {lang: models}
    wrong = _wrong_answers(draft, [choice for choice in given if choice.fraction <= 0])
    if wrong:
        question["wrong_answers"] = {lang: wrong}
    partial = any(choice.fraction < FULL_MARKS for choice, _ in answers)
    if partial or any(_is_wildcard(choice.text) for choice, _ in answers):
        question["rubric"] = {"criteria": _answer_criteria(answers, draft.points, lang)}
    with_feedback = [f"'{_short(choice.text)}'" for choice, _ in answers if choice.feedback]
    if with_feedback:
        draft.notes.append(
            f"feedback dropped from answer(s) {', '.join(with_feedback)}: "
            "only wrong answers keep their feedback"
        )
    if draft.case_sensitive:
        draft.notes.append("case-sensitive matching is not kept: answers match in any case")
    return question


def _wrong_answers(draft: _Draft, rejected: list[_Choice]) -> list[str | dict[str, str]]:
    """Answers worth 0 % (or less): known wrong answers, each with its feedback.

    A wildcard cannot be one (wrong answers are compared by meaning); a lone '*' is Moodle's
    feedback for any other answer.
    """
    wrong: list[str | dict[str, str]] = []
    seen: set[str] = set()
    for choice in rejected:
        feedback = f" (its feedback: '{_short(choice.feedback)}')" if choice.feedback else ""
        if _is_wildcard(choice.text):
            literal = _WILDCARD.sub("", choice.text).strip()
            reason = (
                "it answers any other response"
                if not literal
                else "wrong answers are compared by meaning, not as * patterns"
            )
            draft.notes.append(
                f"answer '{choice.text}' worth {_percent(choice.fraction)} % dropped: "
                f"{reason}{feedback}"
            )
            continue
        text = _unescape_star(choice.text)
        if choice.fraction < 0:
            draft.notes.append(
                f"the penalty of wrong answer '{_short(text)}' ({_percent(choice.fraction)} %) "
                "is not kept: a wrong answer earns 0"
            )
        if text.casefold() in seen:
            continue
        seen.add(text.casefold())
        wrong.append({"text": text, "feedback": choice.feedback} if choice.feedback else text)
    return wrong


def _level(choice: _Choice) -> float:
    return min(100.0, round(choice.fraction, 4))


def _answer_criteria(
    answers: list[tuple[_Choice, str]], points: float, lang: str
) -> list[dict[str, Any]]:
    """A staircase of criteria: an answer at level L satisfies every criterion at or below L.

    With levels 100 > 50, criterion answer-100 (half the points) lists the 100% answers and
    answer-50 (the other half) lists both, so a 50% answer earns half and a 100% answer all.
    """
    levels = sorted({_level(choice) for choice, _ in answers}, reverse=True)
    criteria = []
    for index, level in enumerate(levels):
        lower = levels[index + 1] if index + 1 < len(levels) else 0.0
        group = _unique_texts(term for choice, term in answers if _level(choice) >= level)
        criteria.append(
            {
                "id": f"answer-{_number(level)}",
                "points": _number(max(0.0001, points * (level - lower) / 100)),
                "keywords": {lang: [group]},
            }
        )
    return criteria


_WILDCARD = re.compile(r"(?<!\\)\*")
_RE2_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def _is_wildcard(text: str) -> bool:
    return bool(_WILDCARD.search(text))


def _unescape_star(text: str) -> str:
    return text.replace("\\*", "*").strip()


def _answer_term(text: str) -> str | None:
    """A keyword term for a short answer: the text, or for Moodle's * wildcard a 're:' term.

    Like any term, the regex is found anywhere in the answer, so a leading or trailing * adds
    nothing and a * inside matches any text. None: too little literal text to match safely.
    """
    if not _is_wildcard(text):
        return _unescape_star(text)
    pieces = [_RE2_SPECIAL.sub(r"\\\1", _unescape_star(piece)) for piece in _WILDCARD.split(text)]
    pattern = ".*".join(pieces).strip()
    while pattern.startswith(".*") or pattern.endswith(".*"):
        pattern = pattern.removeprefix(".*").removesuffix(".*").strip()
    literal = "".join(_unescape_star(piece) for piece in _WILDCARD.split(text)).strip()
    return f"re:{pattern}" if len(literal) >= 3 else None


def _essay(draft: _Draft, lang: str) -> dict[str, Any]:
    """An essay: grader information becomes grader notes, never a model answer.

    Without grader information, the general feedback is the model answer (GIFT has no other
    place for one).
    """
    question = _head(draft, "short_answer", lang)
    if draft.grader_notes:
        question["grader_notes"] = {lang: draft.grader_notes}
        draft.notes.append(
            "the information for graders became grader_notes, not a model answer: "
            "write the model answer under answers (validate asks for it)"
        )
    elif draft.feedback:
        question["answers"] = {lang: [draft.feedback]}
    else:
        raise _Skip(
            "it has no model answer (fill in the information for graders, or a general feedback)"
        )
    return question


def _multiple_choice(draft: _Draft, lang: str) -> dict[str, Any]:
    question = _head(draft, "multiple_choice", lang)
    question["multiple"] = not draft.single
    options = []
    for index, choice in enumerate(draft.choices):
        if not choice.text:
            raise _Skip(f"option {index + 1} has no text")
        options.append(_option(_option_id(index), choice.text, choice, lang))
    _check_options(options)
    question["options"] = options
    return question


def _true_false(draft: _Draft, lang: str) -> dict[str, Any]:
    question = _head(draft, "multiple_choice", lang)
    question["multiple"] = False
    by_text = {choice.text.strip().lower(): choice for choice in draft.choices}
    options = []
    for key, text in (("true", "True"), ("false", "False")):
        choice = by_text.get(key)
        if choice is None:
            raise _Skip(f"it has no '{key}' answer")
        options.append(_option(key, text, choice, lang))
    _check_options(options)
    question["options"] = options
    return question


def _option(identifier: str, text: str, choice: _Choice, lang: str) -> dict[str, Any]:
    credit = max(-1.0, min(1.0, round(choice.fraction / 100, 4)))
    option: dict[str, Any] = {"id": identifier, "text": {lang: text}, "credit": _number(credit)}
    if choice.feedback:
        option["feedback"] = {lang: choice.feedback}
    return option


def _check_options(options: list[dict[str, Any]]) -> None:
    if len(options) < 2:
        raise _Skip("it has fewer than two options")
    if max(option["credit"] for option in options) <= 0:
        raise _Skip("no option earns credit")


def _option_id(index: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = letters[rest] + name
    return name


def _numeric(draft: _Draft, lang: str) -> dict[str, Any]:
    question = _head(draft, "numeric", lang)
    full = [c for c in draft.choices if c.fraction >= FULL_MARKS and c.value is not None]
    if not full:
        raise _Skip("no answer earns full marks")
    dropped = len([c for c in draft.choices if c.value is not None and c.fraction > 0]) - 1
    if dropped:
        draft.notes.append(
            f"{dropped} other accepted answer(s) dropped: only the first full-mark answer is kept"
        )
    answer = full[0]
    assert answer.value is not None
    question["value"] = _number(answer.value)
    question["tolerance"] = _number(abs(answer.tolerance))
    if draft.units:
        question["units"] = list(draft.units)
    if answer.feedback and not draft.feedback:
        question["feedback"] = {lang: answer.feedback}
    for other in draft.choices:
        if other.value is None and other.feedback:
            draft.notes.append(
                f"the feedback for any other answer dropped: '{_short(other.feedback)}'"
            )
    return question


_CONVERTERS: dict[str, Callable[[_Draft, str], dict[str, Any]]] = {
    "shortanswer": _short_answer,
    "essay": _essay,
    "multichoice": _multiple_choice,
    "truefalse": _true_false,
    "numerical": _numeric,
}


def _number(value: float) -> int | float:
    rounded = round(float(value), 6)
    return int(rounded) if rounded.is_integer() else rounded


def _unique_texts(texts: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for text in texts:
        key = text.casefold()
        if text and key not in seen:
            seen.add(key)
            unique.append(text)
    return unique


def _slug(text: str, limit: int = 40) -> str:
    """An id from a name: ASCII letters and digits joined by '-', at most ``limit`` long."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] if "-" in slug[:limit] else slug[:limit]
    return slug


def _unique_id(base: str, used: set[str]) -> str:
    identifier = base
    counter = 2
    while identifier in used:
        identifier = f"{base}-{counter}"
        counter += 1
    used.add(identifier)
    return identifier


# ---------------------------------------------------------------- HTML to text

MEDIA_TAGS = {
    "img": ("src", "image"),
    "audio": ("src", "audio"),
    "video": ("src", "video"),
    "source": ("src", "media file"),
    "iframe": ("src", "embedded page"),
    "embed": ("src", "embedded object"),
    "object": ("data", "embedded object"),
}
PLUGINFILE = "@@PLUGINFILE@@/"


class _TextExtractor(HTMLParser):
    BLOCKS = frozenset(
        {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol"}
        | {"table", "section", "article", "header", "footer"}
    )
    LINES = frozenset(("li", "tr", "dt", "dd"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.media: list[tuple[str, str]] = []  # (kind, name or address) of what is dropped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._note_media(tag, dict(attrs))
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")
        elif tag in self.LINES:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("script", "style"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(re.sub(r"\s+", " ", data))

    def _note_media(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "a" and attrs.get("href"):
            self.media.append(("link", _media_name(attrs["href"] or "")))
        elif tag in MEDIA_TAGS:
            attribute, kind = MEDIA_TAGS[tag]
            self.media.append((kind, _media_name(attrs.get(attribute) or "")))


def _media_name(address: str) -> str:
    address = address.strip()
    if address.startswith("data:"):
        return "inline data"
    return unquote(address.removeprefix(PLUGINFILE))


def _media_note(kind: str, name: str, where: str) -> str:
    if kind == "link":
        return f"the link to '{name}' dropped from {where} (its text is kept)"
    return f"{kind} '{name}' dropped from {where}" if name else f"{kind} dropped from {where}"


def _html_text(markup: str) -> tuple[str, list[tuple[str, str]]]:
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return tidy_text("".join(extractor.parts)), extractor.media


def html_to_text(markup: str) -> str:
    """Text of HTML: tags dropped, entities decoded, paragraphs and <br> kept as line breaks."""
    return _html_text(markup)[0]


def tidy_text(text: str) -> str:
    """Collapse spaces within lines and runs of blank lines; strip the ends."""
    lines = [" ".join(line.replace("\xa0", " ").split()) for line in text.splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip()


# ---------------------------------------------------------------- Moodle XML


class _Refused(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _parse_xml(data: bytes, path: Path) -> tuple[ET.Element, dict[ET.Element, int]]:
    """Parse with expat into an ElementTree, remembering each element's line; DOCTYPEs are refused.

    The standard parser expands internal entities, so a DOCTYPE could hide a billion-laughs
    bomb; Moodle never writes one, so any DOCTYPE or entity declaration is rejected outright.
    """
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    lines: dict[ET.Element, int] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        lines[builder.start(tag, attrs)] = parser.CurrentLineNumber

    def refuse(*_args: Any) -> None:
        raise _Refused(parser.CurrentLineNumber)

    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as refused:
        raise GraderError.at(
            path,
            refused.line,
            "a DOCTYPE or entity declaration is refused (entities can expand without limit)",
            "remove the <!DOCTYPE ...> part; Moodle's own exports never have one",
        ) from None
    except expat.ExpatError as error:
        raise GraderError.at(
            path,
            error.lineno,
            f"not well-formed XML: {expat.ErrorString(error.code)}",
            "fix the XML there, or export the questions from Moodle again",
            column=error.offset + 1,
        ) from None
    except LookupError as error:  # an encoding="..." that Python does not know
        raise GraderError.at(
            path,
            1,
            f"the XML declaration names an unknown encoding: {error}",
            'save the file as UTF-8 with <?xml version="1.0" encoding="UTF-8"?>',
        ) from None
    return builder.close(), lines


def _moodle_drafts(data: bytes, path: Path) -> list[_Draft]:
    root, lines = _parse_xml(data, path)
    if root.tag != "quiz":
        raise GraderError.at(
            path,
            lines.get(root),
            f"not a Moodle XML quiz: the root element is <{root.tag}>",
            "export as Moodle XML format (root <quiz>)",
        )
    drafts = []
    for position, element in enumerate(root.findall("question"), 1):
        kind = element.get("type", "")
        line = lines.get(element, 0)
        if kind == "category":
            category = _plain(element.findtext("category/text")) or "(no name)"
            drafts.append(_Draft(category, "category", line))
            continue
        name = _question_name(element.findtext("name/text")) or f"question {position}"
        try:
            drafts.append(_moodle_draft(element, name, kind or "unknown", lines, path))
        except GraderError as error:
            drafts.append(_unreadable(error, name, kind or "unknown", line))
    return drafts


def _unreadable(error: GraderError, name: str, kind: str, line: int) -> _Draft:
    """A question whose text could not be read: skipped, located at the problem's line."""
    problem = error.problems[0] if error.problems else None
    if problem is None:
        return _Draft(name, kind, line, error=str(error))
    reason = problem.message + (f" ({problem.fix})" if problem.fix else "")
    return _Draft(name, kind, problem.line or line, error=reason)


def _question_name(raw: str | None) -> str:
    """A question's name as plain text (some exports put HTML into names)."""
    name = _plain(raw)
    return html_to_text(name) if re.search(r"<[A-Za-z/!]", name) else name


def _moodle_draft(
    element: ET.Element, name: str, kind: str, lines: dict[ET.Element, int], path: Path
) -> _Draft:
    draft = _Draft(name, kind, lines.get(element, 0))
    draft.prompt = _rich(element.find("questiontext"), draft, "the prompt")
    draft.feedback = _rich(element.find("generalfeedback"), draft, "the general feedback")
    draft.points = _moodle_float(element, "defaultgrade", 1.0, lines, path, MAX_POINTS)
    draft.single = _plain(element.findtext("single")).lower() not in ("false", "0")
    draft.case_sensitive = _plain(element.findtext("usecase")) == "1"
    draft.grader_notes = _rich(element.find("graderinfo"), draft, "the information for graders")
    for answer in element.findall("answer"):
        draft.choices.append(_moodle_choice(answer, draft, lines, path))
    for unit in element.findall("units/unit"):
        unit_name = _plain(unit.findtext("unit_name"))
        multiplier = _moodle_float(unit, "multiplier", 1.0, lines, path)
        if unit_name and abs(multiplier - 1.0) < 1e-9:
            draft.units.append(unit_name)
        elif unit_name:
            draft.notes.append(
                f"unit '{unit_name}' (multiplier {multiplier:g}) dropped: units are not converted"
            )
    _note_moodle_extras(element, draft)
    return draft


def _note_moodle_extras(element: ET.Element, draft: _Draft) -> None:
    """Note the parts of a Moodle question that a bank has no place for."""
    image = _plain(element.findtext("image"))
    if image:
        draft.notes.append(_media_note("image", image, "the prompt"))
    hints = [hint for hint in element.findall("hint") if _plain(hint.findtext("text"))]
    if hints:
        draft.notes.append(f"{len(hints)} hint(s) dropped: grader gives no hints")
    combined = [
        label for tag, label in COMBINED_FEEDBACK if _plain(element.findtext(f"{tag}/text"))
    ]
    if combined:
        draft.notes.append(
            f"the combined feedback for any {', '.join(combined)} response dropped "
            "(the options keep their own feedback)"
        )
    template = _rich(element.find("responsetemplate"), draft, "the response template")
    if template:
        draft.notes.append(f"the response template dropped: '{_short(template)}'")
    tags = [_plain(tag.findtext("text")) for tag in element.findall("tags/tag")]
    if any(tags):
        draft.notes.append("tags dropped: " + ", ".join(tag for tag in tags if tag))


def _moodle_choice(
    answer: ET.Element, draft: _Draft, lines: dict[ET.Element, int], path: Path
) -> _Choice:
    line = lines.get(answer)
    fraction = _parse_float(answer.get("fraction", "0"), path, line, "the fraction of an answer")
    text = draft.convert(answer.findtext("text") or "", answer.get("format", ""), "an answer")
    feedback = _rich(answer.find("feedback"), draft, f"the feedback of answer '{_short(text)}'")
    choice = _Choice(text, fraction, feedback)
    if draft.kind == "numerical" and text != "*" and fraction > 0:
        choice.value = _parse_float(text, path, line, "a numerical answer")
        choice.tolerance = _moodle_float(answer, "tolerance", 0.0, lines, path)
    return choice


def _moodle_float(
    element: ET.Element,
    child: str,
    default: float,
    lines: dict[ET.Element, int],
    path: Path,
    limit: float = MAX_MAGNITUDE,
) -> float:
    node = element.find(child)
    if node is None or not (node.text or "").strip():
        return default
    return _parse_float(node.text or "", path, lines.get(node), f"<{child}>", limit)


def _parse_float(
    text: str, path: Path, line: int | None, what: str, limit: float = MAX_MAGNITUDE
) -> float:
    """A finite number of at most ``limit`` in size: "nan", "inf" and "1e400" are refused."""
    shown = text.strip()[:40]
    try:
        number = float(text.strip().replace(",", "."))
    except ValueError:
        raise GraderError.at(
            path, line, f"{what} is not a number: '{shown}'", "write a number like 2 or 0.5"
        ) from None
    if not math.isfinite(number):
        raise GraderError.at(
            path, line, f"{what} is not a finite number: '{shown}'", "write a number like 2 or 0.5"
        )
    if abs(number) > limit:
        raise GraderError.at(
            path, line, f"{what} is out of range: '{shown}'", f"write a number of at most {limit:g}"
        )
    return number


def _plain(text: str | None) -> str:
    return (text or "").strip()


def _rich(holder: ET.Element | None, draft: _Draft, where: str) -> str:
    """The text of a Moodle <x format="..."><text>...</text></x> element, as plain text.

    Media in the HTML and files attached to the element are noted as dropped.
    """
    if holder is None:
        return ""
    raw = holder.findtext("text") or ""
    before = len(draft.notes)
    text = draft.convert(raw, holder.get("format", "html"), where)
    shown = " ".join(draft.notes[before:])
    for attached in holder.findall("file"):
        name = attached.get("name", "")
        if name and f"'{name}'" not in shown and f"/{name}'" not in shown:
            draft.notes.append(f"attached file '{name}' dropped from {where}")
    return text


# ---------------------------------------------------------------- GIFT

_GIFT_ESCAPES = {
    "~": "\ue000",
    "=": "\ue001",
    "#": "\ue002",
    "{": "\ue003",
    "}": "\ue004",
    ":": "\ue005",
    "n": "\ue006",
}
_GIFT_RESTORE = str.maketrans(
    {code: ("\n" if char == "n" else char) for char, code in _GIFT_ESCAPES.items()}
)
_GIFT_ESCAPE = re.compile(r"\\([~=#{}:n])")
_GIFT_FORMAT = re.compile(r"\s*\[(html|moodle|plain|markdown)\]")
_GIFT_WEIGHT = re.compile(r"^\s*%(-?\d+(?:\.\d+)?)%")
_GIFT_TRUE_FALSE = re.compile(r"^(T|TRUE|F|FALSE)$", re.IGNORECASE)
_GIFT_CATEGORY = "$CATEGORY:"


@dataclass
class _GiftBlock:
    text: str  # escapes already replaced by placeholders
    line: int  # the line the block's text starts on

    def line_at(self, position: int) -> int:
        return self.line + self.text.count("\n", 0, position)


def _gift_blocks(text: str) -> Iterator[_GiftBlock | _Draft]:
    """Questions are separated by blank lines; '//' comment lines are dropped.

    A $CATEGORY line comes out as a category draft (it is noted, a bank has no categories).
    """
    block: list[str] = []
    start = 0
    for number, line in enumerate([*text.splitlines(), ""], 1):
        stripped = line.strip()
        if not stripped:
            if any(part.strip() for part in block):
                yield _gift_block(block, start)
            block = []
            continue
        if stripped.startswith(_GIFT_CATEGORY):
            yield _Draft(stripped.removeprefix(_GIFT_CATEGORY).strip(), "category", number)
            line = ""
        elif stripped.startswith("//"):
            line = ""
        if not block:
            start = number
        block.append(line)


def _gift_block(lines: list[str], start: int) -> _GiftBlock:
    while lines and not lines[0].strip():
        lines = lines[1:]
        start += 1
    return _GiftBlock(
        _GIFT_ESCAPE.sub(lambda m: _GIFT_ESCAPES[m.group(1)], "\n".join(lines)), start
    )


def _gift_drafts(data: bytes, path: Path) -> list[_Draft]:
    text = decode_bytes(data, path)
    drafts = []
    for position, block in enumerate(_gift_blocks(text), 1):
        if isinstance(block, _Draft):
            drafts.append(block)
            continue
        try:
            drafts.append(_gift_draft(block, position, path))
        except GraderError as error:
            drafts.append(_unreadable(error, _gift_name(block, position), "", block.line))
    return drafts


def _gift_name(block: _GiftBlock, position: int) -> str:
    """A name for a question that could not be read: its title, or its first words."""
    text = block.text.strip()
    if text.startswith("::") and "::" in text[2:]:
        return _gift_text(text[2 : text.index("::", 2)], "")
    return _name_from(_gift_text(text.split("{", 1)[0], ""), position)


def _gift_draft(block: _GiftBlock, position: int, path: Path) -> _Draft:
    text = block.text
    cursor = len(text) - len(text.lstrip())
    title = ""
    if text.startswith("::", cursor):
        end = text.find("::", cursor + 2)
        if end < 0:
            raise GraderError.at(
                path,
                block.line_at(cursor),
                "a title opened with '::' is never closed",
                "end the title with '::', or write \\: for a colon",
            )
        title = _gift_text(text[cursor + 2 : end], "")
        cursor = end + 2
    text_format = ""
    if match := _GIFT_FORMAT.match(text, cursor):
        text_format = match.group(1)
        cursor = match.end()
    draft = _Draft(title, "", block.line)
    open_at = text.find("{", cursor)
    if open_at < 0:
        draft.prompt = draft.convert(_gift_restore(text[cursor:]), text_format, "the prompt")
        draft.name = title or _name_from(draft.prompt, position)
        draft.kind = "description"
        return draft
    close_at = text.find("}", open_at + 1)
    if close_at < 0:
        raise GraderError.at(
            path,
            block.line_at(open_at),
            "an answer block '{' is never closed",
            "add the closing '}', or write \\{ for a brace",
        )
    before, inside, after = text[cursor:open_at], text[open_at + 1 : close_at], text[close_at + 1 :]
    raw_prompt = before + "_____" + after if after.strip() else before
    draft.prompt = draft.convert(_gift_restore(raw_prompt), text_format, "the prompt")
    draft.name = title or _name_from(draft.prompt, position)
    _gift_answers(draft, inside, text_format, path, block.line_at(open_at))
    return draft


def _name_from(prompt: str, position: int) -> str:
    first_line = prompt.split("\n", 1)[0]
    return first_line[:40].rstrip() or f"question {position}"


def _gift_restore(raw: str) -> str:
    return raw.translate(_GIFT_RESTORE)


def _gift_text(raw: str, text_format: str) -> str:
    text = _gift_restore(raw)
    return html_to_text(text) if text_format == "html" else tidy_text(text)


def _gift_piece(draft: _Draft, raw: str, default_format: str, where: str) -> str:
    """An answer or feedback text: its own [format] marker, else the question text's format."""
    text_format = default_format
    if match := _GIFT_FORMAT.match(raw):
        text_format = match.group(1)
        raw = raw[match.end() :]
    return draft.convert(_gift_restore(raw), text_format, where)


def _gift_answers(draft: _Draft, inside: str, text_format: str, path: Path, line: int) -> None:
    """Classify the answer block and fill the draft's kind and choices."""
    answers, general = inside.rsplit("####", 1) if "####" in inside else (inside, "")
    draft.feedback = _gift_piece(draft, general, text_format, "the general feedback")
    answers = answers.strip()
    if not answers:
        draft.kind = "essay"
    elif answers.startswith("#"):
        draft.kind = "numerical"
        draft.choices = _gift_numeric(draft, answers[1:], text_format, path, line)
    elif _GIFT_TRUE_FALSE.match(answers.split("#", 1)[0].strip()):
        draft.kind = "truefalse"
        draft.choices = _gift_true_false(draft, answers, text_format)
    elif "->" in answers:
        draft.kind = "matching"
    elif "~" in answers or answers.startswith("="):
        pairs = _gift_split(answers, path, line)
        draft.kind = "multichoice" if any(marker == "~" for marker, _ in pairs) else "shortanswer"
        draft.single = any(marker == "=" for marker, _ in pairs)
        draft.choices = [
            _gift_choice(draft, marker, body, text_format, path, line) for marker, body in pairs
        ]
    else:
        raise GraderError.at(
            path,
            line,
            f"cannot tell the question type from the answers '{{{_gift_text(answers, '')}}}'",
            "start answers with = (right) or ~ (wrong); or write {T}, {F}, {#number}, {} (essay)",
        )


def _gift_split(answers: str, path: Path, line: int) -> list[tuple[str, str]]:
    parts = re.split(r"([=~])", answers)
    if parts[0].strip():
        raise GraderError.at(
            path,
            line,
            f"text before the first answer: '{_gift_text(parts[0], '')}'",
            "start each answer with = or ~",
        )
    return list(zip(parts[1::2], parts[2::2], strict=True))


def _gift_choice(
    draft: _Draft, marker: str, body: str, text_format: str, path: Path, line: int
) -> _Choice:
    fraction = 100.0 if marker == "=" else 0.0
    if match := _GIFT_WEIGHT.match(body):
        fraction = _parse_float(match.group(1), path, line, "an answer weight")
        body = body[match.end() :]
    text, _, feedback = body.strip().partition("#")
    answer = _gift_piece(draft, text, text_format, "an answer")
    return _Choice(
        answer,
        fraction,
        _gift_piece(draft, feedback, text_format, f"the feedback of answer '{_short(answer)}'"),
    )


def _gift_true_false(draft: _Draft, answers: str, text_format: str) -> list[_Choice]:
    parts = answers.split("#", 2)
    truth = parts[0].strip().upper() in ("T", "TRUE")
    wrong = _gift_piece(draft, parts[1], text_format, "a feedback") if len(parts) > 1 else ""
    right = _gift_piece(draft, parts[2], text_format, "a feedback") if len(parts) > 2 else ""
    return [
        _Choice("true", 100.0 if truth else 0.0, right if truth else wrong),
        _Choice("false", 0.0 if truth else 100.0, wrong if truth else right),
    ]


def _gift_numeric(
    draft: _Draft, body: str, text_format: str, path: Path, line: int
) -> list[_Choice]:
    """Moodle's reading: '~' starts the feedback for any other answer; '=' separates answers."""
    body, tilde, other = body.partition("~")
    answers = body.strip().split("=")
    if not answers[0].strip():
        answers = answers[1:]
    if not answers:
        raise GraderError.at(path, line, "a numerical question without an answer", "write {#3.14}")
    choices = []
    for answer in answers:
        choice = _gift_choice(draft, "=", answer, text_format, path, line)
        choice.value, choice.tolerance = _gift_number_spec(choice.text, path, line)
        choices.append(choice)
    if tilde:
        feedback = _gift_piece(draft, other.partition("#")[2], text_format, "a feedback")
        choices.append(_Choice("*", 0.0, feedback))
    return choices


def _gift_number_spec(spec: str, path: Path, line: int) -> tuple[float, float]:
    """'3.14:0.01' (value and tolerance), '1..5' (a range) or '3.14'."""
    if ".." in spec:
        low_text, high_text = spec.split("..", 1)
        low = _parse_float(low_text, path, line, "the low end of a numeric range")
        high = _parse_float(high_text, path, line, "the high end of a numeric range")
        return (low + high) / 2, abs(high - low) / 2
    value_text, _, tolerance_text = spec.partition(":")
    value = _parse_float(value_text, path, line, "a numeric answer")
    tolerance = (
        _parse_float(tolerance_text, path, line, "a tolerance") if tolerance_text.strip() else 0.0
    )
    return value, tolerance
