"""Grade a class: gather each answer's signals, embed everything in one pass, score, aggregate."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from grader import gaming
from grader.errors import GraderError, Problem
from grader.model import Bank, Gradable, QuestionType
from grader.results import (
    AnswerResult,
    BankInfo,
    Flag,
    ProblemRecord,
    QuestionResult,
    Results,
    StudentResult,
    Summary,
)
from grader.scoring import (
    KeywordSignal,
    Match,
    Penalty,
    ScoringParams,
    Signals,
    keyword_signal_from,
    score_answer,
)
from grader.submissions import Submission

if TYPE_CHECKING:
    import numpy as np

    from grader.analysis import Analysis

ANSWERED = 0.2  # share of the model answer's own words that shows the question was answered
MAX_SENTENCES = 64  # sentences of one answer compared one by one
MAX_EMBED_CHARS = 4000  # the whole answer is embedded from its first characters
Progress = Callable[[int, int], None]
T = TypeVar("T")
# Keyword evidence by id: of the criteria, of the misconceptions.
_KeywordSignals = tuple[dict[str, KeywordSignal], dict[str, KeywordSignal]]


@dataclass(frozen=True)
class GradeOptions:
    model: str | None = None  # None: the bank's setting; "none": keywords only
    device: str = "auto"
    cache_dir: Path | None = None  # None: the default cache folder
    use_cache: bool = True
    calibration: Any = None  # grader.calibration.Calibration
    timestamp: bool = False
    progress: Progress | None = None
    # When a dict: grade() adds the seconds spent per stage ("analyse", "embed", "score") to it.
    timings: dict[str, float] | None = field(default=None, compare=False)
    # When a dict: the embedders by model name, used and filled in across calls (a server that
    # checks one answer at a time loads each model once).
    models: dict[str, Any] | None = field(default=None, compare=False)


@contextlib.contextmanager
def timed(timings: dict[str, float] | None, stage: str) -> Iterator[None]:
    """Add the seconds the block takes to ``timings[stage]`` (nothing when ``timings`` is None)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


@dataclass
class _Answer:
    """One submission on its way through the stages."""

    row: Submission
    gradable: Gradable
    language: str
    analysis: Analysis | None = None
    model: str | None = None
    units: list[tuple[str, tuple[int, int] | None]] = field(default_factory=list)
    notes: list[Flag] = field(default_factory=list)
    keywords: _KeywordSignals | None = None  # matched once, before scoring


# ---------------------------------------------------------------- stage 1: rows


def _route_rows(
    bank: Bank, rows: Iterable[Submission], source: str
) -> tuple[list[_Answer], list[Problem]]:
    gradables = bank.gradables()
    answers, problems = [], []
    for row in rows:
        gradable = gradables.get(row.question)
        if gradable is None:
            problems.append(_unknown_question(bank, row, source, list(gradables)))
            continue
        answers.append(_Answer(row, gradable, ""))
    return answers, problems


def _unknown_question(bank: Bank, row: Submission, source: str, known: list[str]) -> Problem:
    question = bank.question(row.question)
    if question is not None and question.type is QuestionType.CHALLENGE:
        steps = ", ".join(step.id for step in question.steps)
        return Problem(
            source, row.line, f"'{row.question}' is a challenge", f"address a step: {steps}"
        )
    close = difflib.get_close_matches(row.question, known, n=1)
    fix = f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(known)
    return Problem(source, row.line, f"unknown question '{row.question}'", fix)


# ---------------------------------------------------------------- stage 2: language and analysis


def _analyse(bank: Bank, answers: Sequence[_Answer]) -> None:
    from grader.analysis import analyze, detect_language

    for answer in answers:
        text = answer.row.answer
        if answer.gradable.closed is not None:
            answer.language = answer.row.language or ""
            continue
        if not _visible(text):
            answer.language = answer.row.language or ""
            continue
        language = answer.row.language or detect_language(text, bank.languages) or bank.languages[0]
        if language == "en" and not answer.row.language:
            language = gaming.guess_latin_language(text) or language
        answer.language = language
        answer.analysis = analyze(text, language)


def _visible(text: str) -> bool:
    """Whether the text shows anything: not only spaces, zero-width characters or a BOM."""
    import unicodedata

    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text)


# ---------------------------------------------------------------- stage 3: embeddings


@dataclass
class _Space:
    """Everything embedded with one model: the answers' pieces and the references they meet."""

    name: str
    embedder: Any
    texts: dict[str, int] = field(default_factory=dict)
    vectors: Any = None
    references: dict[tuple[str, ...], Any] = field(default_factory=dict)  # stacked, reused
    other_answers: Any = None  # _OtherAnswers, built on first use

    def add(self, text: str) -> None:
        if text not in self.texts:
            self.texts[text] = len(self.texts)

    def vector(self, text: str) -> np.ndarray:
        return self.vectors[self.texts[text]]

    def rows(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts`` stacked (a new array, equal to np.stack of each vector)."""
        return self.vectors[[self.texts[text] for text in texts]]

    def reference_rows(self, texts: tuple[str, ...]) -> np.ndarray:
        """Like ``rows``, kept: the same reference sets meet every answer to a question."""
        found = self.references.get(texts)
        if found is None:
            found = self.references[texts] = self.rows(texts)
        return found


def _model_for(answer: _Answer, requested: str) -> str | None:
    from grader.embedding import auto_model_for

    if requested == "none":
        return None
    if requested == "auto":
        return auto_model_for(answer.language or "en")
    return requested


def _answer_units(answer: _Answer) -> list[tuple[str, tuple[int, int] | None]]:
    text = answer.row.answer
    units: list[tuple[str, tuple[int, int] | None]] = [(text[:MAX_EMBED_CHARS].strip(), None)]
    sentences = list(answer.analysis.sentences) if answer.analysis else []
    if len(sentences) > 1:
        if len(sentences) > MAX_SENTENCES:
            answer.notes.append(
                Flag(
                    "long-answer",
                    f"only the first {MAX_SENTENCES} of {len(sentences)} sentences were compared",
                )
            )
        for start, end in sentences[:MAX_SENTENCES]:
            sentence = text[start:end].strip()
            if sentence:
                units.append((sentence[:MAX_EMBED_CHARS], (start, end)))
    return units


def _reference_sets(gradable: Gradable) -> Iterator[list[tuple[str, str]]]:
    """Each set of (language, text) a gradable's answers are matched with (_with_similarities):
    the model answers, each criterion's concept, each misconception's statement."""
    yield list(gradable.model_answers())
    if gradable.rubric:
        for criterion in gradable.rubric.criteria:
            yield list(criterion.concept.by_language.items())
        for misconception in gradable.rubric.misconceptions:
            yield list(misconception.statement.by_language.items())


def _embed(bank: Bank, answers: Sequence[_Answer], options: GradeOptions) -> dict[str, _Space]:
    from grader.embed_cache import default_cache_dir
    from grader.embedding import EmbeddingCache, embed_texts

    spaces = _spaces(bank, answers, options)
    cache = EmbeddingCache(options.cache_dir or default_cache_dir()) if options.use_cache else None
    for space in spaces.values():
        space.vectors = embed_texts(space.embedder, list(space.texts), cache)
    return spaces


def _spaces(bank: Bank, answers: Sequence[_Answer], options: GradeOptions) -> dict[str, _Space]:
    """The texts to embed per model, and the models (loaded only when they must encode)."""
    requested = options.model or bank.settings.model
    spaces: dict[str, _Space] = {}
    if requested == "none":
        return spaces
    from grader.embedding import load_embedder

    every_gradable = list(bank.gradables().values())
    # one instance of each model, even inside an ensemble (and across calls with options.models)
    loaded: dict[str, Any] = options.models if options.models is not None else {}
    answered: dict[str, set[str]] = {}  # per model, the gradables it has answers to
    for answer in answers:
        if answer.analysis is None:
            continue
        model = _model_for(answer, requested)
        if model is None:
            continue
        if model not in spaces:
            embedder = load_embedder(model, options.device, lazy=True, shared=loaded)
            spaces[model] = _Space(model, embedder)
            answered[model] = set()
        answered[model].add(answer.gradable.id)
        answer.model = model
        answer.units = _answer_units(answer)
        for text, _span in answer.units:
            spaces[model].add(text)
    for model, space in spaces.items():
        # Every question's model answers (an answer to another question is recognised by them);
        # concepts and misconceptions only of the questions answered (a self-check embeds one);
        # of each, the texts in the languages the model reads (_covered), as they are matched.
        languages = space.embedder.info.languages
        for gradable in every_gradable:
            sets = list(_reference_sets(gradable))
            for references in sets if gradable.id in answered[model] else sets[:1]:
                for _language, text in _covered(references, languages):
                    space.add(text)
    return spaces


def texts_to_embed(
    bank: Bank, rows: Sequence[Submission], options: GradeOptions = GradeOptions()
) -> dict[str, list[str]]:
    """The distinct texts ``grade`` embeds, per model: answers, their sentences, references.

    Nothing is encoded and no model is loaded (benchmarks compare grading with encoding these).
    """
    answers, _problems = _route_rows(bank, rows, "submissions")
    distinct = list(_distinct(answers).values())
    _analyse(bank, distinct)
    return {name: list(space.texts) for name, space in _spaces(bank, distinct, options).items()}


def _best_match(
    space: _Space,
    units: Sequence[tuple[str, tuple[int, int] | None]],
    references: Iterable[tuple[str, str]],
    unit_matrix: np.ndarray | None = None,
) -> Match | None:
    """The closest (unit, reference) pair; ``unit_matrix``: the units' rows, when already made."""
    import numpy as np

    references = [(language, text) for language, text in references if text.strip()]
    if not references or not units:
        return None
    if unit_matrix is None:
        unit_matrix = space.rows([text for text, _ in units])
    reference_matrix = space.reference_rows(tuple(text for _, text in references))
    cosines = unit_matrix @ reference_matrix.T
    unit_index, reference_index = np.unravel_index(int(np.argmax(cosines)), cosines.shape)
    language, text = references[int(reference_index)]
    return Match(
        float(cosines[unit_index, reference_index]), text, language, units[int(unit_index)][1]
    )


def _covered(
    references: Iterable[tuple[str, str]], languages: Sequence[str] | None
) -> list[tuple[str, str]]:
    """References a monolingual model can read; all of them for a multilingual one."""
    references = list(references)
    if languages is None:
        return references
    readable = [(language, text) for language, text in references if language in languages]
    return readable or references


# ---------------------------------------------------------------- stage 4: signals


def _signals(
    bank: Bank, answer: _Answer, spaces: Mapping[str, _Space], params: ScoringParams
) -> Signals:
    from grader.analysis import content_words

    gradable, analysis = answer.gradable, answer.analysis
    if analysis is None:
        return Signals(answer.language, answered=False)
    rubric = gradable.rubric
    keywords, misconception_keywords = _keyword_signals(answer, analysis)
    answer_words = content_words(analysis)
    overlap = (
        None if rubric and rubric.criteria else _overlap(answer_words, gradable, answer.language)
    )
    signals = Signals(
        answer.language,
        answered=True,
        keywords=keywords,
        misconception_keywords=misconception_keywords,
        overlap=overlap,
        notes=tuple(answer.notes),
    )
    space = spaces.get(answer.model or "")
    if space is not None:
        signals = _with_similarities(signals, bank, answer, space)
    penalties = _penalties(bank, answer, analysis, answer_words, signals, space, params)
    return replace(
        signals, penalties=penalties, notes=(*signals.notes, *_language_notes(answer, space))
    )


def _keyword_signals(answer: _Answer, analysis: Analysis) -> _KeywordSignals:
    """The rubric's keyword evidence for the answer, matched once (see _match_keywords)."""
    from grader.keywords import match_keywords

    if answer.keywords is None:
        rubric = answer.gradable.rubric
        answer.keywords = (
            {
                criterion.id: keyword_signal_from(match_keywords(criterion.keywords, analysis))
                for criterion in (rubric.criteria if rubric else ())
                if criterion.keywords
            },
            {
                item.id: keyword_signal_from(match_keywords(item.keywords, analysis))
                for item in (rubric.misconceptions if rubric else ())
                if item.keywords
            },
        )
    return answer.keywords


def _match_keywords(answers: Sequence[_Answer]) -> None:
    """Keyword evidence for every analysed answer (a stage of its own, for the timings)."""
    for answer in answers:
        if answer.analysis is not None and answer.gradable.closed is None:
            _keyword_signals(answer, answer.analysis)


_per_gradable_values: dict[tuple[int, str, str], tuple[Gradable, Any]] = {}
_PER_GRADABLE_LIMIT = 4096


def _per_gradable(gradable: Gradable, language: str, compute: Callable[[Gradable, str], T]) -> T:
    """``compute(gradable, language)``, computed once: the bank's texts meet every answer."""
    key = (id(gradable), language, compute.__name__)
    found = _per_gradable_values.get(key)
    if found is not None and found[0] is gradable:
        value: T = found[1]
        return value
    value = compute(gradable, language)
    if len(_per_gradable_values) >= _PER_GRADABLE_LIMIT:
        _per_gradable_values.clear()
    _per_gradable_values[key] = (gradable, value)
    return value


def _model_answer_words(gradable: Gradable, language: str) -> list[frozenset[str]]:
    """Content words of the model answers in ``language`` that the question itself does not
    already use (all of them where nothing would be left): words are compared within a language,
    and repeating the question's words is no evidence of knowing the answer."""
    from grader.analysis import analyze, content_words

    prompt = frozenset().union(*_per_gradable(gradable, language, _prompt_words))
    found = []
    for text_language, text in gradable.model_answers():
        if text_language == language:
            words = content_words(analyze(text, text_language))
            found.append(words - prompt or words)
    return found


def _prompt_words(gradable: Gradable, language: str) -> list[frozenset[str]]:
    """Content words of the prompt in ``language`` and in the languages that share its script
    (those in other scripts are skipped, and their analysers not loaded); of every language's
    prompt when none does."""
    from grader.analysis import analyze, content_words, is_latin_language

    def same_script(other: str) -> bool:
        return other == language or (is_latin_language(other) and is_latin_language(language))

    prompts = gradable.prompt.by_language
    texts = [(lang, text) for lang, text in prompts.items() if same_script(lang)]
    return [
        content_words(analyze(text, text_language))
        for text_language, text in texts or prompts.items()
    ]


def _longest_model_answer(gradable: Gradable, language: str) -> int:
    """The number of words of the longest model answer in ``language`` (of any, without one)."""
    from grader.analysis import analyze

    texts = [(lang, text) for lang, text in gradable.model_answers() if lang == language]
    return max(
        (len(analyze(text, lang).tokens) for lang, text in texts or gradable.model_answers()),
        default=0,
    )


def _overlap(answer_words: frozenset[str], gradable: Gradable, language: str) -> float | None:
    """Recall of the best same-language model answer's content words; None without one."""
    best = None
    for words in _per_gradable(gradable, language, _model_answer_words):
        if words:
            recall = len(answer_words & words) / len(words)
            best = recall if best is None else max(best, recall)
    return best


def _with_similarities(signals: Signals, bank: Bank, answer: _Answer, space: _Space) -> Signals:
    gradable, units = answer.gradable, answer.units
    languages = space.embedder.info.languages
    matrix = space.rows([text for text, _ in units]) if units else None
    answer_match = _best_match(space, units, _covered(gradable.model_answers(), languages), matrix)
    concept_matches = {}
    statement_matches = {}
    if gradable.rubric:
        for criterion in gradable.rubric.criteria:
            concepts = criterion.concept.by_language.items()
            match = _best_match(space, units, _covered(concepts, languages), matrix)
            if match:
                concept_matches[criterion.id] = match
        for misconception in gradable.rubric.misconceptions:
            statements = misconception.statement.by_language.items()
            match = _best_match(space, units, _covered(statements, languages), matrix)
            if match:
                statement_matches[misconception.id] = match
    return replace(
        signals,
        answer_match=answer_match,
        concept_matches=concept_matches,
        statement_matches=statement_matches,
    )


def _language_notes(answer: _Answer, space: _Space | None) -> tuple[Flag, ...]:
    if space is None:
        return ()
    languages = space.embedder.info.languages
    if languages is not None and answer.language not in languages:
        return (
            Flag(
                "language-not-covered",
                f"the model '{space.name}' was not made for '{answer.language}' answers",
            ),
        )
    return ()


def _penalties(
    bank: Bank,
    answer: _Answer,
    analysis: Analysis,
    answer_words: frozenset[str],
    signals: Signals,
    space: _Space | None,
    params: ScoringParams,
) -> tuple[Penalty, ...]:
    gradable = answer.gradable
    found: list[Penalty | None] = [gaming.foreign_language(answer.language, bank.languages)]
    words = [token for token in analysis.tokens if token.norm.strip()]
    function_words = sum(1 for token in words if not token.content)
    vocabulary = _per_gradable(gradable, analysis.language, _rubric_vocabulary)
    rubric_words = sum(1 for token in words if token.content and token.norm in vocabulary)
    found.append(gaming.keyword_salad(len(words), function_words, rubric_words))
    found.append(gaming.takes_it_back(_sentence_words(analysis)))
    longest = _per_gradable(gradable, analysis.language, _longest_model_answer)
    found.append(gaming.padded(len(words), longest))
    # An answer that says what only this question's model answer says has answered it: neither a
    # copy of the question nor another question's answer.
    if (signals.overlap or _overlap(answer_words, gradable, answer.language) or 0.0) < ANSWERED:
        prompt_words = _per_gradable(gradable, answer.language, _prompt_words)
        found.append(gaming.copied_question(answer_words, prompt_words))
        if space is not None and signals.answer_match is not None:
            found.append(_other_question(bank, answer, space, signals.answer_match.cosine, params))
    return tuple(penalty for penalty in found if penalty is not None)


def _rubric_vocabulary(gradable: Gradable, language: str) -> frozenset[str]:
    """The comparison keys of the content words of every (non-regex) term of the rubric."""
    from grader.analysis import analyze, content_words
    from grader.keywords import written_for

    if gradable.rubric is None:
        return frozenset()
    return frozenset(
        word
        for criterion in gradable.rubric.criteria
        for groups in criterion.keywords.by_language.values()
        for group in groups
        for term in group.terms
        if not term.is_regex and written_for(term.text, language)
        for word in content_words(analyze(term.text, language))
    )


def _sentence_words(analysis: Analysis) -> list[tuple[frozenset[str], frozenset[str]]]:
    """Per sentence: its content words, and those of them in a negated clause (one pass)."""
    import bisect

    starts = [start for start, _ in analysis.sentences]
    words: list[set[str]] = [set() for _ in starts]
    negated: list[set[str]] = [set() for _ in starts]
    for token in analysis.tokens:
        index = bisect.bisect_right(starts, token.start) - 1
        if token.content and index >= 0 and token.end <= analysis.sentences[index][1]:
            words[index].add(token.norm)
            if token.negated:
                negated[index].add(token.norm)
    return [(frozenset(w), frozenset(n)) for w, n in zip(words, negated, strict=True)]


def _other_question(
    bank: Bank, answer: _Answer, space: _Space, own_best: float, params: ScoringParams
) -> Penalty | None:
    best: tuple[float, str] = (-1.0, "")
    table = _other_answers(bank, space)
    if table.ids and answer.units:
        import numpy as np

        whole = space.rows([answer.units[0][0]])  # the whole answer, as in its own match
        cosines = np.maximum.reduceat((whole @ table.matrix.T)[0], table.starts)
        for other_id, cosine in zip(table.ids, cosines, strict=True):
            if other_id != answer.gradable.id and cosine > best[0]:
                best = (float(cosine), other_id)
    return gaming.other_question_answer(own_best, best[0], best[1], params.ceiling)


@dataclass(frozen=True)
class _OtherAnswers:
    """The model answers of every question that the space's model reads, stacked once."""

    ids: tuple[str, ...]  # the gradable of each block of rows, in bank order
    starts: Any  # np.ndarray: the first row of each block
    matrix: Any  # np.ndarray: one row per model answer


def _other_answers(bank: Bank, space: _Space) -> _OtherAnswers:
    if space.other_answers is None:
        import numpy as np

        languages = space.embedder.info.languages
        ids: list[str] = []
        starts: list[int] = []
        texts: list[str] = []
        for other in bank.gradables().values():
            readable = [t for _, t in _covered(other.model_answers(), languages) if t.strip()]
            if readable:
                ids.append(other.id)
                starts.append(len(texts))
                texts.extend(readable)
        matrix = space.rows(texts) if texts else None
        space.other_answers = _OtherAnswers(tuple(ids), np.asarray(starts, dtype=np.intp), matrix)
    table: _OtherAnswers = space.other_answers
    return table


# ---------------------------------------------------------------- stage 5: score and aggregate


def _params_for(
    answer: _Answer, spaces: Mapping[str, _Space], bank: Bank, options: GradeOptions
) -> ScoringParams:
    params = ScoringParams(review_margin=bank.settings.review_margin)
    if bank.settings.rubric_weight is not None:
        params = replace(params, rubric_weight=bank.settings.rubric_weight)
    space = spaces.get(answer.model or "")
    if space is not None:
        info = space.embedder.info
        params = replace(
            params,
            floor=bank.settings.similarity_floor
            if bank.settings.similarity_floor is not None
            else info.similarity_floor,
            ceiling=bank.settings.similarity_ceiling
            if bank.settings.similarity_ceiling is not None
            else info.similarity_ceiling,
        )
    if options.calibration is not None:
        params = options.calibration.params_for(answer.gradable.id, answer.model, params)
    return params


def _closed_result(answer: _Answer, bank: Bank) -> AnswerResult:
    from grader.closed import score_closed

    languages = (answer.language, *bank.languages) if answer.language else bank.languages
    answered = bool(answer.row.answer.strip())
    score, criteria = score_closed(answer.gradable, answer.row.answer, languages)
    return AnswerResult(
        id=answer.gradable.id,
        points=answer.gradable.points,
        score=score,
        auto_score=score,
        answer=answer.row.answer,
        language=answer.language,
        answered=answered,
        criteria=criteria,
        feedback=answer.gradable.feedback.get(answer.language, bank.languages),
        human_score=answer.row.score,
        line=answer.row.line,
    )


def _answer_result(
    answer: _Answer, bank: Bank, spaces: Mapping[str, _Space], options: GradeOptions
) -> AnswerResult:
    if answer.gradable.closed is not None:
        return _closed_result(answer, bank)
    params = _params_for(answer, spaces, bank, options)
    signals = _signals(bank, answer, spaces, params)
    languages = (answer.language, *bank.languages) if answer.language else bank.languages
    scored = score_answer(answer.gradable, signals, params, languages)
    score = scored.score
    if options.calibration is not None and signals.answered:
        score = options.calibration.adjust_score(
            answer.gradable.id, answer.model, score, answer.gradable.points
        )
    return AnswerResult(
        id=answer.gradable.id,
        points=answer.gradable.points,
        score=score,
        auto_score=score,
        answer=answer.row.answer,
        language=answer.language,
        answered=signals.answered,
        model=answer.model,
        criteria=scored.criteria,
        misconceptions=scored.misconceptions,
        similarity=signals.answer_match.evidence(params) if signals.answer_match else None,
        overlap=None if signals.overlap is None else round(signals.overlap, 4),
        flags=scored.flags,
        feedback=answer.gradable.feedback.get(answer.language, bank.languages),
        human_score=answer.row.score,
        line=answer.row.line,
    )


def _missing(gradable: Gradable) -> AnswerResult:
    return AnswerResult(
        id=gradable.id,
        points=gradable.points,
        score=0.0,
        auto_score=0.0,
        answer="",
        language="",
        answered=False,
    )


def _student(
    bank: Bank, student: str, file_name: str, answers: Mapping[str, AnswerResult]
) -> StudentResult:
    questions = []
    for question in bank.questions:
        parts = tuple(answers.get(g.id) or _missing(g) for g in question.gradables)
        score = round(sum(part.score for part in parts), 4)
        questions.append(
            QuestionResult(question.id, question.type.value, question.points, score, parts)
        )
    total = round(sum(q.score for q in questions), 4)
    return StudentResult(student, file_name, total, bank.points, tuple(questions))


def bank_info(bank: Bank) -> BankInfo:
    path = bank.source
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else ""
    return BankInfo(
        bank.id,
        bank.title.get(None, bank.languages),
        str(path or ""),
        digest,
        bank.languages,
        bank.points,
    )


def grade(
    bank: Bank,
    rows: Sequence[Submission],
    options: GradeOptions = GradeOptions(),
    problems: Sequence[Problem] = (),
    source: str = "submissions",
) -> Results:
    """Grade every submission against the bank. Bad rows become problems; the rest are graded."""
    from grader.analysis_store import analysis_store

    with analysis_store(_cache_folder(options)):
        return _grade(bank, rows, options, problems, source)


def _cache_folder(options: GradeOptions) -> Path | None:
    from grader.embed_cache import default_cache_dir

    return (options.cache_dir or default_cache_dir()) if options.use_cache else None


def _grade(
    bank: Bank,
    rows: Sequence[Submission],
    options: GradeOptions,
    problems: Sequence[Problem],
    source: str,
) -> Results:
    from grader.fsutil import safe_file_names

    with timed(options.timings, "analyse"):
        answers, routing_problems = _route_rows(bank, rows, source)
        distinct = _distinct(answers)
        _analyse(bank, list(distinct.values()))
        _match_keywords(list(distinct.values()))
    with timed(options.timings, "embed"):
        spaces = _embed(bank, list(distinct.values()), options)
    with timed(options.timings, "score"):
        scored: dict[tuple[str, str, str | None], AnswerResult] = {}
        by_student: dict[str, dict[str, AnswerResult]] = defaultdict(dict)
        for index, answer in enumerate(answers, start=1):
            by_student[answer.row.student][answer.gradable.id] = _scored_once(
                answer, distinct, scored, bank, spaces, options
            )
            if options.progress:
                options.progress(index, len(answers))
        student_ids = sorted(by_student)
        file_names = safe_file_names(student_ids)
        students = tuple(
            _student(bank, student, file_names[student], by_student[student])
            for student in student_ids
        )
        return _results(bank, students, [*problems, *routing_problems], spaces, options)


def _same_answer_key(answer: _Answer) -> tuple[str, str, str | None]:
    """Answers with the same key get the same result (but for their own line and human score)."""
    return answer.gradable.id, answer.row.answer, answer.row.language


def _distinct(answers: Sequence[_Answer]) -> dict[tuple[str, str, str | None], _Answer]:
    """The first answer of each key: only these are analysed, embedded and scored."""
    distinct: dict[tuple[str, str, str | None], _Answer] = {}
    for answer in answers:
        distinct.setdefault(_same_answer_key(answer), answer)
    return distinct


def _scored_once(
    answer: _Answer,
    distinct: Mapping[tuple[str, str, str | None], _Answer],
    scored: dict[tuple[str, str, str | None], AnswerResult],
    bank: Bank,
    spaces: Mapping[str, _Space],
    options: GradeOptions,
) -> AnswerResult:
    key = _same_answer_key(answer)
    if key not in scored:
        scored[key] = _answer_result(distinct[key], bank, spaces, options)
    result = scored[key]
    if distinct[key] is answer:
        return result
    return replace(result, human_score=answer.row.score, line=answer.row.line)


def _results(
    bank: Bank,
    students: tuple[StudentResult, ...],
    problems: Sequence[Problem],
    spaces: Mapping[str, _Space],
    options: GradeOptions,
) -> Results:
    answers = [a for s in students for q in s.questions for a in q.answers if a.answered]
    flagged = sum(1 for a in answers if a.flags)
    mean = sum(s.total for s in students) / len(students) if students else 0.0
    models = {
        name: {
            "backend": space.embedder.info.backend,
            "dimension": space.embedder.info.dimension,
            "languages": list(space.embedder.info.languages)
            if space.embedder.info.languages
            else None,
            "similarity_floor": space.embedder.info.similarity_floor,
            "similarity_ceiling": space.embedder.info.similarity_ceiling,
        }
        for name, space in sorted(spaces.items())
    }
    settings = {
        "model": options.model or bank.settings.model,
        "rubric_weight": bank.settings.rubric_weight or ScoringParams().rubric_weight,
        "review_margin": bank.settings.review_margin,
        "similarity_floor": bank.settings.similarity_floor,
        "similarity_ceiling": bank.settings.similarity_ceiling,
        "calibration": getattr(options.calibration, "source", None),
        "display_decimals": bank.settings.display_decimals,  # scores shown to students
        "display_step": bank.settings.display_step,
    }
    created = datetime.now(UTC).isoformat(timespec="seconds") if options.timestamp else None
    return Results(
        bank=bank_info(bank),
        settings=settings,
        models=models,
        students=students,
        problems=tuple(ProblemRecord(p.file, p.line, p.message, p.fix) for p in problems),
        summary=Summary(len(students), len(answers), flagged, len(problems), round(mean, 4)),
        created=created,
    )


def check_answer(
    bank: Bank, question_id: str, answer: str, language: str | None, options: GradeOptions
) -> AnswerResult:
    """Grade one answer (a learner's self-check)."""
    gradables = bank.gradables()
    if question_id not in gradables:
        problem = _unknown_question(
            bank, Submission("you", question_id, answer), "the bank", list(gradables)
        )
        raise GraderError(f"{problem.message} ({problem.fix})")
    results = grade(bank, [Submission("you", question_id, answer, language, None, 0)], options)
    question = results.students[0].questions
    return next(a for q in question for a in q.answers if a.id == question_id)
