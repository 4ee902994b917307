"""Language profiles: what the grader does for each language, one module per language.

Each module (``grader.text.languages.de``, ...) defines ``PROFILE``, a :class:`LanguageProfile`: its
script, how words are found (spaces, or a segmenter), how a word gets its comparison key
(lemmatiser, stemmer), its stop words, its negation cues and their scope, how compounds are
split, and the pip packages it loads. Modules are imported on first use, and their analysers
load on the first text they analyse, so an English-only class loads no other language's
analyser. ``docs/languages.md`` says how to add a language.

A language without a module is still graded: its words are compared by their Snowball stems
where Snowball has the language, else as lower-case words.
"""

from __future__ import annotations

import importlib
from functools import cache

from grader.text.languages.base import LanguageProfile, Script

__all__ = ["PROFILED_LANGUAGES", "LanguageProfile", "Script", "describe", "profile"]

# The code of every language with a module of its own, in the order `grader languages` lists them.
PROFILED_LANGUAGES = (
    "en", "de", "fr", "es", "pt", "it", "nl", "pl", "tr", "ru", "ko", "ja", "zh", "ar", "th", "sv",
)  # fmt: skip


@cache
def profile(code: str) -> LanguageProfile | None:
    """The profile of ``code`` (a primary language subtag such as "de"); None without a module."""
    if code not in PROFILED_LANGUAGES:
        return None
    module = importlib.import_module(f"grader.text.languages.{code}")
    found: LanguageProfile = module.PROFILE
    return found


def describe(code: str) -> dict[str, str]:
    """What the grader does for answers in ``code``, in words (for `validate` and `languages`):
    the analyser, the negation cues, compound splitting and the encoder ``--model auto`` uses."""
    from grader.text.languages.words import snowball_name

    found = profile(code.split("-")[0].lower())  # zh-TW: the Chinese profile
    if found is None:
        stemmer = snowball_name(code)
        analyser = (
            f"no profile: words at spaces, Snowball {stemmer} stems, no stop words"
            if stemmer
            else "no profile: only exact matching of lower-case words"
        )
        return {
            "language": code,
            "name": code,
            "analyser": analyser,
            "negation": "none",
            "compounds": "not split",
            "encoder": _encoder(code),
        }
    return {
        "language": code,
        "name": found.name,
        "analyser": f"{found.segmenter}; {found.lemmatiser}",
        "negation": found.negation_cues,
        "compounds": found.compounds or "not split",
        "encoder": _encoder(code),
    }


def _encoder(code: str) -> str:
    from grader.evidence.models import PACKAGED, auto_model_for

    model = auto_model_for(code)
    readers = {name for name, spec in PACKAGED.items() if spec.languages and code in spec.languages}
    if readers & set(model.split("+")):
        return f"{model} (what --model auto uses)"
    return f"{model} (what --model auto uses), not made for '{code}': meaning is compared roughly"
