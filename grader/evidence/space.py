"""Everything embedded with one model in a grading run, and the closest-pair search over it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.evidence.match import Match

if TYPE_CHECKING:
    import numpy as np

    from grader.bank import Bank
    from grader.evidence.models import Embedder

Unit = tuple[str, tuple[int, int] | None]  # a piece of an answer: its text and its span (None: all)


@dataclass
class Space:
    """The answers' pieces and the references they meet, embedded with one model."""

    name: str
    embedder: Embedder
    texts: dict[str, int] = field(default_factory=dict)
    vectors: np.ndarray | None = None  # one row per text, in the order of ``texts``
    references: dict[tuple[str, ...], np.ndarray] = field(default_factory=dict)  # stacked, reused
    other_answers: dict[str, OtherAnswers] = field(default_factory=dict)  # per answer language

    def add(self, text: str) -> None:
        if text not in self.texts:
            self.texts[text] = len(self.texts)

    def embedded(self) -> np.ndarray:
        """The vectors (the space must have been embedded)."""
        assert self.vectors is not None, f"the {self.name} space is not embedded yet"
        return self.vectors

    def vector(self, text: str) -> np.ndarray:
        return self.embedded()[self.texts[text]]

    def rows(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts`` stacked (a new array, equal to np.stack of each vector)."""
        return self.embedded()[[self.texts[text] for text in texts]]

    def reference_rows(self, texts: tuple[str, ...]) -> np.ndarray:
        """Like ``rows``, kept: the same reference sets meet every answer to a question."""
        found = self.references.get(texts)
        if found is None:
            found = self.references[texts] = self.rows(texts)
        return found

    @property
    def languages(self) -> tuple[str, ...] | None:
        return self.embedder.info.languages


def covered(
    references: Iterable[tuple[str, str]], languages: Sequence[str] | None
) -> list[tuple[str, str]]:
    """References a monolingual model can read; all of them for a multilingual one."""
    references = list(references)
    if languages is None:
        return references
    readable = [(language, text) for language, text in references if language in languages]
    return readable or references


def same_language(first: str, second: str) -> bool:
    """Whether two language codes name the same language (``zh-TW`` and ``zh`` do)."""

    def primary(code: str) -> str:
        return code.strip().lower().replace("_", "-").split("-", 1)[0]

    return primary(first) == primary(second)


def best_match(
    space: Space,
    units: Sequence[Unit],
    references: Iterable[tuple[str, str]],
    language: str,
    unit_matrix: np.ndarray | None = None,
) -> Match | None:
    """The closest (unit, reference) pair, preferring references in the answer's ``language``
    (a cosine across languages runs lower, so the two are not compared on one scale: another
    language's reference is used only where the answer's language has none)."""
    import numpy as np

    readable = [(lang, text) for lang, text in references if text.strip()]
    same = [(lang, text) for lang, text in readable if same_language(lang, language)]
    chosen = same or readable
    if not chosen or not units:
        return None
    if unit_matrix is None:
        unit_matrix = space.rows([text for text, _ in units])
    reference_matrix = space.reference_rows(tuple(text for _, text in chosen))
    cosines = unit_matrix @ reference_matrix.T
    unit_index, reference_index = np.unravel_index(int(np.argmax(cosines)), cosines.shape)
    reference_language, text = chosen[int(reference_index)]
    return Match(
        float(cosines[unit_index, reference_index]),
        text,
        reference_language,
        units[int(unit_index)][1],
        cross=not same,
    )


def unit_cosine(
    space: Space, unit: str, references: Iterable[tuple[str, str]]
) -> tuple[float, tuple[str, str] | None]:
    """The best cosine of one unit with ``references``, and that reference ((-1, None): none)."""
    import numpy as np

    chosen = [(lang, text) for lang, text in references if text.strip()]
    if not chosen:
        return -1.0, None
    cosines = space.reference_rows(tuple(text for _, text in chosen)) @ space.vector(unit)
    index = int(np.argmax(cosines))
    return float(cosines[index]), chosen[index]


@dataclass(frozen=True)
class OtherAnswers:
    """The model answers of every question that the space's model reads, stacked once."""

    ids: tuple[str, ...]  # the gradable of each block of rows, in bank order
    starts: np.ndarray  # the first row of each block
    matrix: np.ndarray | None  # one row per model answer; None: no question has one


def other_answers(bank: Bank, space: Space, language: str) -> OtherAnswers:
    """Every question's model answers the model reads, for answers in ``language``: those in
    that language where a question has some (as ``best_match`` compares), else all of them."""
    found = space.other_answers.get(language)
    if found is None:
        import numpy as np

        ids: list[str] = []
        starts: list[int] = []
        texts: list[str] = []
        for other in bank.gradables().values():
            readable = [
                (lang, text)
                for lang, text in covered(other.model_answers(), space.languages)
                if text.strip()
            ]
            same = [text for lang, text in readable if same_language(lang, language)]
            chosen = same or [text for _, text in readable]
            if chosen:
                ids.append(other.id)
                starts.append(len(texts))
                texts.extend(chosen)
        matrix = space.rows(texts) if texts else None
        found = OtherAnswers(tuple(ids), np.asarray(starts, dtype=np.intp), matrix)
        space.other_answers[language] = found
    return found
