"""Whether an answer says the opposite of a reference text, or takes a sentence back.

Two checks on analysed texts (``grader.text.analysis``), used by the scoring's signals:

* ``retracting_sentences``: a sentence taken back by the next one: "It is T5. No, actually it is
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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from grader.text.analysis import Analysis, Token, analyze, retractions
from grader.text.languages import profile

Span = tuple[int, int]

# Words a short retraction may consist of besides negators and function words: they make no
# claim ("No, actually it is not."). Retraction phrases ("that is wrong", "das stimmt nicht") are
# each language profile's (grader.text.languages, ``retractions``).
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
    language's retraction phrase ("that is wrong"; grader.text.analysis.retractions), or one that
    says nothing of its own (only discourse words: "No, actually it is not.") and holds a
    negation."""
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


def cue_words(language: str) -> frozenset[str]:
    """The comparison keys of the words announcing that something is taken back ("actually",
    "not true", ...) in ``language``; empty for a language without a list."""
    return _keys(_CUES[language], language) if language in _CUES else frozenset()


def within(span: Span, spans: Sequence[Span]) -> bool:
    """Whether ``span`` lies inside one of ``spans``."""
    start, end = span
    return any(first <= start and end <= last for first, last in spans)


@dataclass(frozen=True)
class Reading:
    """How an answer's words stand, worked out once per answer: per token whether a sentence
    denies it, the sentences taken back by the next, and the counterfactual sentences."""

    analysis: Analysis
    denied: tuple[bool, ...]  # per token of analysis.tokens
    retracting: frozenset[int]  # the sentences that take back the one before them
    unclear: tuple[Span, ...]

    @property
    def retracted(self) -> tuple[Span, ...]:
        """The spans of the sentences taken back."""
        sentences = self.analysis.sentences
        return tuple(sentences[index - 1] for index in sorted(self.retracting))

    def words(self, span: Span | None) -> Iterator[tuple[Token, bool]]:
        """The content words in ``span`` (None: all) outside unclear sentences, each with
        whether it is denied (negated, or in a retracted sentence)."""
        start, end = span if span else (0, len(self.analysis.text))
        for token, denied in zip(self.analysis.tokens, self.denied, strict=True):
            if not token.content or token.start < start or token.end > end:
                continue
            place = (token.start, token.end)
            if within(place, self.unclear):
                continue
            yield token, denied or within(place, self.retracted)


def read(analysis: Analysis) -> Reading:
    return Reading(
        analysis,
        tuple(_denied(analysis)),
        retracting_sentences(analysis),
        _counterfactual_sentences(analysis),
    )


def polarity(
    reading: Reading, span: Span | None, reference: str, ignore: frozenset[str] = frozenset()
) -> tuple[int, int]:
    """(opposite, agreeing): of the words the reference states (its content words outside a
    negated clause, ``ignore`` left out: the question's own words, which a negated clause's
    subject often is), how many the answer's content words in ``span`` (None: all of them) state
    denied, and how many plainly. ``reference`` is analysed in the answer's language. (The
    reference's negated words are not compared: "X, while BERT cannot generate" says nothing
    against an answer that describes BERT.)"""
    stated = {
        token.norm
        for token in analyze(reference, reading.analysis.language).tokens
        if token.content and not token.negated and token.norm not in ignore
    }
    opposite = agree = 0
    for token, denied in reading.words(span):
        if token.norm in stated:
            opposite += denied
            agree += not denied
    return opposite, agree


def consistency(
    reading: Reading, span: Span | None, reference: str, ignore: frozenset[str] = frozenset()
) -> tuple[int, int]:
    """(same, different): of the content words the answer (in ``span``) shares with the
    reference, ``ignore`` left out, how many have the same polarity in both (negated in both,
    or plain in both) and how many not: "Terminal 1 is not connected to the positive terminal"
    is consistent with "Terminal 1 and the positive terminal are not connected"."""
    meant: dict[str, bool] = {}
    for token in analyze(reference, reading.analysis.language).tokens:
        if token.content and token.norm not in ignore:
            meant[token.norm] = meant.get(token.norm, False) or token.negated
    same = different = 0
    for token, denied in reading.words(span):
        if token.norm in meant:
            same += denied == meant[token.norm]
            different += denied != meant[token.norm]
    return same, different


# Languages whose negator comes before what it negates ("does not converge", "не сходится"):
# there the subject before the negator, which the analyser's clause scope also marks, is not
# what a sentence denies. (German "platzt nicht", Korean "커지지 않는다" put it after.)
_NEGATOR_FIRST = frozenset({"en", "ru", "uk", "es", "pt", "it", "fr", "pl"})


def _denied(analysis: Analysis) -> list[bool]:
    """Per token: whether a sentence denies it (negated, and, where the negator comes first,
    after a negator of its sentence)."""
    if analysis.language not in _NEGATOR_FIRST:
        return [token.negated for token in analysis.tokens]

    found = profile(analysis.language)
    negation = found.negation if found else None
    words = (negation.clause | negation.forward) if negation else frozenset()
    suffixes = negation.suffixes if negation else ()
    import bisect

    starts = [first for first, _ in analysis.sentences]
    denied = []
    sentence = -1
    seen = False
    for token in analysis.tokens:
        index = bisect.bisect_right(starts, token.start) - 1
        if index != sentence:
            sentence, seen = index, False
        surface = token.surface.lower()
        if token.norm in words or surface in words or surface.endswith(suffixes or ("\0",)):
            seen = True
            denied.append(False)
            continue
        denied.append(token.negated and seen)
    return denied


def _counterfactual_sentences(analysis: Analysis) -> tuple[Span, ...]:
    """Sentences with a "without" and a clause negation: "Without it the model would see the
    token, which would not match generation" (a counterfactual, whose polarity a word-level
    reading gets backwards): they count neither way."""
    found = profile(analysis.language)
    if found is None:
        return ()
    conditional = found.negation.forward - _NOT_CONDITIONAL
    clause = found.negation.clause
    if not conditional or not clause:
        return ()
    unclear = []
    for sentence, tokens in zip(analysis.sentences, _sentence_tokens(analysis), strict=True):
        norms = {token.norm for token in tokens}
        surfaces = {token.surface.lower() for token in tokens}
        if (norms | surfaces) & conditional and (norms | surfaces) & clause:
            unclear.append(sentence)
    return tuple(unclear)


_NOT_CONDITIONAL = frozenset({"no"})  # a forward negator that is not "without"
