"""Korean: kiwipiepy morphemes; particles and endings decide negation and clause breaks.

The key of a word is its morpheme form (``디코더는`` -> ``디코더``; ``키울수록`` -> ``키우``).
Latin words glued to Korean (``GPT는``) go through Kiwi too and are then stemmed as Latin words. A
determiner written against a noun is joined to it (Kiwi reads ``양방향이`` as ``양`` + ``방향``
but ``양방향`` alone as one noun: both give ``양방향``). Particles and endings (J*, E*, VCP, XS*)
are affixes, not words. Negators: 아니다, 않다, 말다, 없다, 안/못 (their clause); 없이 (the noun
phrase before it); "뿐만 아니라" and "밖에 없다" are no negation. A clause ends after connective
endings (-지만, -는데, -고, -아서, -라, ...) and before 하지만, 그러나, ...
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from grader.text.languages.base import (
    AFFIX,
    BREAK_AFTER,
    BREAK_BEFORE,
    CLAUSE_NEGATOR,
    CONTENT,
    FUNCTION,
    IS_CYRILLIC_WORD,
    NO_BREAK,
    PHRASE_BEFORE_NEGATOR,
    PUNCT,
    Context,
    LanguageProfile,
    Raw,
    Script,
    chunks,
    words,
)
from grader.text.languages.words import foreign_word

_KO_PUNCT_TAGS = frozenset({"SF", "SP", "SS", "SSO", "SSC", "SE", "SO", "SW", "SB"})
_KO_BOUNDARY_TAGS = frozenset({"SF", "SP", "SS", "SSO", "SSC", "SE"})
_KO_AFFIX_TAGS = frozenset({"VCP", "XSV", "XSA", "XSN", "XSM", "Z_CODA", "Z_SIOT", "UN"})
_KO_NOUN_AFFIX_TAGS = frozenset({"XSN", "Z_CODA", "Z_SIOT"})
_KO_FUNCTION_TAGS = frozenset({"VCN", "VX", "NNB", "NP", "MM", "MAJ", "IC", "XPN"})
_KO_FUNCTION_FORMS = frozenset({"하", "되", "있", "없", "이", "그", "저", "것", "수"})
_KO_CONTRAST = words("하지만 그러나 그런데 그렇지만 그래도 반면 반면에 단")
_KO_CLAUSE_ENDINGS = words(
    """지만 는데 ᆫ데 은데 데 고 으나 나 라 면서 으면서 며 으며 어서 아서 여서 니까 으니까 므로 으므로
    면 으면 어도 아도 여도 더라도 는데도 ᆫ데도 거나 든지 ᆫ지만 는지"""
)


@lru_cache(maxsize=1)
def kiwi() -> Any:
    from kiwipiepy import Kiwi

    # Without the multi-word dictionary: it halves Kiwi's start (about 2.3 s to 1.1 s cold) and
    # changed 4 of 684 Korean lines of the banks, rubrics, tests and seeds, each by splitting a
    # compound noun ("자연어 처리" -> "자연어", "처리"); terms and answers are analysed alike.
    analyzer = Kiwi(load_multi_dict=False)
    analyzer.tokenize("준비")  # the first call loads the model: do it here, once
    return analyzer


def analyse(text: str, context: Context) -> list[Raw]:
    """Korean text: Kiwi morphemes; particles and endings are affixes."""
    analyzer = kiwi()
    pieces = chunks(text)
    raws: list[Raw] = []
    tags: list[str] = []
    forms: list[str] = []
    for (offset, _), tokens in zip(
        pieces, analyzer.tokenize([piece for _, piece in pieces]), strict=True
    ):
        for token in tokens:
            start = offset + token.start
            end = start + max(token.len, 1)
            tag = str(token.tag).split("-")[0]
            raws.append(_korean_raw(text[start:end], str(token.form), tag, start, end, context))
            tags.append(tag)
            forms.append(str(token.form))
    _join_korean_prefixes(raws, tags, forms)
    _mark_korean_negation(raws, tags, forms)
    return raws


def _join_korean_prefixes(raws: list[Raw], tags: list[str], forms: list[str]) -> None:
    """A determiner written against a noun is one word: Kiwi reads 양방향이 as 양 + 방향, but
    양방향 alone as one noun; joining them gives both the same key (for content-word overlap)."""
    index = len(raws) - 2
    while index >= 0:
        first, second = raws[index], raws[index + 1]
        if tags[index] == "MM" and tags[index + 1] in ("NNG", "NNP") and first.end == second.start:
            second.start, second.norm = first.start, first.norm + second.norm
            forms[index + 1] = second.norm
            del raws[index], tags[index], forms[index]
        index -= 1


def _korean_raw(surface: str, form: str, tag: str, start: int, end: int, context: Context) -> Raw:
    if tag in _KO_PUNCT_TAGS and not IS_CYRILLIC_WORD.fullmatch(surface):
        boundary = BREAK_AFTER if tag in _KO_BOUNDARY_TAGS else NO_BREAK
        return Raw(start, end, surface, "ko", PUNCT, boundary=boundary)
    if tag[0] in "JE" or tag in _KO_AFFIX_TAGS:  # noun suffixes stay inside a noun phrase
        return Raw(start, end, form, "ko", AFFIX, in_phrase=tag in _KO_NOUN_AFFIX_TAGS)
    foreign = foreign_word(surface, start, end, context)
    if foreign is not None:
        return foreign
    if tag in _KO_FUNCTION_TAGS or form in _KO_FUNCTION_FORMS:
        return Raw(start, end, form, "ko", FUNCTION)
    return Raw(start, end, form, "ko", CONTENT)


def _mark_korean_negation(raws: list[Raw], tags: list[str], forms: list[str]) -> None:
    for index, (raw, tag, form) in enumerate(zip(raws, tags, forms, strict=True)):
        before = forms[max(0, index - 3) : index]
        if (tag == "MAJ" and form in _KO_CONTRAST) or (tag == "NNG" and form == "반면"):
            raw.boundary = BREAK_BEFORE
        elif tag == "EC" and (form in _KO_CLAUSE_ENDINGS or _follows_negator(raws, index)):
            raw.boundary = BREAK_AFTER
        if _is_korean_negator(tag, form, before):
            # 가중치 변경 없이: only the noun phrase before it
            raw.negator = PHRASE_BEFORE_NEGATOR if form == "없이" else CLAUSE_NEGATOR


def _is_korean_negator(tag: str, form: str, before: list[str]) -> bool:
    if tag == "VCN":  # 아니다; "뿐만 아니라" (not only) is not a negation
        return "뿐" not in before
    if (tag == "VX" and form in ("않", "말")) or (tag == "VA" and form == "없"):
        return "밖에" not in before  # "X밖에 없다" means "only X"
    return tag == "MAG" and form in ("안", "못", "없이")


def _follows_negator(raws: list[Raw], index: int) -> bool:
    return index > 0 and raws[index - 1].negator == CLAUSE_NEGATOR


PROFILE = LanguageProfile(
    code="ko",
    name="Korean",
    script=Script.HANGUL,
    segmenter="kiwipiepy morphemes (particles and endings are not words)",
    lemmatiser="Kiwi's morpheme forms (키울수록 -> 키우)",
    negation_cues="아니다, 않다, 말다, 없다, 안/못 (clause); 없이 (the noun phrase before it)",
    compounds=(
        "a determiner written against a noun is joined to it; terms match across Kiwi's splits"
    ),
    distributions=("kiwipiepy",),
    analyser=analyse,
    retractions=(
        "사실이 아니다",
        "틀렸다",
        "틀린 말",
        "그게 아니라",
        "반대이다",
        "반대다",
    ),
)
