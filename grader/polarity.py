"""Whether an answer says the opposite of a reference text, or takes a sentence back.

Two checks on analysed texts (``grader.analysis``), used by the scoring's signals:

* ``retracted_sentences``: a sentence taken back by the next one: "It is T5. No, actually it is
  not." / "T5입니다. 아니, 사실 아니에요." The next sentence shares no content word with it and
  says nothing of its own: its content words are only discourse words (actually, really, true,
  right, the other way round, ...) and it holds a negation or a retraction word (wrong, the
  opposite, a mistake, ...).
* ``negates``: the part of the answer closest to a reference states the reference's own words
  (the question's words left out) with the opposite polarity: its shared content words are
  negated where the reference states them (or stated where the reference negates them), for at
  least as many words as agree.

The word lists are per language and compared by the analyser's comparison keys, so inflected
forms count ("wrong"/"wronged", "틀렸다"/"틀리다").
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from grader.analysis import Analysis, Token, analyze

Span = tuple[int, int]

# Words a retraction may consist of besides negators and function words (they make no claim).
_DISCOURSE = {
    "en": "actually really true truly correct right case sure sorry wait well so fact think "
    "mean say way round around quite exactly",
    "ko": "사실 실은 정말 진짜 맞다 그렇다 아 음 그 반대 거꾸로",
    "ja": "実は 実際 本当 そう いや あ 逆 正しい",
    "ru": "на самом деле правда верно так действительно точно конечно наоборот",
    "de": "eigentlich tatsächlich stimmen richtig wahr doch so wirklich umgekehrt genau",
    "es": "realidad verdad cierto correcto así realmente",
    "fr": "réalité vrai correct ainsi vraiment fait",
}
# Words that retract on their own, without a negation ("That is wrong.").
_RETRACTING = {
    "en": "wrong false incorrect opposite reverse reversed mistake mistaken kidding untrue",
    "ko": "틀리다 잘못 거짓 반대 거꾸로 아니다",
    "ja": "違う 間違い 誤り 嘘 逆",
    "ru": "неправильно неверно ошибка ложь наоборот неправда",
    "de": "falsch umgekehrt gegenteil fehler irrtum",
    "es": "falso incorrecto contrario revés error",
    "fr": "faux incorrect contraire inverse erreur",
}


@cache
def _keys(words: str, language: str) -> frozenset[str]:
    """The comparison keys of a word list, as the analyser of ``language`` gives them."""
    return frozenset(token.norm for token in analyze(words, language).tokens)


def _sentence_tokens(analysis: Analysis) -> list[list[Token]]:
    found: list[list[Token]] = [[] for _ in analysis.sentences]
    index = 0
    for token in analysis.tokens:
        while index < len(analysis.sentences) and token.start >= analysis.sentences[index][1]:
            index += 1
        if index < len(analysis.sentences) and token.start >= analysis.sentences[index][0]:
            found[index].append(token)
    return found


def retracted_sentences(analysis: Analysis) -> tuple[Span, ...]:
    """The spans of the sentences the following sentence takes back."""
    language = analysis.language
    if language not in _DISCOURSE or len(analysis.sentences) < 2:
        return ()
    discourse = _keys(_DISCOURSE[language], language)
    retracting = _keys(_RETRACTING[language], language)
    sentences = _sentence_tokens(analysis)
    taken_back = []
    for index in range(1, len(sentences)):
        earlier = {t.norm for t in sentences[index - 1] if t.content}
        tokens = sentences[index]
        content = {t.norm for t in tokens if t.content}
        if not earlier or not tokens or content & earlier:
            continue
        says_nothing = content <= discourse | retracting
        takes_back = any(t.negated for t in tokens) or bool(content & retracting)
        if says_nothing and takes_back:
            taken_back.append(analysis.sentences[index - 1])
    return tuple(taken_back)


def within(span: Span, spans: Sequence[Span]) -> bool:
    """Whether ``span`` lies inside one of ``spans``."""
    start, end = span
    return any(first <= start and end <= last for first, last in spans)


def polarity(
    analysis: Analysis,
    span: Span | None,
    reference: str,
    retracted: Sequence[Span] = (),
    ignore: frozenset[str] = frozenset(),
) -> tuple[int, int]:
    """(opposite, agreeing): how many of the answer's content words in ``span`` (None: all of
    them) that the reference also uses, ``ignore`` left out (the question's own words, which a
    negated clause's subject often is), have the reference's polarity reversed, and how many keep
    it. ``reference`` is analysed in the answer's language; a word in a retracted sentence
    counts as negated."""
    meant: dict[str, bool] = {}
    for token in analyze(reference, analysis.language).tokens:
        if token.content and token.norm not in ignore:
            meant[token.norm] = meant.get(token.norm, False) or token.negated
    start, end = span if span else (0, len(analysis.text))
    opposite = agree = 0
    for token in analysis.tokens:
        if not token.content or token.norm not in meant or token.start < start or token.end > end:
            continue
        negated = token.negated or within((token.start, token.end), retracted)
        if negated != meant[token.norm]:
            opposite += 1
        else:
            agree += 1
    return opposite, agree


def negates(
    analysis: Analysis,
    span: Span | None,
    reference: str,
    retracted: Sequence[Span] = (),
    ignore: frozenset[str] = frozenset(),
) -> bool:
    """Whether the answer's words in ``span`` state the reference's own words with the opposite
    polarity, for at least as many words as keep it (one at least); see ``polarity``."""
    opposite, agree = polarity(analysis, span, reference, retracted, ignore)
    return opposite > 0 and opposite >= agree
