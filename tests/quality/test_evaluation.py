"""Agreement with human graders: metrics per group, JSON, and the HTML page."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from grader import metrics
from grader.errors import GraderError
from grader.grading import GradeOptions
from grader.load.loader import load_bank
from grader.load.submissions import read_submissions
from grader.quality.evaluation import (
    PAGE_NAME,
    Pair,
    evaluate,
    evaluate_pairs,
    evaluation_to_dict,
    format_agreement,
    write_evaluation_page,
)


def _pairs() -> list[Pair]:
    humans = [0, 1, 2, 3, 4, 5, 5, 4, 2.5, 1.5]
    machines = [0.4, 1.2, 2.6, 2.9, 3.1, 4.6, 5.0, 2.0, 2.4, 0.1]
    return [
        Pair(f"q{i % 2}", f"s{i}", 5.0, h, m, f"answer {i}", "en")
        for i, (h, m) in enumerate(zip(humans, machines, strict=True))
    ]


def test_overall_metrics_are_the_metric_functions() -> None:
    pairs = _pairs()
    evaluation = evaluate_pairs("bank", pairs)
    human = [p.human for p in pairs]
    machine = [p.machine for p in pairs]
    overall = evaluation.overall
    assert (
        overall.n == 10
        and overall.scale == pytest.approx(5.0)
        and overall.step == pytest.approx(0.5)
    )
    assert overall.pearson == pytest.approx(metrics.pearson(human, machine))
    assert overall.qwk == pytest.approx(metrics.quadratic_weighted_kappa(human, machine, 0.5, 5))
    assert overall.rmse == pytest.approx(metrics.rmse(human, machine))
    assert not overall.binary and overall.accuracy is None
    assert sum(map(sum, overall.confusion)) == 10
    assert len(overall.confusion) == 11  # 0, 0.5, ..., 5
    assert set(evaluation.questions) == {"q0", "q1"}
    assert evaluation.questions["q0"].n == 5


def test_binary_items_get_accuracy_at_half_the_points() -> None:
    pairs = [
        Pair("q", "a", 1.0, 1.0, 0.7),
        Pair("q", "b", 1.0, 1.0, 0.4),
        Pair("q", "c", 1.0, 0.0, 0.5),
        Pair("q", "d", 1.0, 0.0, 0.1),
    ]
    overall = evaluate_pairs("bank", pairs).overall
    assert overall.binary
    assert overall.accuracy == pytest.approx(0.5)
    assert overall.macro_f1 == pytest.approx(0.5)
    assert overall.headline == overall.accuracy
    assert "accuracy=0.500" in format_agreement(overall)


def test_mixed_points_are_compared_as_shares() -> None:
    pairs = [
        Pair("a", "s1", 2.0, 2.0, 1.0),
        Pair("a", "s2", 2.0, 0.0, 0.0),
        Pair("b", "s1", 10.0, 5.0, 5.0),
        Pair("b", "s2", 10.0, 10.0, 10.0),
    ]
    overall = evaluate_pairs("bank", pairs).overall
    assert overall.scale == pytest.approx(1.0)
    assert overall.rmse == pytest.approx(math.sqrt(0.25 / 4))
    assert overall.mean_human == pytest.approx((1 + 0 + 0.5 + 1) / 4)


def test_largest_disagreements_come_first() -> None:
    evaluation = evaluate_pairs("bank", _pairs())
    worst = evaluation.largest_disagreements(2)
    assert [p.student for p in worst] == ["s7", "s9"]  # 2.0 and 1.4 points off


def test_dictionary_is_strict_json() -> None:
    pairs = [Pair("q", "a", 5.0, 3.0, 2.0), Pair("q", "b", 5.0, 3.0, 4.0)]  # r undefined
    data = evaluation_to_dict(evaluate_pairs("bank", pairs), with_pairs=True)
    text = json.dumps(data, allow_nan=False)
    assert data["overall"]["pearson"] is None
    assert json.loads(text)["pairs"][0]["student"] == "a"


def test_page_has_plots_and_escapes_answers(tmp_path: Path) -> None:
    pairs = [*_pairs(), Pair("q0", "mallory", 5.0, 5.0, 0.0, "<script>alert(1)</script>", "en")]
    path = write_evaluation_page(evaluate_pairs("bank <b>", pairs), tmp_path)
    assert path == tmp_path / PAGE_NAME
    page = path.read_text(encoding="utf-8")
    assert '<svg id="scatter"' in page
    assert len(re.findall(r"<circle ", page)) == len(pairs)
    assert 'id="confusion"' in page and 'id="disagreements"' in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "bank &lt;b&gt;" in page
    assert [p.name for p in tmp_path.iterdir()] == [PAGE_NAME], "no temporary file left behind"


def test_page_into_an_unwritable_place_is_a_grader_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(GraderError, match="not a folder"):
        write_evaluation_page(evaluate_pairs("bank", _pairs()), blocker)


BANK = """id: tiny
title: Tiny
languages: [en]
questions:
  - id: stack
    type: short_answer
    points: 2
    prompt: What order does a stack follow?
    answers: [Last in, first out.]
    rubric:
      criteria:
        - id: lifo
          points: 2
          keywords: {en: [[last in first out, LIFO]]}
"""
SUBMISSIONS = """student,question,answer,score
ann,stack,It is LIFO: last in first out.,2
bob,stack,First in first out like a queue.,0
cat,stack,"The last one pushed, LIFO.",2
dan,stack,,
"""


def test_evaluate_grades_and_compares(write: Callable[[str, str], Path]) -> None:
    bank = load_bank(write("tiny.yaml", BANK))
    rows = read_submissions(write("subs.csv", SUBMISSIONS)).rows
    evaluation = evaluate(bank, rows, GradeOptions(model="none"))
    assert evaluation.overall.n == 3  # dan has no human score
    assert evaluation.overall.binary
    assert evaluation.overall.accuracy == pytest.approx(1.0)
    assert evaluation.bank == "tiny"


def test_evaluate_without_human_scores_is_a_grader_error(write: Callable[[str, str], Path]) -> None:
    bank = load_bank(write("tiny.yaml", BANK))
    rows = read_submissions(write("subs.csv", "student,question,answer\nann,stack,LIFO\n")).rows
    with pytest.raises(GraderError, match="no answer has a human score"):
        evaluate(bank, rows, GradeOptions(model="none"))
