"""Calibration: re-scoring from signals, fitting with cross-validation, fallback, YAML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from grader.calibration import (
    Adjustment,
    Calibration,
    FitOptions,
    ModelCalibration,
    SignalTable,
    collect_signals,
    default_params,
    fit_from_results,
    fit_on,
    load_calibration,
    rescore,
)
from grader.errors import GraderError
from grader.loader import load_bank
from grader.model import Bank, Gradable
from grader.results import (
    AnswerResult,
    BankInfo,
    GroupEvidence,
    QuestionResult,
    Results,
    StudentResult,
    Summary,
    TermEvidence,
)
from grader.scoring import KeywordSignal, Match, ScoringParams, Signals, score_answer

MODEL = "fake-model"
FLOOR, CEILING = 0.3, 0.8
QUESTIONS = ("q1", "q2", "q3", "q4")

BANK = """
id: synthetic
title: Synthetic
languages: [en]
questions:
{questions}
  - id: rubric
    type: short_answer
    points: 4
    prompt: Explain it.
    answers: [The model answer.]
    rubric:
      criteria:
        - id: first
          points: 3
          keywords: {{en: [[alpha], [beta, gamma]]}}
          concept: {{en: The first idea.}}
        - id: second
          points: 1
          concept: {{en: The second idea.}}
"""
QUESTION = """  - id: {id}
    type: short_answer
    points: 5
    prompt: Question {id}?
    answers: [Reference answer for {id}.]
"""


@pytest.fixture
def bank(write: Callable[[str, str], Path]) -> Bank:
    questions = "".join(QUESTION.format(id=question) for question in QUESTIONS)
    return load_bank(write("synthetic.yaml", BANK.format(questions=questions)))


def _signals(gradable: Gradable, cosine: float, overlap: float | None) -> Signals:
    reference = gradable.answers["en"][0]
    return Signals(
        "en", answered=True, answer_match=Match(cosine, reference, "en"), overlap=overlap
    )


def _answer(gradable: Gradable, signals: Signals, human: float | None) -> AnswerResult:
    params = ScoringParams(floor=FLOOR, ceiling=CEILING)
    scored = score_answer(gradable, signals, params, ["en"])
    return AnswerResult(
        id=gradable.id,
        points=gradable.points,
        score=scored.score,
        auto_score=scored.score,
        answer="an answer",
        language="en",
        answered=True,
        model=MODEL,
        criteria=scored.criteria,
        misconceptions=scored.misconceptions,
        similarity=signals.answer_match.evidence(params) if signals.answer_match else None,
        overlap=signals.overlap,
        flags=scored.flags,
        human_score=human,
    )


def _results(bank: Bank, answers: list[tuple[str, AnswerResult]]) -> Results:
    students = tuple(
        StudentResult(
            student,
            student,
            answer.score,
            answer.points,
            (QuestionResult(answer.id, "short_answer", answer.points, answer.score, (answer,)),),
        )
        for student, answer in answers
    )
    return Results(
        bank=BankInfo(bank.id, "Synthetic", "", "", ("en",), bank.points),
        settings={"model": MODEL, "calibration": None},
        models={MODEL: {"similarity_floor": FLOOR, "similarity_ceiling": CEILING}},
        students=students,
        problems=(),
        summary=Summary(len(students), len(answers), 0, 0, 0.0),
    )


def synthetic(bank: Bank, seed: int, noise: bool = False, per_question: int = 30) -> Results:
    """Cosines that run higher or lower per question, a noisy overlap, humans who see quality."""
    generator = np.random.default_rng(seed)
    gradables = bank.gradables()
    answers = []
    for number, question in enumerate(QUESTIONS):
        offset = 0.0 if noise else (-0.15, -0.05, 0.05, 0.15)[number]
        for index in range(per_question):
            quality = float(generator.random())
            cosine = 0.2 + 0.5 * quality + offset + float(generator.normal(0.0, 0.04))
            overlap = float(np.clip(quality + generator.normal(0.0, 0.35), 0.0, 1.0))
            signals = _signals(gradables[question], cosine, overlap)
            answer = _answer(gradables[question], signals, round(quality * 5))
            answers.append((f"{question}-{index}", answer))
    if noise:  # each question's own grader scores, rounded and shuffled: its level, no relation
        shuffled = []
        for start in range(0, len(answers), per_question):
            block = answers[start : start + per_question]
            humans = generator.permutation([round(answer.auto_score) for _, answer in block])
            shuffled += [
                (student, replace(answer, human_score=float(human)))
                for (student, answer), human in zip(block, humans, strict=True)
            ]
        answers = shuffled
    return _results(bank, answers)


def test_rescoring_from_signals_matches_the_scorer(bank: Bank) -> None:
    """The arithmetic calibration re-runs is grader.scoring's, for any parameters."""
    gradable = bank.gradables()["rubric"]
    generator = np.random.default_rng(5)
    signals = []
    for index in range(40):
        groups = (
            GroupEvidence(("alpha",), bool(index % 2)),
            GroupEvidence(("beta", "gamma"), bool(index % 3), negated=None),
        )
        if index % 7 == 0:  # said, then taken back: keyword and concept credit both drop to 0
            negation = TermEvidence("beta", "beta", 0, 4, negated=True)
            groups = (groups[0], GroupEvidence(("beta", "gamma"), True, None, negation))
        concept = {
            "first": Match(float(generator.uniform(0.1, 0.95)), "The first idea.", "en"),
            "second": Match(float(generator.uniform(0.1, 0.95)), "The second idea.", "en"),
        }
        base = _signals(gradable, float(generator.uniform(0.1, 0.95)), None)
        signals.append(
            Signals(
                "en",
                True,
                keywords={"first": KeywordSignal("en", groups)},
                answer_match=base.answer_match,
                concept_matches=concept,
            )
        )
    answers = [_answer(gradable, item, 2.0) for item in signals]
    table = SignalTable.from_answers(
        collect_signals(_results(bank, [(f"s{i}", a) for i, a in enumerate(answers)])),
        ScoringParams(floor=FLOOR, ceiling=CEILING),
    )
    assert table.unreproduced == 0
    for floor, ceiling, weight in [(0.1, 0.6, 0.2), (0.45, 0.9, 0.9), (0.0, 1.0, 0.5)]:
        params = ScoringParams(floor=floor, ceiling=ceiling, rubric_weight=weight)
        expected = [score_answer(gradable, item, params, ["en"]).score / 4 for item in signals]
        assert table.shares_for(params) == pytest.approx(expected, abs=2e-4)


def test_calibration_improves_held_out_agreement(bank: Bank) -> None:
    results = synthetic(bank, seed=1)
    fit = fit_from_results(bank, results, FitOptions(folds=5, seed=0))
    before, after = fit.before.overall, fit.after.overall
    assert after.pearson > before.pearson + 0.05
    assert after.rmse < before.rmse * 0.8
    fitted = fit.calibration.models[MODEL]
    assert not fitted.bank.empty
    assert fitted.questions, "questions whose cosines run high or low get their own ramp"
    assert fit.calibration.held_out["after"]["pearson"] == pytest.approx(after.pearson, abs=1e-4)


def test_few_answers_per_question_still_help_on_unseen_answers(bank: Bank) -> None:
    results = synthetic(bank, seed=2, per_question=40)
    generator = np.random.default_rng(0)
    train = [bool(generator.random() < 0.25) for _ in collect_signals(results)]  # ~10/question
    calibration = fit_on(bank, results, train)
    held_out = [not used for used in train]
    after = [
        p for p, keep in zip(rescore(calibration, bank, results), held_out, strict=True) if keep
    ]
    before = [p for p, keep in zip(rescore(None, bank, results), held_out, strict=True) if keep]
    from grader.metrics import pearson, rmse

    def human(pairs: list) -> list[float]:
        return [p.human for p in pairs]

    def machine(pairs: list) -> list[float]:
        return [p.machine for p in pairs]

    assert pearson(human(after), machine(after)) > pearson(human(before), machine(before)) + 0.03
    assert rmse(human(after), machine(after)) < rmse(human(before), machine(before))


def test_noise_keeps_the_defaults(bank: Bank) -> None:
    for seed in (3, 4):
        results = synthetic(bank, seed=seed, noise=True)
        fit = fit_from_results(bank, results, FitOptions(seed=1))
        fitted = fit.calibration.models[MODEL]
        assert fitted.bank == Adjustment(), "no bank-wide fit and no map from noise"
        # A question may move its level by chance, but never flatten its scores ...
        table = SignalTable.from_answers(collect_signals(results), fitted.default)
        for question, adjustment in fitted.questions.items():
            mine = [i for i, q in enumerate(table.questions) if q == question]
            spread = table.shares_for(adjustment.apply(fitted.default))[mine].std()
            assert spread >= 0.8 * table.shares_for(fitted.default)[mine].std() - 1e-9
        # ... and held out, that costs little.
        assert fit.after.overall.rmse <= fit.before.overall.rmse * 1.05


def test_defaults_are_what_grading_used(bank: Bank) -> None:
    params = default_params(bank, synthetic(bank, seed=1, per_question=3), MODEL)
    assert (params.floor, params.ceiling, params.rubric_weight) == (FLOOR, CEILING, 0.7)


def test_params_for_and_adjust_score() -> None:
    calibration = Calibration(
        "b",
        {
            MODEL: ModelCalibration(
                Adjustment(0.2, 0.9, 0.5, ((0.0, 0.2), (1.0, 1.0))),
                {"q1": Adjustment(0.1, 0.7)},
            )
        },
    )
    base = ScoringParams()
    assert calibration.params_for("q2", MODEL, base) == ScoringParams(0.2, 0.9, 0.5)
    assert calibration.params_for("q1", MODEL, base) == ScoringParams(0.1, 0.7, 0.5)
    assert calibration.params_for("q1", "other-model", base) == base
    assert calibration.adjust_score("q1", MODEL, 2.5, 5.0) == pytest.approx(3.0)
    assert calibration.adjust_score("q1", None, 2.5, 5.0) == 2.5


def test_too_few_human_scores_is_a_clear_error(bank: Bank) -> None:
    results = synthetic(bank, seed=1, per_question=2)
    with pytest.raises(GraderError, match="calibration needs at least 10"):
        fit_from_results(bank, results)


def test_calibrated_results_cannot_be_calibrated_again(bank: Bank) -> None:
    results = synthetic(bank, seed=1, per_question=5)
    results = Results(**{**results.__dict__, "settings": {"calibration": "old.yaml"}})
    with pytest.raises(GraderError, match="graded with a calibration"):
        fit_from_results(bank, results)


# ---------------------------------------------------------------- YAML


def test_yaml_round_trip(bank: Bank, tmp_path: Path) -> None:
    fit = fit_from_results(bank, synthetic(bank, seed=1), FitOptions(seed=0))
    path = tmp_path / "calibration.yaml"
    fit.calibration.save(path)
    loaded = load_calibration(path)
    assert loaded.source == str(path)
    assert loaded.bank_id == "synthetic"
    assert loaded.answers == fit.calibration.answers
    for model, fitted in fit.calibration.models.items():
        again = loaded.models[model]
        assert again.bank == fitted.bank
        assert again.questions == fitted.questions
    for question in QUESTIONS:
        assert loaded.params_for(question, MODEL, ScoringParams()) == fit.calibration.params_for(
            question, MODEL, ScoringParams()
        )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file left"


GOOD = """schema: grader.calibration/1
bank: synthetic
models:
  minilm:
    bank: {floor: 0.2, ceiling: 0.9, rubric_weight: 0.5, map: [[0, 0.1], [1, 1]]}
    questions:
      q1: {floor: 0.1, ceiling: 0.7}
"""


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace("grader.calibration/1", "other/1"), 1, "schema is 'other/1'"),
        (GOOD.replace("models:", "modles:"), 3, "did you mean 'models'"),
        (GOOD.replace("ceiling: 0.7", "ceiling: 0.05"), 7, "must be above the floor"),
        (GOOD.replace("floor: 0.2", "floor: high"), 5, "models.minilm.bank.floor must be a number"),
        (GOOD.replace("rubric_weight: 0.5", "rubric_weight: 1.5"), 5, "outside 0..1"),
        (GOOD.replace("[[0, 0.1], [1, 1]]", "[[0, 0.5], [1, 0.1]]"), 5, "map must rise"),
        (GOOD.replace("{floor: 0.1, ceiling: 0.7}", "{flor: 0.1}"), 7, "did you mean 'floor'"),
        (GOOD.replace("q1: {floor: 0.1, ceiling: 0.7}", "q1: 3"), 7, "must be a mapping"),
    ],
)
def test_yaml_errors_name_file_line_and_key(
    write: Callable[[str, str], Path], text: str, line: int, message: str
) -> None:
    path = write("calibration.yaml", text)
    with pytest.raises(GraderError, match=message) as caught:
        load_calibration(path)
    assert str(caught.value).startswith(f"{path}:{line}:")


def test_good_yaml_loads(write: Callable[[str, str], Path]) -> None:
    calibration = load_calibration(write("calibration.yaml", GOOD))
    assert calibration.params_for("q1", "minilm", ScoringParams()) == ScoringParams(0.1, 0.7, 0.5)
    assert calibration.adjust_score("q9", "minilm", 0.0, 4.0) == pytest.approx(0.4)


def test_missing_file_is_a_grader_error(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="no such file"):
        load_calibration(tmp_path / "absent.yaml")


# ---------------------------------------------------------------- with the real grader

REAL_BANK = """id: real
title: Real
languages: [en]
questions:
  - id: stack
    type: short_answer
    points: 5
    prompt: In what order does a stack return its elements?
    answers: [The last element pushed is the first one popped (last in, first out).]
  - id: queue
    type: short_answer
    points: 5
    prompt: In what order does a queue return its elements?
    answers: [The first element added is the first one removed (first in, first out).]
"""
REAL_ANSWERS = {
    "stack": [
        ("Last in, first out: the newest element comes off first.", 5),
        ("The most recently pushed item is popped first.", 5),
        ("LIFO, the top element is removed first.", 4),
        ("It returns the last one that was added before the others.", 4),
        ("Elements come out in the order they went in.", 1),
        ("First in first out, like a line at a shop.", 0),
        ("A stack stores numbers in memory.", 1),
        ("In sorted order, smallest first.", 0),
    ],
    "queue": [
        ("First in, first out: the oldest element leaves first.", 5),
        ("The element added earliest is removed first.", 5),
        ("FIFO, items leave in the order they arrived.", 4),
        ("Like people waiting in line, the first to come is served first.", 4),
        ("The last element added is removed first.", 0),
        ("It is a list of elements.", 1),
        ("In random order.", 0),
        ("The newest item comes out before the older ones.", 0),
    ],
}


@pytest.mark.slow
def test_fit_calibration_with_the_real_grader(
    write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    from grader.calibration import describe_fit, fit_calibration_with_evidence
    from grader.grading import GradeOptions, grade
    from grader.submissions import Submission

    bank = load_bank(write("real.yaml", REAL_BANK))
    rows = [
        Submission(f"s{index}", question, text, "en", float(score), index + 2)
        for question, answers in REAL_ANSWERS.items()
        for index, (text, score) in enumerate(answers)
    ]
    options = GradeOptions(model="minilm", device="cpu", cache_dir=tmp_path / "cache")
    fit = fit_calibration_with_evidence(bank, rows, options, FitOptions(folds=4))
    assert fit.calibration.notes == (), "every answer re-scored exactly from its signals"
    assert fit.before.overall.n == fit.after.overall.n == 16
    assert "held-out before" in describe_fit(fit)
    path = tmp_path / "calibration.yaml"
    fit.calibration.save(path)
    calibration = load_calibration(path)
    # Grading with a calibration scores as re-scoring the uncalibrated signals does.
    chosen = replace(
        calibration,
        models={
            "minilm": ModelCalibration(
                Adjustment(0.1, 0.6, 0.4), {"stack": Adjustment(0.25, 0.9)}, ScoringParams()
            )
        },
    )
    calibrated = grade(bank, rows, replace(options, calibration=chosen))
    assert calibrated.settings["calibration"] == str(path)
    uncalibrated = grade(bank, rows, options)
    expected = {(p.question, p.student): p.machine for p in rescore(chosen, bank, uncalibrated)}
    changed = 0
    for student, before in zip(calibrated.students, uncalibrated.students, strict=True):
        for question, earlier in zip(student.questions, before.questions, strict=True):
            answer = question.answers[0]
            assert answer.score == pytest.approx(expected[answer.id, student.id], abs=1e-3)
            changed += abs(answer.score - earlier.answers[0].score) > 0.01
    assert changed >= 8, "the chosen parameters move most scores"
