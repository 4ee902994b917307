"""The semantic signal with the real packaged models (CPU, offline)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from grader.grading import GradeOptions, grade
from grader.load.loader import load_bank
from grader.load.submissions import Submission
from tests.conftest import SEED_BANK

PARAPHRASES = Path(__file__).parents[1] / "data" / "paraphrases.yaml"
LANGUAGES = ("en", "ko", "ja", "ru")
KINDS = ("paraphrase", "wrong", "off_topic")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def paraphrase_scores(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str, str], float]:
    """Grade every fixture answer of every gradable and language in one pass with --model auto."""
    bank = load_bank(SEED_BANK)
    fixtures = yaml.safe_load(PARAPHRASES.read_text(encoding="utf-8"))
    rows = []
    for gradable, by_language in fixtures.items():
        for language in LANGUAGES:
            for kind in KINDS:
                student = f"{language}-{kind}"
                rows.append(Submission(student, gradable, by_language[language][kind], language))
    cache = tmp_path_factory.mktemp("cache")
    results = grade(bank, rows, GradeOptions(model="auto", cache_dir=cache))
    scores = {}
    for student in results.students:
        language, kind = student.id.split("-", 1)
        for question in student.questions:
            for answer in question.answers:
                if answer.answered:
                    scores[(answer.id, language, kind)] = answer.score / answer.points
    return scores


def test_fixtures_cover_every_gradable():
    fixtures = yaml.safe_load(PARAPHRASES.read_text(encoding="utf-8"))
    assert set(fixtures) == set(load_bank(SEED_BANK).gradables())


@pytest.mark.parametrize("language", LANGUAGES)
def test_paraphrase_outscores_wrong_and_off_topic(paraphrase_scores, language):
    gradables = sorted({key[0] for key in paraphrase_scores})
    failures = []
    for gradable in gradables:
        right = paraphrase_scores[(gradable, language, "paraphrase")]
        for kind in ("wrong", "off_topic"):
            other = paraphrase_scores[(gradable, language, kind)]
            if not right > other:
                failures.append(f"{gradable}: paraphrase {right:.2f} <= {kind} {other:.2f}")
    assert not failures, failures


def test_paraphrases_earn_real_credit(paraphrase_scores):
    credits = [score for (_, _, kind), score in paraphrase_scores.items() if kind == "paraphrase"]
    off_topic = [score for (_, _, kind), score in paraphrase_scores.items() if kind == "off_topic"]
    assert sum(credits) / len(credits) >= 0.4
    assert max(off_topic) <= 0.15


def test_korean_answer_against_english_only_model_answers(write, tmp_path):
    bank_path = write(
        "banks/en.yaml",
        """\
id: en-only
title: English model answers, a Korean-speaking class
languages: [en, ko]
questions:
  - id: mask
    points: 2
    prompt: What does causal masking do in a decoder?
    answers: Causal masking stops each token from attending to later tokens, so the model can only use the words before it when predicting the next one.
""",
    )
    bank = load_bank(bank_path)
    rows = [
        Submission(
            "right",
            "mask",
            "인과 마스킹은 각 토큰이 뒤에 오는 토큰을 보지 못하게 막아서, 모델이 다음 단어를 예측할 때 앞의 단어만 쓰게 한다.",
            "ko",
        ),
        Submission("wrong", "mask", "김치찌개는 돼지고기와 김치를 볶은 뒤 물을 붓고 끓인다.", "ko"),
    ]
    results = grade(bank, rows, GradeOptions(model="use-multilingual", cache_dir=tmp_path / "c"))
    scores = {s.id: s.total for s in results.students}
    assert scores["right"] >= 1.5 and scores["wrong"] <= 0.2
    evidence = results.students[0].questions[0].answers[0].similarity
    assert evidence is not None and evidence.reference_language == "en" and evidence.cosine > 0.5


def test_the_example_class_ranks_as_its_readme_says(tmp_path: Path) -> None:
    """banks/examples/README.md: correct > partial > gaming, wrong, misconceived > empty."""
    from grader.load.submissions import read_submissions
    from tests.conftest import EXAMPLE_SUBMISSIONS

    read = read_submissions(EXAMPLE_SUBMISSIONS)
    results = grade(load_bank(SEED_BANK), read.rows, GradeOptions(cache_dir=tmp_path))
    total = {student.id: student.total for student in results.students}
    tiers = [
        ("s01", "s02", "s03", "s04", "kim/jiwoo", "s06", "s11"),
        ("s05", "Ана Петрова"),
        ("s10", "s07", "s08", "s12"),
        ("s09",),
    ]
    for higher, lower in itertools.pairwise(tiers):
        assert min(total[s] for s in higher) > max(total[s] for s in lower), (higher, lower, total)
    assert total["s09"] < 0.5
