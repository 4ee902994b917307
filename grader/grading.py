"""Grade a class: gather each answer's signals, embed everything in one pass, score, aggregate."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.bank import Bank, Gradable, QuestionType
from grader.errors import GraderError, Problem
from grader.evidence.space import Space, covered
from grader.load.submissions import Submission
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
from grader.scoring.defaults import defaults
from grader.scoring.rule import ScoringParams, Signals, score_answer
from grader.scoring.signals import (
    AnswerView,
    KeywordSignals,
    ReferenceWords,
    gather,
    keyword_signals,
    reference_sets,
)

if TYPE_CHECKING:
    from grader.scoring.calibration import Calibration
    from grader.scoring.defaults import Defaults
    from grader.text.analysis import Analysis

MAX_SENTENCES = 64  # sentences of one answer compared one by one
MAX_EMBED_CHARS = 4000  # the whole answer is embedded from its first characters
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class GradeOptions:
    model: str | None = None  # None: the bank's setting; "none": keywords only
    device: str = "auto"
    cache_dir: Path | None = None  # None: the default cache folder
    use_cache: bool = True
    calibration: Calibration | None = None
    defaults: Defaults | None = None  # the scoring defaults; None: the shipped ones
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
    keywords: KeywordSignals | None = None  # matched once, before scoring


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
    from grader.text.analysis import analyze, detect_language

    for answer in answers:
        text = answer.row.answer
        if answer.gradable.closed is not None:
            answer.language = answer.row.language or ""
            continue
        if not _visible(text):
            answer.language = answer.row.language or ""
            continue
        language = answer.row.language or detect_language(text, bank.languages) or bank.languages[0]
        answer.language = language
        answer.analysis = analyze(text, language)


def _visible(text: str) -> bool:
    """Whether the text shows anything: not only spaces, zero-width characters or a BOM."""
    import unicodedata

    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text)


# ---------------------------------------------------------------- stage 3: embeddings


def _model_for(answer: _Answer, requested: str) -> str | None:
    from grader.evidence.models import auto_model_for

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


def _embed(bank: Bank, answers: Sequence[_Answer], options: GradeOptions) -> dict[str, Space]:
    from grader.evidence.embed_cache import default_cache_dir
    from grader.evidence.embedding import EmbeddingCache, embed_texts

    spaces = _spaces(bank, answers, options)
    cache = EmbeddingCache(options.cache_dir or default_cache_dir()) if options.use_cache else None
    for space in spaces.values():
        space.vectors = embed_texts(space.embedder, list(space.texts), cache)
    return spaces


def _spaces(bank: Bank, answers: Sequence[_Answer], options: GradeOptions) -> dict[str, Space]:
    """The texts to embed per model, and the models (loaded only when they must encode)."""
    requested = options.model or bank.settings.model
    spaces: dict[str, Space] = {}
    if requested == "none":
        return spaces
    from grader.evidence.embedding import load_embedder

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
            spaces[model] = Space(model, embedder)
            answered[model] = set()
        answered[model].add(answer.gradable.id)
        answer.model = model
        answer.units = _answer_units(answer)
        for text, _span in answer.units:
            spaces[model].add(text)
    for model, space in spaces.items():
        # Every question's model answers (an answer to another question is recognised by them);
        # concepts, misconceptions and wrong answers only of the questions answered (a self-check
        # embeds one); of each, the texts in the languages the model reads, as they are matched.
        for gradable in every_gradable:
            sets = list(reference_sets(gradable))
            for references in sets if gradable.id in answered[model] else sets[:1]:
                for _language, text in covered(references, space.languages):
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


# ---------------------------------------------------------------- stage 4: keywords


def _keyword_signals(answer: _Answer) -> KeywordSignals:
    """The rubric's keyword evidence for the answer, matched once (see _match_keywords)."""
    if answer.keywords is None:
        assert answer.analysis is not None
        answer.keywords = keyword_signals(answer.gradable, answer.analysis)
    return answer.keywords


def _match_keywords(answers: Sequence[_Answer]) -> None:
    """Keyword evidence for every analysed answer (a stage of its own, for the timings)."""
    for answer in answers:
        if answer.analysis is not None and answer.gradable.closed is None:
            _keyword_signals(answer)


# ---------------------------------------------------------------- stage 5: score and aggregate


def _params_for(answer: _Answer, bank: Bank, options: GradeOptions) -> ScoringParams:
    """The defaults for the answer's model, the bank's floor/ceiling, the calibration."""
    settings = bank.settings
    params = ScoringParams.for_model(
        answer.model, settings.similarity_floor, settings.similarity_ceiling, options.defaults
    )
    if options.calibration is not None:
        params = options.calibration.params_for(answer.gradable.id, answer.model, params)
    return params


def _closed_result(answer: _Answer, bank: Bank) -> AnswerResult:
    from grader.evidence.closed import score_closed

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


def _signals(
    bank: Bank,
    answer: _Answer,
    spaces: Mapping[str, Space],
    params: ScoringParams,
    words: ReferenceWords,
) -> Signals:
    if answer.analysis is None:
        return Signals(answer.language, answered=False)
    view = AnswerView(
        answer.gradable,
        answer.language,
        answer.analysis,
        answer.units,
        _keyword_signals(answer),
        tuple(answer.notes),
    )
    return gather(bank, view, spaces.get(answer.model or ""), params, words)


def _answer_result(
    answer: _Answer,
    bank: Bank,
    spaces: Mapping[str, Space],
    options: GradeOptions,
    words: ReferenceWords,
) -> AnswerResult:
    if answer.gradable.closed is not None:
        return _closed_result(answer, bank)
    params = _params_for(answer, bank, options)
    signals = _signals(bank, answer, spaces, params, words)
    languages = (answer.language, *bank.languages) if answer.language else bank.languages
    length = len(answer.analysis.tokens) if answer.analysis else 0
    scored = score_answer(answer.gradable, signals, params, languages, length)
    model_answer = next(iter(signals.criteria.values()), None) if signals.criteria else None
    overlap = None
    if model_answer is not None and not (
        answer.gradable.rubric and answer.gradable.rubric.criteria
    ):
        overlap = model_answer.overlap
    return AnswerResult(
        id=answer.gradable.id,
        points=answer.gradable.points,
        score=scored.score,
        auto_score=scored.score,
        answer=answer.row.answer,
        language=answer.language,
        answered=signals.answered,
        model=answer.model,
        criteria=scored.criteria,
        misconceptions=scored.misconceptions,
        similarity=signals.answer_match.evidence(params) if signals.answer_match else None,
        overlap=None if overlap is None else round(overlap, 4),
        flags=scored.flags,
        risk=scored.risk,
        words=length,
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
    from grader.text.store import analysis_store

    with analysis_store(_cache_folder(options)):
        return _grade(bank, rows, options, problems, source)


def _cache_folder(options: GradeOptions) -> Path | None:
    from grader.evidence.embed_cache import default_cache_dir

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
        words = ReferenceWords()
        for index, answer in enumerate(answers, start=1):
            by_student[answer.row.student][answer.gradable.id] = _scored_once(
                answer, distinct, scored, bank, spaces, options, words
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
    spaces: Mapping[str, Space],
    options: GradeOptions,
    words: ReferenceWords,
) -> AnswerResult:
    key = _same_answer_key(answer)
    if key not in scored:
        scored[key] = _answer_result(distinct[key], bank, spaces, options, words)
    result = scored[key]
    if distinct[key] is answer:
        return result
    return replace(result, human_score=answer.row.score, line=answer.row.line)


def _results(
    bank: Bank,
    students: tuple[StudentResult, ...],
    problems: Sequence[Problem],
    spaces: Mapping[str, Space],
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
            "ramp": asdict(ScoringParams.for_model(name, shipped=options.defaults).ramp),
        }
        for name, space in sorted(spaces.items())
    }
    settings = {
        "model": options.model or bank.settings.model,
        "defaults": (options.defaults or defaults()).version,
        "similarity_floor": bank.settings.similarity_floor,
        "similarity_ceiling": bank.settings.similarity_ceiling,
        "calibration": options.calibration.source if options.calibration else None,
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
