"""Answer groups and the instructor review pages."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from grader.bank import Bank
from grader.grading import GradeOptions, grade
from grader.load.loader import load_bank
from grader.load.submissions import read_submissions
from grader.results import Results
from grader.review.groups import (
    AnswerGroup,
    answer_groups,
    exact_group_id,
    group_key,
    split_group_id,
)
from grader.review.pages import review_file_names, write_review_pages

# ---------------------------------------------------------------- a small class, shared by the
# review, override and diff tests

BANK_YAML = """\
id: mini
title: {en: Mini quiz}
languages: [en]
questions:
  - id: t2t
    type: short_answer
    points: 2
    prompt: {en: "Which model casts every task as text-to-text, and what is its architecture?"}
    answers: {en: T5 - an encoder-decoder Transformer.}
    rubric:
      criteria:
        - id: model
          points: 1
          keywords: {en: [[T5, Text-to-Text Transfer Transformer]]}
        - id: architecture
          points: 1
          keywords: {en: [[encoder-decoder, seq2seq]]}
  - id: long-doc
    type: challenge
    prompt: {en: A model must read long documents.}
    steps:
      - id: bottleneck
        points: 2
        prompt: {en: "What is the bottleneck?"}
        answers: {en: Attention cost grows quadratically with sequence length.}
        rubric:
          criteria:
            - id: quadratic
              points: 2
              keywords: {en: [[quadratic, "n^2"], [attention]]}
      - id: fix
        points: 1
        prompt: {en: Name a fix.}
        answers: {en: Use sparse or linear attention.}
"""

CLASS_CSV = """\
student,question,answer
alice,t2t,T5 is an encoder-decoder.
bob,t2t,t5 is an   ENCODER-decoder.
dave,t2t,T5 is an encoder–decoder
carol,t2t,BERT
frank,t2t,The Text-to-Text Transfer Transformer is an encoder-decoder.
erin,t2t,"   "
alice,long-doc/bottleneck,Attention is quadratic in length.
bob,long-doc/bottleneck,attention is quadratic in length.
carol,long-doc/bottleneck,Memory.
frank,long-doc/bottleneck,Attention is quadratic in length
alice,long-doc/fix,sparse attention
dave,long-doc/fix,"<script>alert('x')</script> linear attention"
frank,long-doc/fix,"<img src=x onerror=alert(1)> sparse attention \u202eevil"
"""
# One more answer, in a language the bank does not use: flagged (unexpected-language) whatever the
# scoring defaults, for the tests of flagged groups.
FLAGGED_ROW = "gina,long-doc/fix,희소 어텐션을 쓴다\n"


def write_class(
    folder: Path, bank_yaml: str = BANK_YAML, csv: str = CLASS_CSV
) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    bank_path = folder / "bank.yaml"
    bank_path.write_text(bank_yaml, encoding="utf-8")
    csv_path = folder / "subs.csv"
    csv_path.write_text(csv, encoding="utf-8")
    return bank_path, csv_path


def grade_class(
    folder: Path, bank_yaml: str = BANK_YAML, csv: str = CLASS_CSV
) -> tuple[Bank, Results]:
    """Grade the class with keywords only (fast, deterministic)."""
    bank_path, csv_path = write_class(folder, bank_yaml, csv)
    bank = load_bank(bank_path)
    submissions = read_submissions(csv_path)
    results = grade(
        bank, submissions.rows, GradeOptions(model="none"), submissions.problems, str(csv_path)
    )
    return bank, results


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bank, Results]:
    return grade_class(tmp_path_factory.mktemp("class"))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def by_members(groups: list[AnswerGroup]) -> dict[tuple[str, ...], AnswerGroup]:
    return {group.members: group for group in groups}


# ---------------------------------------------------------------- group keys and ids


def test_group_key_is_the_normalised_text_without_edge_punctuation() -> None:
    assert group_key("  T5 is an ENCODER–decoder.  ") == "t5 is an encoder-decoder"
    assert group_key("Ｔ５!") == "t5"
    assert group_key(" ... ") == ""
    assert group_key("") == ""


def test_group_ids() -> None:
    assert exact_group_id("t2t", "T5!") == f"t2t#{digest('t5')}"
    assert exact_group_id("long-doc/fix", "   ") == "long-doc/fix#empty"
    assert split_group_id("long-doc/fix#empty") == ("long-doc/fix", "#", "empty")
    assert split_group_id("t2t~abc") == ("t2t", "~", "abc")
    assert split_group_id("t2t") is None
    assert split_group_id("t2t#") is None


# ---------------------------------------------------------------- grouping the class


def test_identical_normalised_texts_are_grouped(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    groups = answer_groups(results)
    assert list(groups) == ["t2t", "long-doc/bottleneck", "long-doc/fix"]
    t2t = groups["t2t"]
    same = t2t[0]  # largest first
    assert same.members == ("alice", "bob", "dave")
    assert same.id == f"t2t#{digest('t5 is an encoder-decoder')}"
    assert same.scores == pytest.approx((2.0, 2.0, 2.0))
    assert same.auto_scores == pytest.approx((2.0, 2.0, 2.0))
    assert same.points == pytest.approx(2.0)
    assert same.variants == (same.id,)
    assert not same.similar
    # the most common spelling is shown; here all differ, so the first student's
    assert same.representative == "T5 is an encoder-decoder."
    assert same.representative_student == "alice"
    singles = {group.members for group in t2t[1:]}
    assert singles == {("carol",), ("frank",), ("erin",)}
    assert sorted(len(group.members) for group in t2t) == [1, 1, 1, 3]


def test_every_answer_is_in_exactly_one_group(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    groups = answer_groups(results)
    students = sorted(student.id for student in results.students)
    for listed in groups.values():
        members = sorted(student for group in listed for student in group.members)
        assert members == students
        sizes = [group.size for group in listed]
        assert sizes == sorted(sizes, reverse=True)


def test_empty_answers_form_their_own_group(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    groups = {group.id: group for group in answer_groups(results)["long-doc/fix"]}
    empty = groups["long-doc/fix#empty"]
    assert empty.members == ("bob", "carol", "erin")  # not answered at all
    assert (
        empty.empty
        and empty.representative == ""
        and empty.scores == pytest.approx((0.0, 0.0, 0.0))
    )
    blank = {group.id: group for group in answer_groups(results)["t2t"]}["t2t#empty"]
    assert blank.members == ("erin",)  # a blank answer counts as empty


def test_flagged_groups_are_marked(tmp_path: Path) -> None:
    _bank, results = grade_class(tmp_path, csv=CLASS_CSV + FLAGGED_ROW)
    answers = {
        (student.id, answer.id): answer
        for student in results.students
        for question in student.questions
        for answer in question.answers
    }
    for listed in answer_groups(results).values():
        for group in listed:
            flags = [answers[(student, group.gradable)].flags for student in group.members]
            assert group.flagged == any(flags)
            assert group.flag_codes == tuple(
                sorted({flag.code for found in flags for flag in found})
            )
    assert any(group.flagged for listed in answer_groups(results).values() for group in listed)


def test_group_ids_are_stable_when_the_class_changes(
    tmp_path: Path, graded: tuple[Bank, Results]
) -> None:
    _bank, results = graded
    more = CLASS_CSV + "zoe,t2t,T5 IS AN ENCODER-DECODER\n"
    _bank2, regraded = grade_class(tmp_path, csv=more)
    before = {group.id: group for group in answer_groups(results)["t2t"]}
    after = {group.id: group for group in answer_groups(regraded)["t2t"]}
    assert set(before) == set(after)
    same = f"t2t#{digest('t5 is an encoder-decoder')}"
    assert after[same].members == ("alice", "bob", "dave", "zoe")


def _toy_embed(texts: list[str]) -> np.ndarray:
    """Vectors by hand: answers naming T5 point (almost) the same way; every other text gets a
    direction of its own, derived from its words."""
    rows = []
    for text in texts:
        lowered = text.lower()
        if "t5" in lowered or "text-to-text" in lowered:
            rows.append([1.0, 0.05 * len(lowered) / 60] + [0.0] * 30)
        else:
            seed = int(hashlib.sha256(lowered.encode("utf-8")).hexdigest()[:8], 16)
            rows.append([0.0, 0.0, *np.random.default_rng(seed).normal(size=30).tolist()])
    return np.array(rows, dtype=np.float32)


def test_embeddings_merge_close_answers(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return _toy_embed(texts)

    groups = answer_groups(results, embed=embed, threshold=0.99)
    assert len(calls) == 1  # one pass for every gradable
    assert "" not in calls[0]  # empty answers are not embedded
    t2t = by_members(groups["t2t"])
    merged = t2t[("alice", "bob", "dave", "frank")]
    exact = f"t2t#{digest('t5 is an encoder-decoder')}"
    assert merged.id == f"t2t~{digest('t5 is an encoder-decoder')}"
    assert merged.similar
    assert merged.variants[0] == exact and len(merged.variants) == 2
    assert merged.representative == "T5 is an encoder-decoder."
    assert set(t2t) == {("alice", "bob", "dave", "frank"), ("carol",), ("erin",)}


def test_threshold_keeps_distant_answers_apart(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    with_embeddings = answer_groups(results, embed=_toy_embed, threshold=1.0)
    without = answer_groups(results)
    for gradable, listed in without.items():
        assert {g.members for g in with_embeddings[gradable]} == {g.members for g in listed}
    with pytest.raises(ValueError, match="threshold"):
        answer_groups(results, embed=_toy_embed, threshold=0.0)


def test_embedder_with_wrong_shape_is_an_error(graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    with pytest.raises(ValueError, match="shape"):
        answer_groups(results, embed=lambda texts: np.ones((1, 3), dtype=np.float32))


@pytest.mark.slow
def test_real_embedder_groups_paraphrases(tmp_path: Path) -> None:
    from grader.evidence.embedding import load_embedder

    csv = """\
student,question,answer
a1,t2t,T5 is an encoder-decoder model.
a2,t2t,T5 is an encoder-decoder model
a3,t2t,The T5 model is an encoder-decoder.
a4,t2t,T5 uses an encoder and a decoder.
b1,t2t,BERT
c1,t2t,GPT-3 is a decoder-only model.
"""
    _bank, results = grade_class(tmp_path, csv=csv)
    embedder = load_embedder("minilm", device="cpu")
    groups = by_members(answer_groups(results, embed=embedder.encode)["t2t"])
    assert set(groups) == {("a1", "a2", "a3", "a4"), ("b1",), ("c1",)}
    merged = groups[("a1", "a2", "a3", "a4")]
    assert merged.id == f"t2t~{digest('t5 is an encoder-decoder model')}"
    assert len(merged.variants) == 3
    assert merged.representative_student == "a1"


# ---------------------------------------------------------------- review pages


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name in ("href", "src", "action", "srcset", "data", "poster") and value is not None:
                self.urls.append(value)
            if name == "id" and value:
                self.ids.add(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_review_pages_are_written(tmp_path: Path, graded: tuple[Bank, Results]) -> None:
    bank, results = graded
    groups = answer_groups(results)
    written = write_review_pages(results, groups, bank, tmp_path)
    names = review_file_names(["t2t", "long-doc/bottleneck", "long-doc/fix"])
    expected = [tmp_path / "review" / f"{names[g]}.html" for g in names] + [
        tmp_path / "review" / "index.html"
    ]
    assert written == expected
    assert all(path.is_file() for path in written)
    assert names["t2t"] == "t2t" and "/" not in names["long-doc/fix"]
    index = _parse(tmp_path / "review" / "index.html")
    assert {f"{name}.html" for name in names.values()} <= set(index.urls)
    assert not list((tmp_path / "review").glob(".*.tmp"))  # atomic writes leave nothing behind


def test_review_pages_make_no_external_requests(
    tmp_path: Path, graded: tuple[Bank, Results]
) -> None:
    bank, results = graded
    for path in write_review_pages(results, answer_groups(results), bank, tmp_path):
        page = _parse(path)
        assert page.scripts == 0
        for url in page.urls:
            assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", url, re.IGNORECASE), (path, url)
            if url.startswith("#"):
                assert url[1:] in page.ids, (path, url)
        text = path.read_text(encoding="utf-8")
        assert "Content-Security-Policy" in text and "default-src &#39;none&#39;" in text
        assert "@import" not in text and "url(" not in text


def test_review_pages_escape_hostile_answers(tmp_path: Path, graded: tuple[Bank, Results]) -> None:
    bank, results = graded
    write_review_pages(results, answer_groups(results), bank, tmp_path)
    names = review_file_names(["t2t", "long-doc/bottleneck", "long-doc/fix"])
    text = (tmp_path / "review" / f"{names['long-doc/fix']}.html").read_text(encoding="utf-8")
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "\u202e" not in text and "[U+202E]" in text


def test_hostile_student_ids_are_escaped(tmp_path: Path) -> None:
    csv = 'student,question,answer\n"<b onmouseover=alert(1)>x</b>",t2t,T5\n"../../etc",t2t,T5\n'
    bank, results = grade_class(tmp_path / "in", csv=csv)
    written = write_review_pages(results, answer_groups(results), bank, tmp_path / "out")
    assert all(path.parent == tmp_path / "out" / "review" for path in written)
    text = (tmp_path / "out" / "review" / "t2t.html").read_text(encoding="utf-8")
    assert "<b onmouseover" not in text and "&lt;b onmouseover=alert(1)&gt;x&lt;/b&gt;" in text


def test_needs_review_comes_first_and_groups_largest_first(tmp_path: Path) -> None:
    bank, results = grade_class(tmp_path / "class", csv=CLASS_CSV + FLAGGED_ROW)
    flagged = {
        student.id
        for student in results.students
        for question in student.questions
        for answer in question.answers
        if answer.id == "long-doc/fix" and answer.flags
    }
    assert flagged, "the class needs a flagged answer for this test"
    write_review_pages(results, answer_groups(results), bank, tmp_path)
    names = review_file_names(["t2t", "long-doc/bottleneck", "long-doc/fix"])
    text = (tmp_path / "review" / f"{names['long-doc/fix']}.html").read_text(encoding="utf-8")
    review_at, groups_at = text.index('id="needs-review"'), text.index('id="groups"')
    assert review_at < groups_at
    review_part = text[review_at:groups_at]
    for student in flagged:
        assert f"<bdi>{student}</bdi>" in review_part
    sizes = [int(size) for size in re.findall(r"· <b>(\d+)</b> answers?", text[groups_at:])]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == len(results.students)
    t2t = (tmp_path / "review" / "t2t.html").read_text(encoding="utf-8")
    assert "Which model casts every task as text-to-text" in t2t  # the prompt, from the bank
    assert 'href="../instructor/alice.html"' in t2t


def test_review_pages_without_the_bank(tmp_path: Path, graded: tuple[Bank, Results]) -> None:
    _bank, results = graded
    written = write_review_pages(results, answer_groups(results), None, tmp_path)
    assert "Mini quiz" in written[-1].read_text(encoding="utf-8")


def test_a_gradable_called_index_does_not_replace_the_index() -> None:
    names = review_file_names(["index", "Index.x", "q"])
    assert names["index"].casefold() != "index"
    assert len({name.casefold() for name in names.values()}) == 3
