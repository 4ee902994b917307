"""What every HTML page shares: the Jinja environment (autoescape on), text safety, numbers."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from markupsafe import Markup, escape

from grader.bank import Reveal
from grader.i18n import template_globals
from grader.output.student_view import (
    format_number,
    parse_reveal,
)

if TYPE_CHECKING:
    from jinja2 import Environment


MODEL_ANSWER_CRITERION = "model-answer"  # the pseudo-criterion of a question without a rubric
RTL_LANGUAGES = frozenset({"ar", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"})
EXCERPT_CHARS = 240
PROMPT_CHARS = 160
INSTRUCTOR_FOLDER = "instructor"  # a page per student with everything, for the instructor
STUDENT_FOLDER = "students"  # a page per student to hand to the student
_LANG_CODE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
SAFE_STEM = re.compile(r"\w[\w.-]{0,99}")
# Bidi embeddings, overrides and isolates, and control characters other than tab and newlines:
# shown as a visible marker so that no text can reorder or hide the page around it.
_HIDDEN = re.compile("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SectionHtml = tuple[str, str]  # (title, pre-rendered safe HTML) for extra class-page sections


# ---------------------------------------------------------------- text safety


def control_name(char: str) -> str:
    return f"U+{ord(char):04X}"


def mark_controls(text: str) -> Markup:
    """Escaped text with each hidden control character replaced by a visible marker."""
    if _HIDDEN.search(text) is None:
        return escape(text)  # the common case, the same result
    parts: list[str] = []
    position = 0
    for found in _HIDDEN.finditer(text):
        parts.append(str(escape(text[position : found.start()])))
        name = control_name(found.group())
        parts.append(f'<span class="ctl" title="{name}">[{name}]</span>')
        position = found.end()
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))


def plain_controls(text: str) -> str:
    """The text for places without markup (titles, attributes): controls as "[U+202E]"."""
    return _HIDDEN.sub(lambda found: f"[{control_name(found.group())}]", str(text))


def _finalize(value: Any) -> Any:
    """Applied to every {{ expression }}: plain strings get their hidden characters marked."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return mark_controls(value)


def lang_attr(code: str | None) -> str:
    """A language code fit for a lang attribute, or "" (inherit) for anything else."""
    return code if code and _LANG_CODE.fullmatch(code) else ""


def direction(code: str) -> str:
    return "rtl" if code.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def number(value: float | None, digits: int = 2) -> str:
    """A score for people: 3, 2.5, 1.33; "—" for none."""
    if value is None:
        return "—"
    rounded = round(value, digits)
    if rounded == 0:
        return "0"
    return str(int(rounded)) if float(rounded).is_integer() else f"{rounded:.{digits}f}".rstrip("0")


def percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def share(score: float, points: float) -> float:
    return 0.0 if points <= 0 else max(0.0, min(1.0, score / points))


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- the Jinja environment


@lru_cache(maxsize=1)
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    folder = Path(__file__).parent / "templates"
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = number
    env.filters["shown"] = format_number  # a score already rounded for students
    env.filters["pct"] = percent
    env.filters["plain"] = plain_controls
    env.filters["urlpart"] = lambda text: quote(str(text), safe="")
    env.globals["share"] = share
    return env


def script_text() -> str:
    return environment().get_template("_sort_script.html.j2").render().strip()


def csp(script: str | None) -> str:
    script_source = "'none'"
    if script is not None:
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        script_source = f"'sha256-{digest}'"
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {script_source}; base-uri 'none'; form-action 'none'"
    )


# ---------------------------------------------------------------- rendering


def check_reveal(reveal: str | Reveal) -> Reveal:
    return parse_reveal(reveal)


def render(template: str, language: str, **context: Any) -> str:
    """A page with its labels in ``language`` (English where the catalogue has none)."""
    page_lang = lang_attr(language) or "en"
    return (
        environment()
        .get_template(template)
        .render(
            **template_globals(page_lang),
            page_lang=page_lang,
            page_dir=direction(page_lang),
            **context,
        )
    )
