"""Whether an answer says the opposite of a reference text, or takes a sentence back.

Two checks on analysed texts (``grader.analysis``), used by the scoring's signals:

* ``retracted_sentences``: a sentence taken back by the next one: "It is T5. No, actually it is
  not." / "T5입니다. 아니, 사실 아니에요." / "That is wrong." The next sentence holds its
  language's retraction phrase, or says nothing of its own (only discourse words: actually,
  really, true, the other way round, ...) and holds a negation.
* ``negates``: the part of the answer closest to a reference negates the reference's own words
  (the question's words left out): of the words the reference states, the answer states more
  of them negated than plainly (one at least).

The word lists are per language and compared by the analyser's comparison keys, so inflected
forms count ("wrong"/"wronged", "틀렸다"/"틀리다").
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from grader.analysis import Analysis, Token, analyze

Span = tuple[int, int]

# Words a short retraction may consist of besides negators and function words: they make no
# claim ("No, actually it is not."). Retraction phrases ("that is wrong", "das stimmt nicht") are
# each language profile's (grader.languages, ``retractions``).
_DISCOURSE = {
    "en": "actually really true truly correct right case sure sorry wait well so fact think "
    "mean say way round around quite exactly",
    "ko": "사실 실은 정말 진짜 맞다 그렇다 아 음 그 반대 거꾸로 틀리다 아니다",
    "ja": "実は 実際 本当 そう いや あ 逆 正しい 違う 間違い",
    "ru": "на самом деле правда верно так действительно точно конечно наоборот неправда",
    "de": "eigentlich tatsächlich stimmen richtig wahr doch so wirklich umgekehrt genau falsch",
    "es": "realidad verdad cierto correcto así realmente falso",
    "fr": "réalité vrai correct ainsi vraiment fait faux",
}
# Of those, the ones that announce taking something back ("Actually, ...", "That is not true").
_CUES = {
    "en": "actually true truly correct",
    "ko": "사실 실은",
    "ja": "実は 実際 本当",
    "ru": "на самом деле правда верно",
    "de": "eigentlich tatsächlich stimmen richtig wahr",
    "es": "realidad verdad cierto correcto",
    "fr": "réalité vrai correct",
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


def retracting_sentences(analysis: Analysis) -> frozenset[int]:
    """The indexes of the sentences that take back what came before them: one with its
    language's retraction phrase ("that is wrong"; grader.analysis.retractions), or one that says
    nothing of its own (only discourse words: "No, actually it is not.") and holds a negation."""
    from grader.analysis import retractions

    found = set(retractions(analysis))
    language = analysis.language
    if language in _DISCOURSE and len(analysis.sentences) > 1:
        discourse = _keys(_DISCOURSE[language], language)
        sentences = _sentence_tokens(analysis)
        for index in range(1, len(sentences)):
            earlier = {t.norm for t in sentences[index - 1] if t.content}
            tokens = sentences[index]
            content = {t.norm for t in tokens if t.content}
            if earlier and tokens and content <= discourse and any(t.negated for t in tokens):
                found.add(index)
    return frozenset(found)


def retracted_sentences(analysis: Analysis) -> tuple[Span, ...]:
    """The spans of the sentences that the sentence after them takes back."""
    return tuple(analysis.sentences[index - 1] for index in sorted(retracting_sentences(analysis)))


def cue_words(language: str) -> frozenset[str]:
    """The comparison keys of the words announcing that something is taken back ("actually",
    "not true", ...) in ``language``; empty for a language without a list."""
    return _keys(_CUES[language], language) if language in _CUES else frozenset()


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
    """(opposite, agreeing): of the words the reference states (its content words outside a
    negated clause, ``ignore`` left out: the question's own words, which a negated clause's
    subject often is), how many the answer's content words in ``span`` (None: all of them) state
    negated, and how many plainly. ``reference`` is analysed in the answer's language; a word in
    a retracted sentence counts as negated. (The reference's negated words are not compared: "X,
    while BERT cannot generate" says nothing against an answer that describes BERT.)"""
    stated = {
        token.norm
        for token in analyze(reference, analysis.language).tokens
        if token.content and not token.negated and token.norm not in ignore
    }
    start, end = span if span else (0, len(analysis.text))
    opposite = agree = 0
    for token in analysis.tokens:
        if not token.content or token.norm not in stated or token.start < start or token.end > end:
            continue
        if token.negated or within((token.start, token.end), retracted):
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
