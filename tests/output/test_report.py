"""HTML reports: golden pages, inert hostile text, no external requests, reveal levels, stats."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import math
import os
import random
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.bank import (
    REVEAL_CHOICES,
    Bank,
    Closed,
    Gradable,
    LocalText,
    Option,
    Question,
    QuestionType,
)
from grader.errors import GraderError
from grader.metrics import pearson
from grader.output import report
from grader.output import statistics as report_stats
from grader.output.answer_views import highlight
from grader.output.class_page import render_class
from grader.output.pages import (
    lang_attr,
    mark_controls,
    number,
    percent,
    plain_controls,
    script_text,
)
from grader.output.results_json import load_results, results_to_json
from grader.output.student_page import render_instructor, render_student
from grader.results import (
    AnswerResult,
    BankInfo,
    CriterionResult,
    Flag,
    GroupEvidence,
    MisconceptionResult,
    Override,
    ProblemRecord,
    QuestionResult,
    Results,
    Similarity,
    StudentResult,
    Summary,
    TermEvidence,
)

GOLDEN = Path(__file__).parents[1] / "golden"
UPDATE_GOLDENS = os.environ.get("UPDATE_GOLDENS") == "1"

# ---------------------------------------------------------------- a small hand-made class

BANK = Bank(
    id="triad",
    title=LocalText({"en": "The Transformer triad", "ko": "트랜스포머 삼각형"}),
    languages=("en", "ko"),
    questions=(
        Question(
            "decoder-shift",
            QuestionType.SHORT_ANSWER,
            4,
            LocalText(
                {
                    "en": "Why did the industry move to decoders?",
                    "ko": "업계는 왜 디코더로 옮겨 갔는가?",
                }
            ),
            answers={
                "en": ("Decoder-only models scale better and show zero-shot abilities.",),
                "ko": ("디코더 전용 모델은 확장이 잘 되고 제로샷 능력을 보인다.",),
            },
            feedback=LocalText({"en": "Scaling and generation are the two big reasons."}),
        ),
        Question(
            "long-doc",
            QuestionType.CHALLENGE,
            5,
            LocalText(
                {
                    "en": "A model must read 100k-token documents.",
                    "ko": "모델이 10만 토큰 문서를 읽어야 한다.",
                }
            ),
            steps=(
                Gradable(
                    "long-doc/bottleneck",
                    3,
                    LocalText({"en": "What is the bottleneck?", "ko": "병목은 무엇인가?"}),
                    {"en": ("Attention cost grows quadratically with the length.",)},
                ),
                Gradable(
                    "long-doc/fix",
                    2,
                    LocalText({"en": "Name a fix.", "ko": "해결책을 하나 쓰시오."}),
                    {"en": ("Sparse or sliding-window attention.",)},
                ),
            ),
        ),
        Question(
            "which-arch",
            QuestionType.MULTIPLE_CHOICE,
            1,
            LocalText({"en": "Which model is text-to-text?", "ko": "텍스트-투-텍스트 모델은?"}),
            closed=Closed(
                options=(
                    Option("a", LocalText({"en": "BERT"}), 0.0),
                    Option("b", LocalText({"en": "T5"}), 1.0),
                )
            ),
        ),
    ),
)

ALICE_DECODER = (
    "Decoder-only models follow scaling laws, so they scale better, and large ones show "
    "zero-shot abilities."
)
ALICE_BOTTLENECK = (
    "Self-attention compares every token with every other token, so its cost grows quadratically "
    "with the length of the document."
)
ERIN_BOTTLENECK = (
    "Self attention compares every token with every other token so its cost grows quadratically "
    "with the length of the document"
)
BOB_DECODER = "디코더 모델은 확장 법칙을 따르지만 양방향이 아니다."
SCALING_CONCEPT = "Decoder-only models keep improving as they are scaled up."


def span(text: str, part: str, **flags: bool) -> TermEvidence:
    start = text.index(part)
    return TermEvidence(part, part, start, start + len(part), **flags)


def answer(
    answer_id: str, points: float, score: float, text: str, language: str = "en", **fields: object
) -> AnswerResult:
    return AnswerResult(
        id=answer_id,
        points=points,
        score=score,
        auto_score=fields.pop("auto_score", score),  # type: ignore[arg-type]
        answer=text,
        language=language if text else "",
        answered=bool(text),
        **fields,  # type: ignore[arg-type]
    )


def model_answer_criterion(points: float, credit: float, overlap: float) -> CriterionResult:
    return CriterionResult(
        "model-answer",
        points,
        credit,
        round(points * credit, 4),
        credit >= 0.5,
        keyword_credit=overlap,
        reason=f"keywords {overlap:.0%}",
    )


def closed_answer(choice: str, language: str = "en") -> AnswerResult:
    credit = 1.0 if choice in ("b", "T5") else 0.0
    criterion = CriterionResult(
        "choice", 1, credit, credit, credit >= 0.5, reason=f"chose {choice} (+{credit:.0%})"
    )
    return answer("which-arch", 1, credit, choice, language, criteria=(criterion,))


def decoder_answer_alice() -> AnswerResult:
    scaling = CriterionResult(
        "scaling",
        2,
        1.0,
        2.0,
        True,
        keyword_language="en",
        keyword_credit=1.0,
        groups=(
            GroupEvidence(
                ("scaling law", "scales better"), True, span(ALICE_DECODER, "scaling laws")
            ),
        ),
        concept=Similarity(0.81, 1.0, SCALING_CONCEPT, "en", 0, 60),
        feedback="Right - scaling laws favour decoders.",
        feedback_language="en",
        reason="keywords 100%; concept similarity 100%",
    )
    zero_shot = CriterionResult(
        "zero-shot",
        2,
        1.0,
        2.0,
        True,
        keyword_language="en",
        keyword_credit=1.0,
        groups=(
            GroupEvidence(
                ("zero-shot", "few-shot"), True, span(ALICE_DECODER, "zero-shot", fuzzy=True)
            ),
        ),
        feedback="Yes: emergent zero-shot abilities.",
        feedback_language="en",
        reason="keywords 100%",
    )
    return answer(
        "decoder-shift",
        4,
        4.0,
        ALICE_DECODER,
        model="minilm",
        criteria=(scaling, zero_shot),
        similarity=Similarity(0.84, 1.0, BANK.questions[0].answers["en"][0], "en"),
        feedback="Scaling and generation are the two big reasons.",
    )


def decoder_answer_bob() -> AnswerResult:
    scaling = CriterionResult(
        "scaling",
        2,
        1.0,
        2.0,
        True,
        keyword_language="ko",
        keyword_credit=1.0,
        groups=(GroupEvidence(("확장 법칙", "스케일링"), True, span(BOB_DECODER, "확장 법칙")),),
        concept=Similarity(0.62, 0.64, "디코더 전용 모델은 규모를 키울수록 계속 좋아진다.", "ko"),
        feedback="맞습니다 - 확장 법칙은 디코더에 유리합니다.",
        feedback_language="ko",
        reason="keywords 100%; concept similarity 64%",
    )
    zero_shot = CriterionResult(
        "zero-shot",
        2,
        0.0,
        0.0,
        False,
        keyword_language="ko",
        keyword_credit=0.0,
        groups=(
            GroupEvidence(("제로샷", "퓨샷"), False),
            GroupEvidence(("양방향",), False, None, span(BOB_DECODER, "양방향", negated=True)),
        ),
        feedback="제로샷 능력을 언급하세요.",
        feedback_language="ko",
        reason="keywords 0%",
    )
    misconception = MisconceptionResult(
        "encoder-generates",
        0.5,
        groups=(GroupEvidence(("디코더 모델",), True, span(BOB_DECODER, "디코더 모델")),),
        feedback="인코더는 텍스트를 직접 생성하지 않습니다.",
        feedback_language="ko",
    )
    return answer(
        "decoder-shift",
        4,
        3.0,
        BOB_DECODER,
        "ko",
        auto_score=1.5,
        model="use-multilingual",
        criteria=(scaling, zero_shot),
        misconceptions=(misconception,),
        similarity=Similarity(0.55, 0.5, BANK.questions[0].answers["ko"][0], "ko"),
        flags=(Flag("near-boundary", "1.5 of 4 is close to the pass mark"),),
        feedback="",
        override=Override(3.0, "Partial credit for the Korean wording", "overrides.csv:2"),
    )


def question(question_id: str, kind: str, points: float, *answers: AnswerResult) -> QuestionResult:
    return QuestionResult(
        question_id, kind, points, round(sum(a.score for a in answers), 4), answers
    )


def student(student_id: str, file_name: str, *questions: QuestionResult) -> StudentResult:
    return StudentResult(
        student_id, file_name, round(sum(q.score for q in questions), 4), 10.0, questions
    )


def unanswered(answer_id: str, points: float) -> AnswerResult:
    return answer(answer_id, points, 0.0, "")


def make_students() -> list[StudentResult]:
    alice = student(
        "alice",
        "alice",
        question("decoder-shift", "short_answer", 4, decoder_answer_alice()),
        question(
            "long-doc",
            "challenge",
            5,
            answer(
                "long-doc/bottleneck",
                3,
                2.7,
                ALICE_BOTTLENECK,
                criteria=(model_answer_criterion(3, 0.9, 0.8),),
                overlap=0.8,
                similarity=Similarity(
                    0.77, 0.94, "Attention cost grows quadratically with the length.", "en"
                ),
            ),
            answer(
                "long-doc/fix",
                2,
                2.0,
                "Use sparse attention or a sliding window.",
                criteria=(model_answer_criterion(2, 1.0, 1.0),),
                overlap=1.0,
            ),
        ),
        question("which-arch", "multiple_choice", 1, closed_answer("b")),
    )
    bob = student(
        "bob",
        "bob",
        question("decoder-shift", "short_answer", 4, decoder_answer_bob()),
        question(
            "long-doc",
            "challenge",
            5,
            answer(
                "long-doc/bottleneck",
                3,
                0.6,
                "메모리",
                "ko",
                criteria=(model_answer_criterion(3, 0.2, 0.0),),
                overlap=0.0,
                flags=(Flag("signals-disagree", "keywords and meaning disagree on model-answer"),),
            ),
            unanswered("long-doc/fix", 2),
        ),
        question("which-arch", "multiple_choice", 1, closed_answer("a", "ko")),
    )
    dave = student(
        "dave",
        "dave",
        question("decoder-shift", "short_answer", 4, unanswered("decoder-shift", 4)),
        question(
            "long-doc",
            "challenge",
            5,
            unanswered("long-doc/bottleneck", 3),
            unanswered("long-doc/fix", 2),
        ),
        question("which-arch", "multiple_choice", 1, unanswered("which-arch", 1)),
    )
    erin = student(
        "erin",
        "erin",
        question(
            "decoder-shift",
            "short_answer",
            4,
            answer(
                "decoder-shift",
                4,
                1.0,
                "Because GPT is newer.",
                criteria=(
                    dataclasses.replace(
                        decoder_answer_alice().criteria[0],
                        credit=0.25,
                        score=0.5,
                        met=False,
                        groups=(),
                        concept=None,
                        feedback="Mention how decoder-only models scale.",
                        reason="whole-answer similarity 25%",
                    ),
                    dataclasses.replace(
                        decoder_answer_alice().criteria[1],
                        credit=0.25,
                        score=0.5,
                        met=False,
                        groups=(),
                        feedback="Mention zero-shot abilities.",
                        reason="whole-answer similarity 25%",
                    ),
                ),
            ),
        ),
        question(
            "long-doc",
            "challenge",
            5,
            answer(
                "long-doc/bottleneck",
                3,
                2.7,
                ERIN_BOTTLENECK,
                criteria=(model_answer_criterion(3, 0.9, 0.8),),
                overlap=0.8,
            ),
            answer(
                "long-doc/fix",
                2,
                1.0,
                "Chunk the document.",
                criteria=(model_answer_criterion(2, 0.5, 0.5),),
                overlap=0.5,
            ),
        ),
        question("which-arch", "multiple_choice", 1, closed_answer("T5")),
    )
    return [alice, bob, dave, erin]


def make_results(students: list[StudentResult] | None = None, **fields: object) -> Results:
    chosen = tuple(students if students is not None else make_students())
    answered = [a for s in chosen for q in s.questions for a in q.answers if a.answered]
    mean = sum(s.total for s in chosen) / len(chosen) if chosen else 0.0
    values: dict[str, object] = {
        "bank": BankInfo(
            "triad", "The Transformer triad", "banks/triad.yaml", "ab" * 32, ("en", "ko"), 10.0
        ),
        "settings": {"model": "auto", "rubric_weight": 0.7},
        "models": {
            "minilm": {"backend": "sentence-transformers"},
            "use-multilingual": {"backend": "tf"},
        },
        "students": chosen,
        "problems": (
            ProblemRecord(
                "submissions.csv",
                9,
                "unknown question 'decoder-shfit'",
                "did you mean 'decoder-shift'?",
            ),
            ProblemRecord(
                "submissions.csv", 4, "duplicate row for (bob, which-arch)", "the last row wins"
            ),
        ),
        "summary": Summary(
            len(chosen), len(answered), sum(1 for a in answered if a.flags), 2, round(mean, 4)
        ),
    }
    values.update(fields)
    return Results(**values)  # type: ignore[arg-type]


HOSTILE_ID = '<script>alert(1)</script>\u202eevil"'
HOSTILE_ANSWER = (
    'Decoders scale. "><img src=x onerror=alert(1)> {{ 7*7 }} {% if true %}X{% endif %} '
    "\u202edesrever <script>alert(1)</script> zero-shot"
)
HOSTILE_FEEDBACK = "<b>bold</b> {{ 7*7 }} \u202e<script>alert(2)</script>"


def hostile_results() -> Results:
    criterion = CriterionResult(
        "scaling",
        4,
        0.5,
        2.0,
        True,
        keyword_credit=0.5,
        groups=(GroupEvidence(("scale",), True, span(HOSTILE_ANSWER, "scale")),),
        concept=Similarity(0.7, 0.8, "<script>alert(3)</script>", "en", 0, 16),
        feedback=HOSTILE_FEEDBACK,
        feedback_language='en" onmouseover="alert(4)',
        reason="<i>reason</i>",
    )
    hostile_answer = answer(
        "decoder-shift",
        4,
        2.0,
        HOSTILE_ANSWER,
        'en"><script>alert(5)</script>',
        criteria=(criterion,),
        flags=(Flag("x", "<script>alert(6)</script>\u202e"),),
        feedback=HOSTILE_FEEDBACK,
        override=Override(2.0, HOSTILE_FEEDBACK, "o.csv:1"),
    )
    hostile = student(
        HOSTILE_ID,
        "evil",
        question("decoder-shift", "short_answer", 4, hostile_answer),
        question(
            "long-doc",
            "challenge",
            5,
            unanswered("long-doc/bottleneck", 3),
            unanswered("long-doc/fix", 2),
        ),
        question("which-arch", "multiple_choice", 1, closed_answer("b")),
    )
    copy = dataclasses.replace(hostile, id=HOSTILE_ID + "2", file_name="evil2")
    return make_results(
        [*make_students(), hostile, copy],
        problems=(ProblemRecord("<script>x.csv", 1, HOSTILE_FEEDBACK, HOSTILE_FEEDBACK),),
    )


# ---------------------------------------------------------------- helpers


class Inventory(HTMLParser):
    """Every start tag with its attributes, and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def inventory(page: str) -> Inventory:
    parser = Inventory()
    parser.feed(page)
    parser.close()
    return parser


EXTERNAL = re.compile(
    r"""(?:src|href|action|xlink:href|poster|data)\s*=\s*["']?\s*(?:https?:|//)""", re.I
)


def assert_self_contained(page: str) -> None:
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:|//)", page, re.I)
    assert "@import" not in page
    for tag, attrs in inventory(page).tags:
        for name in ("src", "href", "action"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "javascript:")), (tag, attrs)


def assert_inert(page: str) -> None:
    found = inventory(page)
    expected_scripts = [script_text()] if '<table class="sortable"' in page else []
    assert [script.strip() for script in found.scripts] == expected_scripts
    for tag, attrs in found.tags:
        assert tag not in {"img", "iframe", "object", "embed"}, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        lang = attrs.get("lang")
        assert lang is None or re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", lang), lang
    assert "\u202e" not in page
    assert "[U+202E]" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def main_of(page: str) -> str:
    """The page's ``<main>`` element: what the page says, without the CSS and script every page
    shares (a style change must not rewrite the goldens; other tests check the head)."""
    found = re.findall(r"<main\b.*?</main>", page, re.S)
    assert len(found) == 1, "a page has exactly one <main>"
    return found[0] + "\n"


def check_golden(name: str, page: str) -> None:
    path = GOLDEN / name
    text = main_of(page)
    if UPDATE_GOLDENS:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), (
        f"{path} is missing: run UPDATE_GOLDENS=1 pytest tests/output/test_report.py"
    )
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"{name} differs from the golden file; if intended: UPDATE_GOLDENS=1 pytest"
    )


# ---------------------------------------------------------------- golden pages


def test_goldens_hold_the_main_element_only() -> None:
    results = make_results()
    bob = next(s for s in results.students if s.id == "bob")
    page = render_student(results, bob, BANK, "missed")
    restyled = page.replace("<style>", "<style>body { color: red; }", 1)
    assert restyled != page and main_of(restyled) == main_of(page)  # a style change: same golden
    changed = page.replace("</main>", "<p>new</p></main>", 1)
    assert main_of(changed) != main_of(page)  # what the page says: a new golden


def test_golden_student_page() -> None:
    results = make_results()
    bob = next(s for s in results.students if s.id == "bob")
    check_golden("student-bob.html", render_student(results, bob, BANK, "missed"))


def test_golden_student_page_reveal_all() -> None:
    results = make_results()
    alice = results.students[0]
    check_golden("student-alice-all.html", render_student(results, alice, BANK, "all"))


def test_golden_class_page() -> None:
    check_golden("class.html", render_class(make_results(), BANK))


def test_golden_instructor_page() -> None:
    results = make_results()
    bob = next(s for s in results.students if s.id == "bob")
    check_golden(
        "instructor-bob.html", render_instructor(results, bob, BANK, "../students/bob.html")
    )


def test_rendering_is_deterministic_and_timestamp_free() -> None:
    results = make_results()
    first = render_class(results, BANK)
    assert first == render_class(make_results(), BANK)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", first)
    stamped = render_class(make_results(created="2025-01-02T03:04:05+00:00"), BANK)
    assert "2025-01-02T03:04:05+00:00" in stamped


# ---------------------------------------------------------------- writing


def test_write_reports_writes_index_and_one_page_per_student(tmp_path: Path) -> None:
    results = make_results()
    written = report.write_reports(results, BANK, tmp_path / "out")
    expected = [tmp_path / "out" / "index.html"] + [
        tmp_path / "out" / folder / f"{s.file_name}.html"
        for s in results.students
        for folder in ("instructor", "students")
    ]
    assert written == expected
    assert all(path.is_file() for path in written)
    index = written[0].read_text(encoding="utf-8")
    for path in written[1:]:
        assert f'href="{path.parent.name}/{path.name}"' in index
        if path.parent.name == "instructor":
            page = path.read_text(encoding="utf-8")
            assert f'href="../students/{path.name}"' in page
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_unsafe_file_names_are_replaced(tmp_path: Path) -> None:
    students = make_students()
    students[0] = dataclasses.replace(students[0], file_name="../../escape")
    written = report.write_reports(make_results(students), None, tmp_path)
    assert all(path.resolve().is_relative_to(tmp_path.resolve()) for path in written)
    assert not (tmp_path.parent / "escape.html").exists()
    assert (tmp_path / "students" / "bob.html").is_file() or any("bob" in p.name for p in written)


def test_unknown_reveal_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="reveal"):
        report.write_reports(make_results(), BANK, tmp_path, reveal="some")


def test_re_render_from_results_json_without_the_bank(tmp_path: Path) -> None:
    results = make_results()
    saved = tmp_path / "results.json"
    saved.write_text(results_to_json(results), encoding="utf-8")
    reloaded = load_results(saved)
    written = report.write_reports(reloaded, None, tmp_path / "html", reveal="all")
    bob_page = (tmp_path / "html" / "students" / "bob.html").read_text(encoding="utf-8")
    assert "<code>decoder-shift</code>" in bob_page
    assert "업계는 왜" not in bob_page  # no bank: no prompts, only ids
    # reveal=all without the bank still shows the closest model answer recorded in the results
    assert "디코더 전용 모델은 확장이 잘 되고" in bob_page
    assert len(written) == 1 + 2 * len(results.students)


def test_streamed_results_json_has_one_student_per_line() -> None:
    """results.json is written in chunks, student by student: the same data as one json.dumps,
    each student on a line of its own."""
    import json

    from grader.output.results_json import results_json_chunks, to_dict

    results = make_results()
    text = "".join(results_json_chunks(results))
    assert text == results_to_json(results) and text.endswith("}\n")
    assert json.loads(text) == json.loads(json.dumps(to_dict(results)))
    lines = text.splitlines()
    for student in results.students:
        (line,) = [line for line in lines if line.lstrip().startswith('{"id":"' + student.id)]
        assert json.loads(line.strip().rstrip(","))["id"] == student.id
    assert '\n "schema": "grader.results/1"' in text
    empty = dataclasses.replace(results, students=())
    assert json.loads(results_to_json(empty))["students"] == []


# ---------------------------------------------------------------- hostile text


def test_hostile_text_is_inert_on_student_pages() -> None:
    results = hostile_results()
    hostile = next(s for s in results.students if s.id == HOSTILE_ID)
    for reveal in REVEAL_CHOICES:
        page = render_student(results, hostile, BANK, reveal)
        assert_inert(page)
        assert_self_contained(page)
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
        assert "{{ 7*7 }}" in page and "{% if true %}X{% endif %}" in page
        assert "49" not in page.split("</style>", 1)[1]  # the template syntax was not evaluated
        assert "onmouseover" not in page.replace("&#34; onmouseover=&#34;", "")


def test_hostile_text_is_inert_on_the_class_page() -> None:
    page = render_class(hostile_results(), BANK)
    assert_inert(page)
    assert_self_contained(page)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;[U+202E]evil&#34;" in page  # the student id
    assert "<bdi>&lt;script&gt;" in page
    assert "{{ 7*7 }}" in page  # the problem text and the similar-pair excerpt


def test_hostile_extra_section_titles_are_escaped() -> None:
    page = render_class(
        make_results(),
        BANK,
        extra_sections=[("<script>t</script>", "<p class='ok'>Regrade diff</p>")],
    )
    assert "&lt;script&gt;t&lt;/script&gt;" in page
    assert "<p class='ok'>Regrade diff</p>" in page  # the caller's HTML is trusted and kept
    assert '<section id="extra-1"' in page


def test_controls_are_marked_not_stripped() -> None:
    assert (
        str(mark_controls("a\u202eb<")) == 'a<span class="ctl" title="U+202E">[U+202E]</span>b&lt;'
    )
    assert plain_controls("x\u2066y\x07") == "x[U+2066]y[U+0007]"
    assert str(mark_controls("line\nnext\ttab")) == "line\nnext\ttab"


def test_language_attributes_are_sanitised() -> None:
    assert lang_attr("ko") == "ko"
    assert lang_attr("zh-Hant") == "zh-Hant"
    assert lang_attr('en" onclick="x') == ""
    assert lang_attr("") == ""


# ---------------------------------------------------------------- self-contained, CSP, contrast


def test_pages_make_no_external_requests(tmp_path: Path) -> None:
    for path in report.write_reports(make_results(), BANK, tmp_path, reveal="all"):
        page = path.read_text(encoding="utf-8")
        assert_self_contained(page)
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
        assert "@media print" in page


def test_negative_control_for_the_external_check() -> None:
    with pytest.raises(AssertionError):
        assert_self_contained('<img src="https://example.org/x.png">')
    with pytest.raises(AssertionError):
        assert_self_contained("<a href='//cdn.example.org'>x</a>")


def test_csp_allows_only_the_page_script() -> None:
    page = render_class(make_results(), BANK)
    script = script_text()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    policy = csp.group(1).replace("&#39;", "'")
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy
    assert f"<script>{script}</script>" in page
    student_page = render_student(make_results(), make_results().students[0], BANK)
    assert "script-src &#39;none&#39;" in student_page and "<script" not in student_page


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_palette_meets_wcag_aa() -> None:
    css = (Path(report.__file__).parent / "templates" / "_style.css.j2").read_text(encoding="utf-8")
    palette = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    text_pairs = [
        ("fg", "bg"),
        ("fg", "panel"),
        ("muted", "bg"),
        ("muted", "panel"),
        ("accent", "bg"),
        ("ok-fg", "ok-bg"),
        ("bad-fg", "bad-bg"),
        ("warn-fg", "warn-bg"),
        ("info-fg", "info-bg"),
        ("fg", "hit-bg"),
        ("fg", "neg-bg"),
        ("fg", "mis-bg"),
        ("fg", "info-bg"),
        ("ok-fg", "bg"),
        ("bad-fg", "bg"),
        ("bad-fg", "panel"),
        ("accent", "panel"),
    ]
    for fg, bg in text_pairs:
        assert contrast(palette[fg], palette[bg]) >= 4.5, (
            fg,
            bg,
            contrast(palette[fg], palette[bg]),
        )
    for graphic in ("bar", "ok-fg", "bad-fg", "mis-line", "hit-line"):
        assert contrast(palette[graphic], palette["bg"]) >= 3.0, graphic
    assert contrast("#777777", "#ffffff") < 4.5  # the check can fail


# ---------------------------------------------------------------- reveal levels and content


def test_reveal_levels() -> None:
    results = make_results()
    bob = next(s for s in results.students if s.id == "bob")
    pages = {level: render_student(results, bob, BANK, level) for level in REVEAL_CHOICES}
    model_answer = "디코더 전용 모델은 확장이 잘 되고"
    missed_feedback = "제로샷 능력을 언급하세요."
    concept = "디코더 전용 모델은 규모를 키울수록"
    assert model_answer not in pages["none"] and model_answer not in pages["missed"]
    assert model_answer in pages["all"]
    assert missed_feedback not in pages["none"]
    assert missed_feedback in pages["missed"] and missed_feedback in pages["all"]
    assert ">zero-shot<" not in pages["none"] and ">zero-shot<" in pages["missed"]
    assert "Criterion 2" not in pages["none"] and "기준 2" in pages["none"]  # Korean labels
    # reveal none says that it hides what was missed
    assert "교수자가 놓친 기준 1개의 내용은 공개하지 않기로 했습니다." in pages["none"]
    assert "공개하지 않기로" not in pages["missed"]
    assert (
        concept not in pages["none"] and concept in pages["missed"]
    )  # met criterion: its key idea shown
    assert "인코더는 텍스트를" in pages["missed"] and "인코더는 텍스트를" not in pages["none"]
    for page in pages.values():  # the rubric's keywords never reach a student
        assert "제로샷</code>" not in page and "확장 법칙</code>" not in page


def test_instructor_page_shows_evidence_override_flags_and_languages() -> None:
    results = make_results()
    bob = next(s for s in results.students if s.id == "bob")
    page = render_instructor(results, bob, BANK)
    # the instructor's labels are in the bank's first language; the answer keeps its own
    assert page.startswith('<!DOCTYPE html>\n<html lang="en" dir="ltr">')
    assert '<div class="answer" lang="ko" dir="auto">' in page
    assert '<mark class="hit" title="scaling: matched">확장 법칙</mark>' in page
    assert '<mark class="neg" title="zero-shot: negated">양방향</mark>' in page
    assert '<mark class="mis" title="Misconception: encoder-generates">디코더 모델</mark>' in page
    assert "Overridden by the instructor" in page and "Automatic score: 1.5" in page
    assert "1.5 of 4 is close to the pass mark" in page and "Needs review" in page
    assert '<p class="prompt" lang="ko" dir="auto">업계는 왜 디코더로 옮겨 갔는가?</p>' in page
    assert "Similarity 0.62" in page
    assert "No answer" in page  # the unanswered step
    assert "How it was scored" in page
    assert "<code>제로샷</code>" in page  # what the missed keyword group expected
    alice = render_instructor(results, results.students[0], BANK)
    assert '<html lang="en"' in alice
    assert "Closest sentence" in alice and "Similarity 0.81" in alice
    assert "spelling tolerated" in alice  # the fuzzy zero-shot match
    assert "T5" in alice  # the chosen option's text
    assert "Scaling and generation are the two big reasons." in alice


INSTRUCTOR_ONLY = (
    "1.5 of 4 is close to the pass mark",  # a flag's reason
    "검토 필요",  # "needs review"
    "자동 채점",  # "automatic score"
    "채점 근거",  # "how it was scored"
    "keywords 100%",  # a criterion's reason (the formula)
    "<mark",  # matched evidence
    "유사도",  # similarity
    "encoder-generates",  # a misconception's id
)


def test_student_page_shows_only_what_a_student_may_see() -> None:
    results = make_results()
    bob = next(s for s in results.students if s.id == "bob")
    page = render_student(results, bob, BANK, "missed")
    assert page.startswith('<!DOCTYPE html>\n<html lang="ko" dir="ltr">')
    for text in INSTRUCTOR_ONLY:
        assert text not in page, text
    assert "교수자가 정한 점수" in page and "Partial credit for the Korean wording" in page
    assert '<div class="answer" lang="ko" dir="auto">디코더 모델은 확장 법칙을' in page
    assert '<p class="prompt" lang="ko" dir="auto">업계는 왜 디코더로 옮겨 갔는가?</p>' in page
    assert "답안 없음" in page  # the unanswered step
    assert "<span>3.6 / 10</span>" not in page and "3.6 / 10" in page  # the total, as shown
    alice = render_student(results, results.students[0], BANK, "missed")
    assert '<html lang="en"' in alice and "How it was scored" not in alice
    assert "T5" in alice and "Scaling and generation are the two big reasons." in alice


def test_challenge_has_a_step_breakdown() -> None:
    results = make_results()
    page = render_instructor(results, results.students[0], BANK)
    breakdown = page.split('<caption class="label">Steps</caption>', 1)[1].split("</table>", 1)[0]
    assert breakdown.index("bottleneck") < breakdown.index("fix")
    assert "2.7 / 3" in breakdown and "2 / 2" in breakdown
    assert '<p class="prompt" lang="en" dir="auto">What is the bottleneck?</p>' in page


def test_highlight_segments() -> None:
    text = "abc def ghi"
    spans = [
        (2, 4, 7, "hit", "x"),
        (1, 5, 11, "neg", "y"),
        (0, 100, 200, "mis", "z"),
        (2, -5, 2, "hit", "w"),
    ]
    segments = highlight(text, spans)
    assert "".join(s.text for s in segments) == text
    # "neg" (priority 1) wins over the overlapping "hit" at 4..7; the out-of-range spans are dropped
    assert [(s.text, s.kind) for s in segments] == [("ab", "hit"), ("c d", ""), ("ef ghi", "neg")]


def test_numbers_for_people() -> None:
    assert [number(v) for v in (3.0, 2.5, 1.3333, -0.0001, None)] == [
        "3",
        "2.5",
        "1.33",
        "0",
        "—",
    ]
    assert percent(0.456) == "46%"


# ---------------------------------------------------------------- class page and statistics


def test_class_page_content() -> None:
    page = render_class(make_results(), BANK)
    assert '<table class="sortable" id="student-table">' in page
    assert '<a href="instructor/bob.html"><bdi>bob</bdi></a>' in page
    assert '<a class="small student-page" href="students/bob.html">' in page
    assert (
        '<svg class="hist"' in page and '<title id="hist-title">Score distribution</title>' in page
    )
    assert "unknown question &#39;decoder-shfit&#39;" in page
    assert "did you mean &#39;decoder-shift&#39;?" in page
    assert "<td><code>long-doc/bottleneck</code></td>" in page  # the near-identical pair
    assert page.count('<a href="instructor/alice.html"><bdi>alice</bdi></a>') == 2
    assert "<code>zero-shot</code>" in page  # most often missed
    assert "Why did the industry move to decoders?" in page


def test_pearson_and_item_rest() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))  # undefined: one side has no spread
    results = make_results()
    two_students = dataclasses.replace(results, students=results.students[:2])
    assert report_stats.item_rest(two_students, 0) is None  # discrimination needs three
    items = [s.questions[0].score for s in results.students]
    rests = [s.total - s.questions[0].score for s in results.students]
    assert report_stats.item_rest(results, 0) == pytest.approx(pearson(items, rests))


def test_question_stats() -> None:
    stats = report_stats.question_stats(make_results())
    decoder, long_doc, which = stats
    assert decoder.mean == pytest.approx((4 + 3 + 0 + 1) / 4)
    assert decoder.difficulty == pytest.approx(2 / 4)
    assert decoder.answered == 3 and decoder.flagged == 1 and decoder.overridden == 1
    assert decoder.most_missed == (
        report_stats.MissedCriterion("zero-shot", 2, 3),
        report_stats.MissedCriterion("scaling", 1, 3),
    )
    assert long_doc.most_missed[0].id == "bottleneck/model-answer"
    assert which.mean == pytest.approx(0.5)
    assert decoder.discrimination is not None and -1 <= decoder.discrimination <= 1


def test_histogram_bins() -> None:
    bins = report_stats.histogram(make_results())
    assert len(bins) == 10 and sum(b.count for b in bins) == 4
    # totals: alice 9.7, bob 3.6, dave 0, erin 5.7 of 10
    assert [b.count for b in bins] == [1, 0, 0, 1, 0, 1, 0, 0, 0, 1]
    full = make_results([dataclasses.replace(make_students()[0], total=10.0)])
    assert report_stats.histogram(full)[-1].count == 1


def test_similar_pairs() -> None:
    pairs, found, exhaustive = report_stats.similar_pairs(make_results())
    assert found == 1
    (pair,) = pairs
    assert (pair.question, pair.first, pair.second) == ("long-doc/bottleneck", "alice", "erin")
    assert pair.similarity >= 95
    short, _, _ = report_stats.similar_pairs(make_results(), min_words=50)
    assert short == []
    many = [
        dataclasses.replace(s, id=f"s{i}", file_name=f"s{i}")
        for i, s in enumerate([make_students()[0]] * 5)
    ]
    capped, total, _ = report_stats.similar_pairs(make_results(many), limit=3)
    assert len(capped) == 3 and total == 2 * 10  # two long answers, ten pairs each
    assert exhaustive


def test_similar_pairs_beyond_the_all_pairs_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many distinct answers: each is compared with its sorted neighbours; same pairs here."""
    base = make_students()
    many = [
        dataclasses.replace(base[i % len(base)], id=f"s{i:03}", file_name=f"s{i:03}")
        for i in range(40)
    ]
    exact = report_stats.similar_pairs(make_results(many), limit=500)
    monkeypatch.setattr(report_stats, "_ALL_PAIRS_UP_TO", 0)
    pairs, found, exhaustive = report_stats.similar_pairs(make_results(many), limit=500)
    assert not exhaustive and (pairs, found) == exact[:2] and found > 0
    page = render_class(make_results(many), BANK)
    assert f"{found}+" in page


def test_close_neighbours_find_edits_at_either_end(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    chooser = random.Random(7)
    words = [
        "token",
        "layer",
        "model",
        "attention",
        "encoder",
        "decoder",
        "mask",
        "cache",
        "head",
        "vector",
    ]
    texts = [" ".join(chooser.choice(words) for _ in range(12)) + f" {n}" for n in range(300)]
    originals = texts[:20]
    texts += ["x" + text[1:] for text in originals[:10]]  # an edit at the start
    texts += [text[:-1] + "y" for text in originals[10:]]  # an edit at the end
    monkeypatch.setattr(report_stats, "_NEIGHBOURS", 2)
    found = {(i, j) for i, j, _ in report_stats._close_neighbours(texts, 90.0)}
    assert {(n, 300 + n) for n in range(20)} <= found


def test_word_count_handles_unspaced_scripts() -> None:
    assert report_stats.word_count("one two three") == 3
    assert report_stats.word_count("次トークン予測で学習したデコーダーはそのまま生成に使え") >= 8
    assert report_stats.normalise("Self-Attention,  IS\tfast!") == "self attention is fast"
    # the grader's own normaliser: a Cyrillic "а" in a Latin word is the Latin letter
    assert report_stats.normalise("Trаnsformer") == report_stats.normalise("Transformer")


# ---------------------------------------------------------------- with the real pipeline


REAL_SUBMISSIONS = """student,question,answer,language
ann,decoder-shift,"Decoder-only models follow scaling laws and large ones solve tasks zero-shot from a prompt.",en
ann,long-doc/bottleneck,"Self-attention compares every token with every other token, so the cost grows quadratically with the length.",en
ben,decoder-shift,"디코더 모델은 확장 법칙을 따르고 제로샷으로 새로운 작업을 풀 수 있다.",ko
ben,long-doc/bottleneck,"Self attention compares every token with every other token so the cost grows quadratically with the length",en
"<b>eve</b>\u202e",text-to-text,"<script>alert(1)</script> {{ 7*7 }} T5 is an encoder-decoder model.",en
"""


@pytest.mark.slow
def test_reports_from_the_real_pipeline(tmp_path: Path) -> None:
    from grader.pipeline import GradeRequest, grade_to_folder, rerender
    from tests.conftest import SEED_BANK

    if not SEED_BANK.is_file():
        pytest.skip("the seed bank is not there yet")
    submissions = tmp_path / "submissions.csv"
    submissions.write_text(REAL_SUBMISSIONS, encoding="utf-8")
    request = GradeRequest(SEED_BANK, str(submissions), tmp_path / "out", model="none")
    outcome = grade_to_folder(request)
    pages = [
        path for path in outcome.written if path.suffix == ".html" and "review" not in path.parts
    ]
    assert len(pages) == 1 + 2 * len(outcome.results.students) == 7
    index = pages[0].read_text(encoding="utf-8")
    assert "long-doc/bottleneck" in index.split('id="pairs"')[1]  # ann and ben wrote the same
    for path in pages:
        page = path.read_text(encoding="utf-8")
        assert_self_contained(page)
        assert "<script>alert" not in page and "\u202e" not in page
    ben = (tmp_path / "out" / "instructor" / "ben.html").read_text(encoding="utf-8")
    assert '<mark class="hit"' in ben and 'lang="ko"' in ben
    ben = (tmp_path / "out" / "students" / "ben.html").read_text(encoding="utf-8")
    # one Korean and one English answer: the tie goes to the bank's first language
    assert "<mark" not in ben and '<html lang="en"' in ben and 'class="answer" lang="ko"' in ben
    again = rerender(tmp_path / "out" / "results.json", tmp_path / "again", None, "none")
    assert [path.name for path in again] == [path.name for path in pages]


def test_an_empty_class_still_renders(tmp_path: Path) -> None:
    written = report.write_reports(make_results([]), None, tmp_path)
    assert written == [tmp_path / "index.html"]
    page = written[0].read_text(encoding="utf-8")
    assert "No near-identical answers." in page and "<tbody>" in page
    assert_self_contained(page)


def test_many_students_render_quickly(tmp_path: Path) -> None:
    import time

    base = make_students()
    many = [
        dataclasses.replace(base[i % len(base)], id=f"s{i:03}", file_name=f"s{i:03}")
        for i in range(200)
    ]
    started = time.perf_counter()
    written = report.write_reports(make_results(many), BANK, tmp_path)
    elapsed = time.perf_counter() - started
    assert len(written) == 401
    pairs, found, _ = report_stats.similar_pairs(make_results(many))
    assert len(pairs) == report_stats.MAX_PAIRS and found > report_stats.MAX_PAIRS
    assert "Showing 50 of" in written[0].read_text(encoding="utf-8")
    assert elapsed < 20, elapsed


def test_close_texts_find_every_pair_past_one_block() -> None:
    """The blocked comparison (each text with the later ones, never itself) finds the same pairs
    as comparing every pair one by one, with more texts than one block holds."""
    from rapidfuzz import fuzz

    rng = random.Random(5)
    words = [
        "encoder",
        "decoder",
        "attention",
        "scaling",
        "token",
        "model",
        "context",
        "layer",
        "head",
        "mask",
    ]
    bases = [" ".join(rng.choices(words, k=12)) for _ in range(400)]
    texts = sorted(
        {
            base if rng.random() < 0.5 else base.replace(" ", "  ", 1) + rng.choice(words)
            for base in bases
            for _ in range(3)
        }
    )
    assert len(texts) > 2 * report_stats._PAIR_BLOCK
    groups = [[(None, None, text)] for text in texts]
    found = {(i, j): score for i, j, score in report_stats._close_texts(groups, 90.0, True)}
    expected = {
        (i, j): fuzz.ratio(texts[i], texts[j])
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if fuzz.ratio(texts[i], texts[j]) >= 90.0
    }
    assert found.keys() == expected.keys() and expected
    assert list(found.values()) == pytest.approx([expected[key] for key in found], abs=1e-3)


def test_similar_pairs_compare_the_start_of_huge_answers_and_never_a_text_with_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One 5 MB answer took 226 s, mostly comparing the text with itself."""
    from rapidfuzz import process

    calls: list[tuple[list[str], list[str]]] = []
    real_cdist = process.cdist

    def spying_cdist(rows, columns, **options):  # type: ignore[no-untyped-def]
        calls.append((list(rows), list(columns)))
        return real_cdist(rows, columns, **options)

    monkeypatch.setattr(process, "cdist", spying_cdist)
    body = "the decoder predicts the next token and scales with data " * 60_000  # 3.5 MB
    base = make_students()
    huge = [
        dataclasses.replace(
            base[0],
            id=name,
            file_name=name,
            questions=tuple(
                dataclasses.replace(
                    q,
                    answers=tuple(dataclasses.replace(a, answer=start + body) for a in q.answers),
                )
                for q in base[0].questions
            ),
        )
        for name, start in (("s1", "one "), ("s2", "two "), ("s3", "three "))
    ]
    pairs, found, exhaustive = report_stats.similar_pairs(make_results(huge))
    answered = [a for q in base[0].questions for a in q.answers if a.answered]
    assert exhaustive and found == 3 * len(answered)  # three pairs for each of the answers
    assert min(pair.similarity for pair in pairs) > 99  # alike in their first 2,000 characters
    assert calls
    for rows, columns in calls:
        assert all(len(text) <= report_stats.MAX_PAIR_CHARS for text in rows + columns)
        assert not {id(text) for text in rows} & {id(text) for text in columns}
