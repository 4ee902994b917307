"""Words of the bank's own texts (model answers, prompts, concepts, wrong answers), computed once
per grading run and kept in a ``ReferenceWords``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from grader.bank import Gradable
from grader.evidence.term_index import written_for
from grader.text.analysis import analyze, content_words
from grader.text.scripts import is_latin_language

if TYPE_CHECKING:
    pass


T = TypeVar("T")


@dataclass
class ReferenceWords:
    """Per (gradable, language): words of the bank's texts, computed once per grading run."""

    values: dict[tuple[int, str, str], tuple[Gradable, Any]] = field(default_factory=dict)

    def get(self, gradable: Gradable, language: str, compute: Callable[[Gradable, str], T]) -> T:
        key = (id(gradable), language, compute.__name__)
        found = self.values.get(key)
        if found is not None and found[0] is gradable:
            value: T = found[1]
            return value
        value = compute(gradable, language)
        self.values[key] = (gradable, value)
        return value


def criterion_words(gradable: Gradable, language: str) -> dict[str, frozenset[str]]:
    """Per criterion: the comparison keys of the content words of its keyword terms that could
    be written in ``language``."""

    found: dict[str, frozenset[str]] = {}
    for criterion in gradable.rubric.criteria if gradable.rubric else ():
        terms = [
            term.text
            for groups in criterion.keywords.by_language.values()
            for group in groups
            for term in group.terms
            if not term.is_regex and written_for(term.text, language)
        ]
        found[criterion.id] = frozenset().union(
            *(content_words(analyze(text, language)) for text in terms)
        )
    return found


def wrong_references(gradable: Gradable) -> list[tuple[str, str]]:
    """(language, text) of what the question counts as wrong: its wrong answers and its
    misconception statements."""
    found = [(language, item.text) for language, item in gradable.known_wrong()]
    if gradable.rubric:
        for misconception in gradable.rubric.misconceptions:
            found.extend(misconception.statement.by_language.items())
    return found


# ---------------------------------------------------------------- words of the bank's texts


def _model_answer_words(gradable: Gradable, language: str) -> list[frozenset[str]]:
    """Content words of the model answers in ``language`` that the question itself does not
    already use (all of them where nothing would be left): words are compared within a language,
    and repeating the question's words is no evidence of knowing the answer."""

    prompt = frozenset().union(*prompt_words_of(gradable, language))
    found = []
    for text_language, text in gradable.model_answers():
        if text_language == language:
            words = content_words(analyze(text, text_language))
            found.append(words - prompt or words)
    return found


def prompt_words_of(gradable: Gradable, language: str) -> list[frozenset[str]]:
    """Content words of the prompt in ``language`` and in the languages that share its script
    (those in other scripts are skipped, and their analysers not loaded); of every language's
    prompt when none does."""

    def same_script(other: str) -> bool:
        return other == language or (is_latin_language(other) and is_latin_language(language))

    prompts = gradable.prompt.by_language
    texts = [(lang, text) for lang, text in prompts.items() if same_script(lang)]
    return [
        content_words(analyze(text, text_language))
        for text_language, text in texts or prompts.items()
    ]


def longest_model_answer(gradable: Gradable, language: str) -> int:
    """The number of words of the longest model answer in ``language`` (of any, without one)."""

    texts = [(lang, text) for lang, text in gradable.model_answers() if lang == language]
    return max(
        (len(analyze(text, lang).tokens) for lang, text in texts or gradable.model_answers()),
        default=0,
    )


def question_terms(gradable: Gradable, language: str) -> frozenset[str]:
    """The comparison keys of the content words of the question's own texts in ``language``
    (prompt, model answers, concepts) and of every (non-regex) keyword term of its rubric that
    could be written in it: the words a list of the question's terms is made of."""

    texts = [gradable.prompt.by_language.get(language, "")]
    texts.extend(text for lang, text in gradable.model_answers() if lang == language)
    rubric = gradable.rubric
    if rubric is not None:
        texts.extend(c.concept.by_language.get(language, "") for c in rubric.criteria)
        texts.extend(
            term.text
            for criterion in rubric.criteria
            for groups in criterion.keywords.by_language.values()
            for group in groups
            for term in group.terms
            if not term.is_regex and written_for(term.text, language)
        )
    return frozenset().union(*(content_words(analyze(text, language)) for text in texts if text))


def model_answer_overlap(
    answer_words: frozenset[str], gradable: Gradable, language: str, words: ReferenceWords
) -> float | None:
    """Recall of the best same-language model answer's content words; None without one."""
    best = None
    for reference in words.get(gradable, language, _model_answer_words):
        if reference:
            recall = len(answer_words & reference) / len(reference)
            best = recall if best is None else max(best, recall)
    return best


def reference_sets(gradable: Gradable) -> Iterator[list[tuple[str, str]]]:
    """Each set of (language, text) a gradable's answers are matched with: the model answers,
    each criterion's concept, each misconception's statement, the wrong answers."""
    yield list(gradable.model_answers())
    if gradable.rubric:
        for criterion in gradable.rubric.criteria:
            yield list(criterion.concept.by_language.items())
        for misconception in gradable.rubric.misconceptions:
            yield list(misconception.statement.by_language.items())
    wrong = [(language, item.text) for language, item in gradable.known_wrong()]
    if wrong:
        yield wrong
