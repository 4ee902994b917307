"""Thai: words from PyThaiNLP's newmm segmenter (dictionary maximal matching), negation.

Thai is written without spaces between words; a space ends a phrase or a sentence, so it ends
a clause here. Keys are the words themselves. Negators: ไม่ (and ไม่ใช่, ไม่ได้, ไม่มี, ไม่เคย),
มิ, หามิได้ (their clause); ปราศจาก, โดยไม่ (the rest of the clause); ไม่เพียง / ไม่แค่ ("not
only") is no negation. A clause ends before แต่, แต่ว่า, อย่างไรก็ตาม, ถึงแม้, เพราะ, ...
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from grader.text.languages.base import (
    BOUNDARY_PUNCT,
    BREAK_AFTER,
    BREAK_BEFORE,
    CLAUSE_NEGATOR,
    CONTENT,
    FORWARD_NEGATOR,
    FUNCTION,
    NO_BREAK,
    PUNCT,
    SOFT_BREAK,
    Context,
    LanguageProfile,
    Raw,
    Script,
    chunks,
    words,
)

STOP_WORDS = words(
    """ที่ ของ และ ใน การ เป็น มี ได้ จะ ให้ ไป มา ว่า ก็ กับ แต่ หรือ โดย จาก นี้ นั้น ซึ่ง คือ ความ
    อยู่ แล้ว ยัง เพื่อ ถึง ทำ เมื่อ อัน ๆ ด้วย เขา มัน เรา ฉัน คุณ"""
)
NEGATORS = words("ไม่ ไม่ใช่ ไม่ได้ ไม่มี ไม่เคย ไม่ต้อง ไม่สามารถ มิ มิได้ หามิได้ ไม่อาจ")
FORWARD = words("ปราศจาก โดยไม่")
NOT_BEFORE = words("เพียง เพียงแต่ แค่")
CLAUSE_WORDS = words("แต่ แต่ว่า อย่างไรก็ตาม ถึงแม้ แม้ว่า เพราะ เนื่องจาก ส่วน")
SOFT_WORDS = words("และ หรือ")


@lru_cache(maxsize=1)
def _tokenize() -> Any:
    from pythainlp.tokenize import word_tokenize

    word_tokenize("เตรียม", engine="newmm")  # the first call loads the dictionary
    return word_tokenize


def analyse(text: str, context: Context) -> list[Raw]:
    """Thai text: newmm words; spaces end clauses."""
    tokenize = _tokenize()
    raws: list[Raw] = []
    for offset, piece in chunks(text):
        position = offset
        for token in tokenize(piece, engine="newmm", keep_whitespace=True):
            start, position = position, position + len(token)
            raw = _raw(token, start, position)
            if raw is not None:
                raws.append(raw)
    _mark_negation(raws)
    return raws


def _raw(token: str, start: int, end: int) -> Raw | None:
    if token.isspace():
        return Raw(start, end, " ", "th", PUNCT, boundary=BREAK_AFTER)
    if not any(ch.isalnum() for ch in token):
        boundary = BREAK_AFTER if token in BOUNDARY_PUNCT else NO_BREAK
        return Raw(start, end, token, "th", PUNCT, boundary=boundary)
    return Raw(start, end, token, "th", FUNCTION if token in STOP_WORDS else CONTENT)


def _mark_negation(raws: list[Raw]) -> None:
    words_only = [raw for raw in raws if raw.kind != PUNCT]
    for index, raw in enumerate(words_only):
        following = words_only[index + 1].norm if index + 1 < len(words_only) else ""
        if raw.norm in CLAUSE_WORDS:
            raw.boundary = BREAK_BEFORE
        elif raw.norm in SOFT_WORDS:
            raw.boundary = SOFT_BREAK
        if following in NOT_BEFORE or raw.norm.startswith(("ไม่เพียง", "ไม่แค่")):
            continue
        if raw.norm in NEGATORS:
            raw.negator = CLAUSE_NEGATOR
        elif raw.norm in FORWARD:
            raw.negator = FORWARD_NEGATOR


PROFILE = LanguageProfile(
    code="th",
    name="Thai",
    script=Script.THAI,
    segmenter="PyThaiNLP newmm (dictionary maximal matching); a space ends a clause",
    lemmatiser="the word itself (Thai does not inflect)",
    negation_cues="ไม่, ไม่ใช่, ไม่ได้, ไม่มี, มิ (clause); ปราศจาก, โดยไม่ (rest of the clause)",
    stop_words=STOP_WORDS,
    sentences="at spaces between phrases and at line breaks, as Thai is written",
    distributions=("pythainlp",),
    analyser=analyse,
    retractions=(
        "ไม่ถูกต้อง",
        "ไม่จริง",
        "ตรงกันข้าม",
    ),
)
