"""Which language a text is in, from the scripts it is written in (and, among Latin-script
languages, lingua: ``grader.text.languages.detect``)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from grader.text.languages.base import (
    CYRILLIC,
    HAN,
    HANGUL,
    KANA,
    LATIN,
)
from grader.text.languages.words import word_norm as word_norm
from grader.text.normalize import normalize_with_spans

UNDETERMINED = "und"
CJK_LANGUAGES = frozenset({"ko", "ja", "zh"})
# Languages whose terms are matched as units across the segmenter's words
# (grader.evidence.keywords).
WRITTEN_TOGETHER = CJK_LANGUAGES | {"th"}

# --- scripts -----------------------------------------------------------------------------------

_KNOWN_SCRIPTS = HANGUL + KANA + HAN + CYRILLIC + LATIN
SCRIPT_RUN = re.compile(
    f"(?P<ko>[{HANGUL}]+)|(?P<kana>[{KANA}]+)|(?P<han>[{HAN}]+)|(?P<cyr>[{CYRILLIC}]+)"
    f"|(?P<lat>[{LATIN}]+)|(?P<other>(?:(?![{_KNOWN_SCRIPTS}])[^\\W\\d_])+)"
)
_OTHER_SCRIPT_LANGUAGE = {
    "GREEK": "el",
    "ARABIC": "ar",
    "HEBREW": "he",
    "DEVANAGARI": "hi",
    "BENGALI": "bn",
    "TAMIL": "ta",
    "THAI": "th",
    "ARMENIAN": "hy",
    "GEORGIAN": "ka",
}
CYRILLIC_LANGUAGES = frozenset({"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "mn", "tg", "tt"})
_NON_LATIN_LANGUAGES = (
    CJK_LANGUAGES | CYRILLIC_LANGUAGES | frozenset(_OTHER_SCRIPT_LANGUAGE.values()) | {"fa", "ur"}
)
_DETECTION_PREFIX = 100_000  # characters looked at by detect_language
_CJK_WEIGHT = 3  # a Hangul/kana/Han character counts as this many Latin letters


def is_latin_language(language: str) -> bool:
    primary = language.split("-")[0].lower()  # zh-TW is Chinese
    return primary not in _NON_LATIN_LANGUAGES and primary != UNDETERMINED


def detect_language(text: str, candidates: Sequence[str] = ()) -> str | None:
    """The language of ``text`` from its letters' scripts (None when it has no letters).

    Hangul -> ko; kana -> ja (with the Han characters around it); Han alone -> zh or ja, whichever
    ``candidates`` names first (zh when neither); Cyrillic -> ru or the first Cyrillic candidate;
    Latin -> the first Latin-script candidate (else en), unless lingua finds the text clearly in
    another Latin-script language among the candidates and those the multilingual encoder reads
    (``grader.text.languages.detect``; a text of fewer than four words never is). The script with
    the most letters wins, a CJK character counting as three letters (it carries about as much as
    three Latin letters), so a Korean answer with English terms is Korean.
    """
    counts: Counter[str] = Counter()
    normalized = normalize_with_spans(text).text[:_DETECTION_PREFIX]
    for match in SCRIPT_RUN.finditer(normalized):
        group = match.lastgroup or "other"
        key = other_script_language(match.group()) if group == "other" else group
        counts[key] += len(match.group())
    if not counts:
        return None
    cands = tuple(code.lower() for code in candidates)
    scores: Counter[str] = Counter()
    han = counts.pop("han", 0)
    if counts.get("kana"):
        scores["ja"] += _CJK_WEIGHT * (counts.pop("kana") + han)
    elif counts.get("ko"):
        scores["ko"] += _CJK_WEIGHT * han
    elif han:
        scores[_han_language(cands)] += _CJK_WEIGHT * han
    for key, count in counts.items():
        if key == "ko":
            scores["ko"] += _CJK_WEIGHT * count
        elif key == "cyr":
            scores[_cyrillic_language(cands)] += count
        elif key == "lat":
            scores[_latin_language(cands)] += count
        else:
            scores[key] += count
    best = max(scores, key=lambda code: scores[code])
    if "lat" in counts and best == _latin_language(cands):
        from grader.text.languages.detect import latin_language

        return latin_language(normalized, cands, best)
    return best


def other_script_language(run: str) -> str:
    script = unicodedata.name(run[0], "").split(" ")[0]
    return _OTHER_SCRIPT_LANGUAGE.get(script, UNDETERMINED)


def _han_language(candidates: Sequence[str]) -> str:
    return next((code for code in candidates if code in ("zh", "ja")), "zh")


def _cyrillic_language(candidates: Sequence[str]) -> str:
    if "ru" in candidates:
        return "ru"
    return next((code for code in candidates if code in CYRILLIC_LANGUAGES), "ru")


def _latin_language(candidates: Sequence[str]) -> str:
    return next((code for code in candidates if is_latin_language(code)), "en")
