"""GIFT question files (Moodle's plain-text format) into drafts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.lms.convert import short
from grader.lms.drafts import Choice, Draft
from grader.lms.html_text import html_to_text, tidy_text
from grader.lms.moodle import parse_float, unreadable
from grader.load.yamlread import decode_bytes

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


def _gift_blocks(text: str) -> Iterator[_GiftBlock | Draft]:
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
            yield Draft(stripped.removeprefix(_GIFT_CATEGORY).strip(), "category", number)
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


def gift_drafts(data: bytes, path: Path) -> list[Draft]:
    text = decode_bytes(data, path)
    drafts = []
    for position, block in enumerate(_gift_blocks(text), 1):
        if isinstance(block, Draft):
            drafts.append(block)
            continue
        try:
            drafts.append(_gift_draft(block, position, path))
        except GraderError as error:
            drafts.append(unreadable(error, _gift_name(block, position), "", block.line))
    return drafts


def _gift_name(block: _GiftBlock, position: int) -> str:
    """A name for a question that could not be read: its title, or its first words."""
    text = block.text.strip()
    if text.startswith("::") and "::" in text[2:]:
        return _gift_text(text[2 : text.index("::", 2)], "")
    return _name_from(_gift_text(text.split("{", 1)[0], ""), position)


def _gift_draft(block: _GiftBlock, position: int, path: Path) -> Draft:
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
    draft = Draft(title, "", block.line)
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


def _gift_piece(draft: Draft, raw: str, default_format: str, where: str) -> str:
    """An answer or feedback text: its own [format] marker, else the question text's format."""
    text_format = default_format
    if match := _GIFT_FORMAT.match(raw):
        text_format = match.group(1)
        raw = raw[match.end() :]
    return draft.convert(_gift_restore(raw), text_format, where)


def _gift_answers(draft: Draft, inside: str, text_format: str, path: Path, line: int) -> None:
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
    draft: Draft, marker: str, body: str, text_format: str, path: Path, line: int
) -> Choice:
    fraction = 100.0 if marker == "=" else 0.0
    if match := _GIFT_WEIGHT.match(body):
        fraction = parse_float(match.group(1), path, line, "an answer weight")
        body = body[match.end() :]
    text, _, feedback = body.strip().partition("#")
    answer = _gift_piece(draft, text, text_format, "an answer")
    return Choice(
        answer,
        fraction,
        _gift_piece(draft, feedback, text_format, f"the feedback of answer '{short(answer)}'"),
    )


def _gift_true_false(draft: Draft, answers: str, text_format: str) -> list[Choice]:
    parts = answers.split("#", 2)
    truth = parts[0].strip().upper() in ("T", "TRUE")
    wrong = _gift_piece(draft, parts[1], text_format, "a feedback") if len(parts) > 1 else ""
    right = _gift_piece(draft, parts[2], text_format, "a feedback") if len(parts) > 2 else ""
    return [
        Choice("true", 100.0 if truth else 0.0, right if truth else wrong),
        Choice("false", 0.0 if truth else 100.0, wrong if truth else right),
    ]


def _gift_numeric(draft: Draft, body: str, text_format: str, path: Path, line: int) -> list[Choice]:
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
        choices.append(Choice("*", 0.0, feedback))
    return choices


def _gift_number_spec(spec: str, path: Path, line: int) -> tuple[float, float]:
    """'3.14:0.01' (value and tolerance), '1..5' (a range) or '3.14'."""
    if ".." in spec:
        low_text, high_text = spec.split("..", 1)
        low = parse_float(low_text, path, line, "the low end of a numeric range")
        high = parse_float(high_text, path, line, "the high end of a numeric range")
        return (low + high) / 2, abs(high - low) / 2
    value_text, _, tolerance_text = spec.partition(":")
    value = parse_float(value_text, path, line, "a numeric answer")
    tolerance = (
        parse_float(tolerance_text, path, line, "a tolerance") if tolerance_text.strip() else 0.0
    )
    return value, tolerance
