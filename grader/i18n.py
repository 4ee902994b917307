"""Interface labels from one gettext message catalogue (``grader/locale``).

The catalogue's sources are ``grader/locale/<language>/LC_MESSAGES/grader.po`` (msgids are
the English labels); the compiled ``grader.mo`` beside each is what runs, read by the standard
library's ``gettext`` (no dependency at run time). ``make messages`` extracts the labels from the
code and templates with Babel, updates every ``.po`` and compiles the ``.mo`` files; a test fails
when a ``.mo`` is older than its ``.po`` or a label lacks a translation.

A language without a catalogue gets the English labels.
"""

from __future__ import annotations

import gettext as _gettext
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "grader"
SOURCE_LANGUAGE = "en"
_CODE = re.compile(r"[A-Za-z]{2,3}")


@lru_cache(maxsize=1)
def catalogue_languages() -> tuple[str, ...]:
    """The languages with a compiled catalogue, English first."""
    found = sorted(
        path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")
    )
    return (SOURCE_LANGUAGE, *(code for code in found if code != SOURCE_LANGUAGE))


def base_language(code: str | None) -> str:
    """``ko-KR`` -> ``ko``; "" for anything that is not a language code."""
    primary = (code or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if _CODE.fullmatch(primary) else ""


def label_language(*candidates: str | None) -> str:
    """The first candidate with a catalogue (``ko-KR`` counts as ``ko``), else English."""
    available = catalogue_languages()
    for candidate in candidates:
        code = base_language(candidate)
        if code in available:
            return code
    return SOURCE_LANGUAGE


@lru_cache(maxsize=32)
def translations(language: str | None) -> _gettext.NullTranslations:
    """The catalogue of ``language`` (English, the msgids themselves, when there is none)."""
    code = base_language(language)
    if not code or code == SOURCE_LANGUAGE:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, str(LOCALE_DIR), [code], fallback=True)


def gettext_for(language: str | None) -> Callable[[str], str]:
    """``_`` for ``language``: ``_("Score")`` -> ``"점수"``."""
    return translations(language).gettext


def ngettext_for(language: str | None) -> Callable[[str, str, int], str]:
    """``ngettext`` for ``language``, with ``%(num)s`` filled in by the count."""
    catalogue = translations(language)

    def ngettext(singular: str, plural: str, count: int) -> str:
        return catalogue.ngettext(singular, plural, count) % {"num": count}

    return ngettext


def template_globals(language: str | None) -> dict[str, Any]:
    """``_``/``gettext``/``ngettext`` for a Jinja template, as Jinja's i18n "newstyle" does it.

    ``_("Showing %(shown)s of %(found)s", shown=1, found=2)``: the translation is trusted
    markup (it comes from our own catalogue), every variable is escaped when it is filled in.
    """
    from jinja2 import pass_context
    from markupsafe import Markup

    catalogue = translations(language)

    def fill(context: Any, text: str, variables: dict[str, Any]) -> Any:
        result: Any = Markup(text) if context.eval_ctx.autoescape else text
        return result % variables if variables else result

    @pass_context
    def gettext(context: Any, message: str, **variables: Any) -> Any:
        return fill(context, catalogue.gettext(message), variables)

    @pass_context
    def ngettext(context: Any, singular: str, plural: str, count: int, **variables: Any) -> Any:
        variables.setdefault("num", count)
        return fill(context, catalogue.ngettext(singular, plural, count), variables)

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


def accept_language(header: str | None, offered: Iterable[str]) -> str:
    """The best of ``offered`` for an HTTP Accept-Language header ("" when none matches)."""
    offered_codes = {base_language(code): code for code in offered}
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")[:20]):
        pieces = part.strip().split(";")
        quality = 1.0
        for parameter in pieces[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        code = base_language(pieces[0])
        if code in offered_codes and quality > 0:
            ranked.append((-quality, position, offered_codes[code]))
    return min(ranked)[2] if ranked else ""
