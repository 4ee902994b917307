"""Moodle XML question files into drafts."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

from grader.errors import GraderError
from grader.lms.convert import short
from grader.lms.drafts import COMBINED_FEEDBACK, Choice, Draft
from grader.lms.html_text import html_to_text, media_note
from grader.values import MAX_MAGNITUDE, MAX_POINTS

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


def moodle_drafts(data: bytes, path: Path) -> list[Draft]:
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
            drafts.append(Draft(category, "category", line))
            continue
        name = _question_name(element.findtext("name/text")) or f"question {position}"
        try:
            drafts.append(_moodle_draft(element, name, kind or "unknown", lines, path))
        except GraderError as error:
            drafts.append(unreadable(error, name, kind or "unknown", line))
    return drafts


def unreadable(error: GraderError, name: str, kind: str, line: int) -> Draft:
    """A question whose text could not be read: skipped, located at the problem's line."""
    problem = error.problems[0] if error.problems else None
    if problem is None:
        return Draft(name, kind, line, error=str(error))
    reason = problem.message + (f" ({problem.fix})" if problem.fix else "")
    return Draft(name, kind, problem.line or line, error=reason)


def _question_name(raw: str | None) -> str:
    """A question's name as plain text (some exports put HTML into names)."""
    name = _plain(raw)
    return html_to_text(name) if re.search(r"<[A-Za-z/!]", name) else name


def _moodle_draft(
    element: ET.Element, name: str, kind: str, lines: dict[ET.Element, int], path: Path
) -> Draft:
    draft = Draft(name, kind, lines.get(element, 0))
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


def _note_moodle_extras(element: ET.Element, draft: Draft) -> None:
    """Note the parts of a Moodle question that a bank has no place for."""
    image = _plain(element.findtext("image"))
    if image:
        draft.notes.append(media_note("image", image, "the prompt"))
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
        draft.notes.append(f"the response template dropped: '{short(template)}'")
    tags = [_plain(tag.findtext("text")) for tag in element.findall("tags/tag")]
    if any(tags):
        draft.notes.append("tags dropped: " + ", ".join(tag for tag in tags if tag))


def _moodle_choice(
    answer: ET.Element, draft: Draft, lines: dict[ET.Element, int], path: Path
) -> Choice:
    line = lines.get(answer)
    fraction = parse_float(answer.get("fraction", "0"), path, line, "the fraction of an answer")
    text = draft.convert(answer.findtext("text") or "", answer.get("format", ""), "an answer")
    feedback = _rich(answer.find("feedback"), draft, f"the feedback of answer '{short(text)}'")
    choice = Choice(text, fraction, feedback)
    if draft.kind == "numerical" and text != "*" and fraction > 0:
        choice.value = parse_float(text, path, line, "a numerical answer")
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
    return parse_float(node.text or "", path, lines.get(node), f"<{child}>", limit)


def parse_float(
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


def _rich(holder: ET.Element | None, draft: Draft, where: str) -> str:
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
