"""Calibration: re-scoring from signals, fitting with cross-validation, fallback, YAML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from grader.bank import Bank, Gradable
from grader.errors import GraderError
from grader.evidence.match import Match, Ramp
from grader.load.loader import load_bank
from grader.quality.calibration import fit_from_results, fit_on, rescore
from grader.quality.fit_search import FitOptions
from grader.quality.signal_table import SignalTable, collect_signals, default_params
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
from grader.scoring.calibration import (
    Adjustment,
    Calibration,
    ModelCalibration,
    QuestionFit,
    load_calibration,
)
from grader.scoring.defaults import Logit, MeaningMap, defaults
from grader.scoring.inputs import CriterionSignal, KeywordSignal, Signals
from grader.scoring.params import ScoringParams
from grader.scoring.rule import score_answer

MODEL = "fake-model"  # read through the generic ramp
# Fixed scoring defaults, so that these tests do not move when grader/scoring/defaults.yaml is refitted.
SCORING = replace(
    defaults(),
    ramps={**defaults().ramps, "generic": Ramp(0.0, 1.0, 0.0, 1.0)},
    meaning=MeaningMap(Logit(-4.0, 4.0, 3.0), Logit(-4.0, 6.0), Logit(-3.0, 0.0, 6.0)),
)
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
    match = Match(cosine, reference, "en")
    signal = CriterionSignal(match=match, overlap=overlap, rubric=False)
    return Signals("en", answered=True, criteria={"model-answer": signal}, answer_match=match)


def _answer(bank: Bank, gradable: Gradable, signals: Signals, human: float | None) -> AnswerResult:
    params = default_params(bank, MODEL, SCORING)
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
        models={MODEL: {}},
        students=students,
        problems=(),
        summary=Summary(len(students), len(answers), 0, 0, 0.0),
    )


def synthetic(
    bank: Bank,
    seed: int,
    noise: bool = False,
    per_question: int = 30,
    offsets: tuple[float, ...] = (-0.2, -0.07, 0.07, 0.2),
) -> Results:
    """Cosines that run higher or lower per question (by ``offsets``), a noisy overlap, humans
    who see quality."""
    generator = np.random.default_rng(seed)
    gradables = bank.gradables()
    answers = []
    for number, question in enumerate(QUESTIONS):
        offset = 0.0 if noise else offsets[number]
        for index in range(per_question):
            quality = float(generator.random())
            cosine = 0.2 + 0.5 * quality + offset + float(generator.normal(0.0, 0.04))
            overlap = float(np.clip(quality + generator.normal(0.0, 0.35), 0.0, 1.0))
            signals = _signals(gradables[question], cosine, overlap)
            answer = _answer(bank, gradables[question], signals, round(quality * 5))
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


def _rubric_signals(gradable: Gradable, generator: np.random.Generator, index: int) -> Signals:
    groups = (
        GroupEvidence(("alpha",), bool(index % 2)),
        GroupEvidence(("beta", "gamma"), bool(index % 3)),
    )
    if index % 7 == 0:  # said, then taken back: the criterion earns nothing
        negation = TermEvidence("beta", "beta", 0, 4, negated=True)
        groups = (groups[0], GroupEvidence(("beta", "gamma"), True, None, negation))
    first = Match(float(generator.uniform(0.1, 0.95)), "The first idea.", "en")
    second = Match(float(generator.uniform(0.1, 0.95)), "The second idea.", "en")
    wrong = Match(0.99, "A wrong answer.", "en") if index % 5 == 0 else None
    return Signals(
        "en",
        True,
        criteria={
            "first": CriterionSignal(
                KeywordSignal("en", groups), first, float(generator.uniform(0, 1))
            ),
            "second": CriterionSignal(None, second, None, index % 11 == 0, wrong),
        },
    )


def test_rescoring_from_signals_matches_the_scorer(bank: Bank) -> None:
    """Calibration scores candidates with grader.scoring.rule's own rule, for any parameters."""
    gradable = bank.gradables()["rubric"]
    generator = np.random.default_rng(5)
    signals = [_rubric_signals(gradable, generator, index) for index in range(40)]
    answers = [_answer(bank, gradable, item, 2.0) for item in signals]
    results = _results(bank, [(f"s{i}", a) for i, a in enumerate(answers)])
    default = default_params(bank, MODEL, SCORING)
    table = SignalTable.from_answers(collect_signals(bank, results, SCORING), default)
    assert table.unreproduced == 0
    for shift, scale, mapping in [
        (0.5, 1.0, ()),
        (-1.0, 2.0, ((0.0, 0.1), (1.0, 0.9))),
        (0, 1, ()),
    ]:
        params = replace(default, shift=shift, scale=scale, share_map=mapping)
        expected = [score_answer(gradable, item, params, ["en"]).score / 4 for item in signals]
        assert table.shares(shift, scale, mapping) == pytest.approx(expected, abs=2e-4)


def test_calibration_improves_held_out_agreement(bank: Bank) -> None:
    results = synthetic(bank, seed=1)
    fit = fit_from_results(bank, results, FitOptions(folds=5, seed=0, defaults=SCORING))
    before, after = fit.before.overall, fit.after.overall
    assert after.pearson > before.pearson + 0.03
    assert after.rmse < before.rmse * 0.8
    fitted = fit.calibration.models[MODEL]
    assert fitted.questions, "questions whose cosines run high or low get their own shift"
    assert fit.calibration.held_out["after"]["pearson"] == pytest.approx(after.pearson, abs=1e-4)


def test_a_level_every_question_shares_is_fitted_bank_wide(bank: Bank) -> None:
    results = synthetic(bank, seed=3, offsets=(-0.15,) * len(QUESTIONS))
    fit = fit_from_results(bank, results, FitOptions(folds=5, seed=0, defaults=SCORING))
    assert not fit.calibration.models[MODEL].bank.empty
    assert fit.after.overall.rmse < fit.before.overall.rmse * 0.8


def test_few_answers_per_question_still_help_on_unseen_answers(bank: Bank) -> None:
    results = synthetic(bank, seed=2, per_question=40)
    generator = np.random.default_rng(0)
    answers = collect_signals(bank, results, SCORING)
    train = [bool(generator.random() < 0.25) for _ in answers]  # ~10/question
    calibration = fit_on(bank, results, train, FitOptions(defaults=SCORING))
    held_out = [not used for used in train]
    after = [
        p
        for p, keep in zip(rescore(calibration, bank, results, SCORING), held_out, strict=True)
        if keep
    ]
    before = [
        p for p, keep in zip(rescore(None, bank, results, SCORING), held_out, strict=True) if keep
    ]
    from grader.metrics import pearson, rmse

    def human(pairs: list) -> list[float]:
        return [p.human for p in pairs]

    def machine(pairs: list) -> list[float]:
        return [p.machine for p in pairs]

    r_after, r_before = (
        pearson(human(after), machine(after)),
        pearson(human(before), machine(before)),
    )
    error_after, error_before = (
        rmse(human(after), machine(after)),
        rmse(human(before), machine(before)),
    )
    assert r_after > r_before - 0.01  # a few answers per question keep the order ...
    assert error_after < error_before * 0.97  # ... and move the scores towards the humans'


def test_noise_keeps_the_defaults(bank: Bank) -> None:
    for seed in (3, 4):
        results = synthetic(bank, seed=seed, noise=True)
        fit = fit_from_results(bank, results, FitOptions(seed=1, defaults=SCORING))
        fitted = fit.calibration.models[MODEL]
        assert fitted.bank == Adjustment(), "no bank-wide fit and no map from noise"
        # A question may move its level by chance, but never flatten its scores ...
        table = SignalTable.from_answers(
            collect_signals(bank, results, SCORING), default_params(bank, MODEL, SCORING)
        )
        for question, own in fitted.questions.items():
            mine = [i for i, q in enumerate(table.questions) if q == question]
            spread = table.shares(own.shift, own.scale)[mine].std()
            assert spread >= 0.8 * table.shares()[mine].std() - 1e-9
        # ... and held out, that costs little.
        assert fit.after.overall.rmse <= fit.before.overall.rmse * 1.05


def test_defaults_are_what_grading_used(bank: Bank) -> None:
    from grader.scoring.defaults import defaults

    params = default_params(bank, "minilm")
    assert params.ramp == defaults().ramp("minilm")
    assert (params.shift, params.scale, params.share_map) == (0.0, 1.0, ())


def test_params_for_moves_the_rule_parameters() -> None:
    calibration = Calibration(
        "b",
        {
            MODEL: ModelCalibration(
                Adjustment(0.5, 2.0, ((0.0, 0.2), (1.0, 1.0))), {"q1": QuestionFit(-1.0, 0.5)}
            )
        },
    )
    base = ScoringParams.for_model(MODEL, shipped=SCORING)
    q2 = calibration.params_for("q2", MODEL, base)
    assert (q2.shift, q2.scale, q2.share_map) == (0.5, 2.0, ((0.0, 0.2), (1.0, 1.0)))
    q1 = calibration.params_for("q1", MODEL, base)
    assert (q1.shift, q1.scale) == (pytest.approx(-0.5), pytest.approx(1.0))
    assert calibration.params_for("q1", "other-model", base) == base


def test_too_few_human_scores_is_a_clear_error(bank: Bank) -> None:
    results = synthetic(bank, seed=1, per_question=2)
    with pytest.raises(GraderError, match="calibration needs at least 10"):
        fit_from_results(bank, results, FitOptions(defaults=SCORING))


def test_calibrated_results_cannot_be_calibrated_again(bank: Bank) -> None:
    results = synthetic(bank, seed=1, per_question=5)
    results = Results(**{**results.__dict__, "settings": {"calibration": "old.yaml"}})
    with pytest.raises(GraderError, match="graded with a calibration"):
        fit_from_results(bank, results, FitOptions(defaults=SCORING))


# ---------------------------------------------------------------- YAML


def test_yaml_round_trip(bank: Bank, tmp_path: Path) -> None:
    fit = fit_from_results(bank, synthetic(bank, seed=1), FitOptions(seed=0, defaults=SCORING))
    path = tmp_path / "calibration.yaml"
    fit.calibration.save(path)
    loaded = load_calibration(path)
    assert loaded.source == str(path)
    assert loaded.bank_id == "synthetic"
    assert loaded.answers == fit.calibration.answers
    base = ScoringParams.for_model(MODEL, shipped=SCORING)
    for model, fitted in fit.calibration.models.items():
        again = loaded.models[model]
        assert again.bank == fitted.bank
        assert again.questions == fitted.questions
    for question in QUESTIONS:
        assert loaded.params_for(question, MODEL, base) == fit.calibration.params_for(
            question, MODEL, base
        )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file left"


def test_what_calibrate_writes_the_reader_accepts(tmp_path: Path) -> None:
    """Values at and beyond the edges of every range are written inside them."""
    extreme = Calibration(
        "synthetic",
        {
            MODEL: ModelCalibration(
                Adjustment(99.0, 1e-9),
                {"q1": QuestionFit(-1e6, 1e6), "q2": QuestionFit(float("1e3"), 0.0)},
            )
        },
    )
    path = tmp_path / "calibration.yaml"
    extreme.save(path)
    loaded = load_calibration(path).models[MODEL]
    assert (loaded.bank.shift, loaded.bank.scale) == (20.0, 0.05)
    assert loaded.questions == {"q1": QuestionFit(-20.0, 20.0), "q2": QuestionFit(20.0, 0.05)}


GOOD = """schema: grader.calibration/2
bank: synthetic
models:
  minilm:
    bank: {shift: 0.5, scale: 1.5, map: [[0, 0.1], [1, 1]]}
    questions:
      q1: {shift: -0.25}
"""


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace("grader.calibration/2", "other/1"), 1, "schema is 'other/1'"),
        (
            GOOD.replace("grader.calibration/2", "grader.calibration/1"),
            1,
            "fitted for an earlier scoring rule",
        ),
        (GOOD.replace("models:", "modles:"), 3, "did you mean 'models'"),
        (GOOD.replace("shift: 0.5", "shift: high"), 5, "models.minilm.bank.shift must be a number"),
        (
            GOOD.replace("scale: 1.5", "scale: .nan"),
            5,
            "models.minilm.bank.scale must be a finite number",
        ),
        (GOOD.replace("scale: 1.5", "scale: 0"), 5, "outside 0.05..20"),
        (GOOD.replace("[[0, 0.1], [1, 1]]", "[[0, 0.5], [1, 0.1]]"), 5, "map must rise"),
        (GOOD.replace("{shift: -0.25}", "{shfit: 0.1}"), 7, "did you mean 'shift'"),
        (GOOD.replace("q1: {shift: -0.25}", "q1: 3"), 7, "must be a mapping"),
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
    params = calibration.params_for("q1", "minilm", ScoringParams.for_model("minilm"))
    assert (params.shift, params.scale) == (pytest.approx(0.25), 1.5)
    assert params.share_map == ((0.0, 0.1), (1.0, 1.0))


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
    from grader.grading import GradeOptions, grade
    from grader.load.submissions import Submission
    from grader.quality.calibration import describe_fit, fit_calibration_with_evidence

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
        models={"minilm": ModelCalibration(Adjustment(0.8, 1.6), {"stack": QuestionFit(-1.5)})},
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


# ---------------------------------------------------------------- a real data set, end to end

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"


@pytest.mark.slow
def test_calibrate_on_sciEntsBank_writes_a_file_evaluate_reads(tmp_path: Path) -> None:
    """`grader calibrate` on SemEval-2013 SciEntsBank (a sample, converted as the agreement
    benchmark does), then `grader evaluate --calibration` with what it wrote."""
    import sys

    from click.testing import CliRunner

    from grader.cli import cli

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import agreement

    data_set = agreement.read_semeval(DATASETS, "sciEntsBank")
    if data_set is None:
        pytest.skip(f"SemEval-2013 SciEntsBank is not under {DATASETS}")
    bank_path, graded = agreement.write_files(agreement.limited(data_set, 300, 1), tmp_path)
    out = tmp_path / "calibration.yaml"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    runner = CliRunner()
    fitted = runner.invoke(
        cli, ["calibrate", str(bank_path), str(graded), "--out", str(out), *cache]
    )
    assert fitted.exit_code == 0, fitted.output
    loaded = load_calibration(out)  # every value within the reader's ranges
    assert loaded.answers == 300
    evaluated = runner.invoke(
        cli, ["evaluate", str(bank_path), str(graded), "--calibration", str(out), *cache]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "accuracy=" in evaluated.output and "flagged=" in evaluated.output
