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

__all__ = ["ENCODER_LANGUAGES", "PROFILED_LANGUAGES", "LanguageProfile", "Script", "profile"]

# The languages the multilingual sentence encoder (use-multilingual) was trained on: language
# detection considers them (grader.text.languages.detect), and grader.evidence.models lists them.
ENCODER_LANGUAGES = (
    "ar", "de", "en", "es", "fr", "it", "ja", "ko",
    "nl", "pl", "pt", "ru", "th", "tr", "zh", "zh-TW",
)  # fmt: skip

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
