"""Property-based tests: random banks and answers never crash the loader or the scorer, every
score stays within [0, points], and grading again gives the same results.

Example counts are modest (the whole file runs in seconds); failures print a minimal example.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from grader.bank import Bank, Criterion, Gradable, Keywords, LocalText, Misconception, Rubric
from grader.errors import GraderError
from grader.evidence.match import Match, Ramp
from grader.grading import GradeOptions, grade
from grader.load.loader import load_bank
from grader.load.submissions import Submission, read_submissions
from grader.output.results_json import to_dict
from grader.results import GroupEvidence, Results, TermEvidence
from grader.scoring.inputs import (
    CriterionSignal,
    KeywordSignal,
    MisconceptionSignal,
    Penalty,
    Signals,
)
from grader.scoring.params import ScoringParams
from grader.scoring.rule import score_answer
from tests.conftest import SEED_BANK
from tests.load.test_loader import BANK, RUBRIC

CLOSED = """\
  - id: mc
    type: multiple_choice
    points: 2
    prompt: {en: Which is text-to-text, ko: 어느 것}
    multiple: true
    options:
      - {id: a, text: BERT, credit: -0.5}
      - {id: b, text: T5, credit: 1}
      - {id: c, text: GPT, credit: 0.5}
  - id: num
    type: numeric
    points: 1
    prompt: {en: How many, ko: 몇}
    value: 12.5
    tolerance: 0.5
    units: [GB]
"""
FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LANGUAGES = st.sampled_from([None, "en", "ko", "ja", "ru", "zh", "de", "xx"])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("properties")
    (path / "rubrics").mkdir()
    (path / "banks").mkdir()
    (path / "rubrics" / "r1.yaml").write_text(RUBRIC, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def banks(folder: Path) -> list[Bank]:
    demo = folder / "banks" / "demo.yaml"
    demo.write_text(BANK + CLOSED, encoding="utf-8")
    return [load_bank(demo), load_bank(SEED_BANK)]


def load_or_error(path: Path) -> Bank | None:
    """load_bank's only failure is a GraderError (anything else fails the test)."""
    try:
        return load_bank(path)
    except GraderError as error:
        assert str(error)  # a message to show
        return None


# ---------------------------------------------------------------- the loader

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
BANK_WORDS = st.sampled_from(
    [
        "id",
        "title",
        "languages",
        "questions",
        "type",
        "points",
        "prompt",
        "answers",
        "rubric",
        "steps",
        "criteria",
        "keywords",
        "concept",
        "options",
        "value",
        "en",
        "ko",
        "short_answer",
        "challenge",
        "multiple_choice",
        "numeric",
        "re:(a+)+$",
        "r1",
        "q1",
    ]
)
DOCUMENTS = st.recursive(
    st.one_of(SCALARS, BANK_WORDS),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(BANK_WORDS, st.text(max_size=8)), children, max_size=5),
    ),
    max_leaves=25,
)


@FAST
@given(document=DOCUMENTS)
def test_random_yaml_documents_never_crash_the_loader(folder: Path, document: Any) -> None:
    path = folder / "banks" / "random.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    load_or_error(path)


@FAST
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_never_crash_the_loader(folder: Path, data: bytes) -> None:
    path = folder / "banks" / "bytes.yaml"
    path.write_bytes(data)
    load_or_error(path)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _mutate(document: Any, path: tuple[Any, ...], replacement: Any, delete: bool) -> None:
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement


@FAST
@given(data=st.data())
def test_mutated_valid_banks_and_rubrics_never_crash_the_loader(folder: Path, data) -> None:
    """Delete or replace one or two fields of a valid bank and its rubric."""
    bank = yaml.safe_load(BANK + CLOSED)
    rubric = yaml.safe_load(RUBRIC)
    for document in (bank, rubric):
        for _ in range(data.draw(st.integers(0, 2))):
            paths = _paths(document)
            path = data.draw(st.sampled_from(paths))
            replacement = data.draw(DOCUMENTS)
            _mutate(document, path, replacement, delete=data.draw(st.booleans()))
    (folder / "rubrics" / "r1.yaml").write_text(yaml.safe_dump(rubric), encoding="utf-8")
    path = folder / "banks" / "mutated.yaml"
    path.write_text(yaml.safe_dump(bank, allow_unicode=True), encoding="utf-8")
    try:
        loaded = load_or_error(path)
    finally:
        (folder / "rubrics" / "r1.yaml").write_text(RUBRIC, encoding="utf-8")
    if loaded is not None:  # whatever loads can be graded
        rows = [Submission("s", g, "bidirectional context, T5, 12 GB") for g in loaded.gradables()]
        check_bounds(loaded, grade(loaded, rows, GradeOptions(model="none")))


@FAST
@given(
    data=st.binary(max_size=400)
    | st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=5), min_size=0, max_size=6).map(
        lambda rows: "\n".join(",".join(row) for row in rows).encode("utf-8")
    )
)
def test_random_submission_files_never_crash_the_reader(data: bytes) -> None:
    for name in ("subs.csv", "subs.jsonl"):
        try:
            read = read_submissions(name, data)
        except GraderError as error:
            assert str(error)
            continue
        assert all(row.student and row.question for row in read.rows)


# ---------------------------------------------------------------- the scorer


def check_bounds(bank: Bank, results: Results) -> None:
    for student in results.students:
        assert 0 <= student.total <= student.max + 1e-9 and student.max == bank.points
        for question in student.questions:
            assert 0 <= question.score <= question.points + 1e-9
            for answer in question.answers:
                assert math.isfinite(answer.score)
                assert 0 <= answer.score <= answer.points + 1e-9, (answer.id, answer.score)
                for criterion in answer.criteria:
                    assert 0 <= criterion.credit <= 1 and criterion.score <= criterion.points


def _vocabulary(bank: Bank) -> list[str]:
    words = ["not", "no", "never", "아니다", "않는다", "ない", "не", "нет", ",", ".", "?"]
    for gradable in bank.gradables().values():
        words += gradable.prompt.get("en").split()[:6]
        if gradable.rubric:
            for criterion in gradable.rubric.criteria:
                for groups in criterion.keywords.by_language.values():
                    words += [str(term) for group in groups for term in group.terms[:3]]
        if gradable.closed:
            words += [option.id for option in gradable.closed.options] + ["12.5 GB", "3"]
    return sorted(set(words))


ANY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120
)  # controls, zero-width, bidi, combining marks, every script


def answers(bank: Bank) -> st.SearchStrategy[str]:
    built = st.lists(st.sampled_from(_vocabulary(bank)), max_size=25).map(" ".join)
    return st.one_of(ANY_TEXT, built, st.tuples(built, ANY_TEXT).map("".join))


@st.composite
def submissions(draw: st.DrawFn, bank: Bank) -> list[Submission]:
    gradables = list(bank.gradables())
    rows = []
    for index in range(draw(st.integers(1, 6))):
        student = draw(st.sampled_from(["s1", "s2", "../s3", "=s4"]))
        rows.append(
            Submission(
                student,
                draw(st.sampled_from([*gradables, "q-unknown"])),
                draw(answers(bank)),
                draw(LANGUAGES),
                line=index + 2,
            )
        )
    return rows


@FAST
@given(data=st.data())
def test_random_answers_score_within_bounds_and_regrade_identically(banks, data) -> None:
    bank = data.draw(st.sampled_from(banks))
    rows = data.draw(submissions(bank))
    options = GradeOptions(model="none")
    first = grade(bank, rows, options)
    check_bounds(bank, first)
    assert to_dict(grade(bank, rows, options)) == to_dict(first)  # idempotent


@FAST
@given(data=st.data())
def test_regrading_the_saved_answers_gives_the_same_scores(banks, data) -> None:
    """Grade, then grade the answers as results.json records them (language now declared)."""
    bank = data.draw(st.sampled_from(banks))
    rows = data.draw(submissions(bank))
    first = grade(bank, rows, GradeOptions(model="none"))
    again = [
        Submission(student.id, answer.id, answer.answer, answer.language or None, line=answer.line)
        for student in first.students
        for question in student.questions
        for answer in question.answers
        if answer.line
    ]
    second = grade(bank, again, GradeOptions(model="none"))
    assert [s.total for s in second.students] == [s.total for s in first.students]


UNIT = st.floats(0, 1)
COSINE = st.floats(-1, 1)


@st.composite
def keyword_signal(draw: st.DrawFn) -> KeywordSignal:
    groups = []
    for index in range(draw(st.integers(0, 3))):
        met = draw(st.booleans())
        match = TermEvidence("t", "t", index, index + 1) if met else None
        negated = TermEvidence("t", "t", 9, 10, negated=True) if draw(st.booleans()) else None
        groups.append(GroupEvidence(("t",), met, match, negated))
    return KeywordSignal("en", tuple(groups))


@st.composite
def scoring_case(draw: st.DrawFn) -> tuple[Gradable, Signals, ScoringParams]:
    count = draw(st.integers(0, 3))
    points = [draw(st.floats(0.1, 10)) for _ in range(count)]
    criteria = tuple(Criterion(f"c{i}", p) for i, p in enumerate(points))
    misconceptions = tuple(
        Misconception(f"m{i}", LocalText({"en": "x"}), draw(st.floats(0.1, 20)), Keywords({}))
        for i in range(draw(st.integers(0, 2)))
    )
    rubric = Rubric("r", criteria, misconceptions) if count or misconceptions else None
    gradable = Gradable("q", draw(st.floats(0.1, 20)), LocalText({"en": "?"}), {}, rubric)

    def match() -> Match | None:
        return Match(draw(COSINE), "ref", "en") if draw(st.booleans()) else None

    ids = [c.id for c in criteria]
    signals = Signals(
        "en",
        draw(st.booleans()),
        criteria={
            i: CriterionSignal(
                keywords=draw(keyword_signal()) if draw(st.booleans()) else None,
                match=match(),
                overlap=draw(st.none() | UNIT),
                negated=draw(st.booleans()),
                wrong=match(),
                rubric=rubric is not None,
            )
            for i in (ids or ["model-answer"])
        },
        misconceptions={
            m.id: MisconceptionSignal(
                draw(keyword_signal()), match(), draw(COSINE), draw(st.booleans())
            )
            for m in misconceptions
        },
        answer_match=match(),
        penalties=tuple(Penalty("p", draw(UNIT), "r") for _ in range(draw(st.integers(0, 3)))),
    )
    shipped = ScoringParams.for_model("minilm")
    floor = draw(st.floats(-1, 0.9))
    params = replace(
        shipped,
        ramp=Ramp(floor, draw(st.floats(floor, 1)), floor, draw(st.floats(floor, 1))),
        shift=draw(st.floats(-10, 10)),
        scale=draw(st.floats(0, 10)),
        sharpness=draw(st.floats(0.1, 5)),
    )
    return gradable, signals, params


@settings(max_examples=300, deadline=None)
@given(case=scoring_case())
def test_the_score_arithmetic_stays_within_bounds(case) -> None:
    gradable, signals, params = case
    scored = score_answer(gradable, signals, params, ["en"])
    assert 0 <= scored.score <= round(gradable.points, 4)  # results.json's precision
    for criterion in scored.criteria:
        assert 0 <= criterion.credit <= 1 + 1e-9
    if not signals.answered:
        assert scored.score == pytest.approx(0)
    assume(signals.penalties)
    if any(penalty.factor == 0 for penalty in signals.penalties):
        assert scored.score == pytest.approx(0)


# ---------------------------------------------------------------- through the command line
#
# The strategies that found the cases of issue 14: numbers that are not finite or do not fit a
# float, integers of hundreds of digits, and text with controls, separators, bidi marks, quotes
# and unpaired surrogates. Every command must end in exit 0 or 1 (never 3, a bug), every
# submission row must be graded or reported, and whatever is written must be valid JSON and CSV.

HOSTILE_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**400), 10**400),
    st.sampled_from([0, -1, 0.5, 2, 10**6, 10**6 + 1, 10**15, 1e300, 2**63]),
)
HOSTILE_CHARACTERS = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(
        [
            *["\x00", "\x1b", "\x07", "\x85", "\x9b", "\u2028", "\u2029", "\u202e", "\u200b"],
            *['"', "'", ",", "\n", "\r", "\t", "{", "[", "&", "*", "!", "%", "#", ":", "\ufeff"],
            *["\ud800", "\udfff", "\U00020000"],
        ]
    ),
)
HOSTILE_TEXT = st.text(HOSTILE_CHARACTERS, max_size=30)
HOSTILE_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), HOSTILE_NUMBERS, HOSTILE_TEXT),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(HOSTILE_TEXT, children, max_size=3)
    ),
    max_leaves=8,
)
CLI_EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def cli_exit(*args: str) -> tuple[int, str]:
    """grader.cli.main (exit 3 for any unexpected exception): its exit code and output."""
    import contextlib
    import io
    import signal
    import sys

    import grader.cli

    output = io.StringIO()
    previous = signal.getsignal(signal.SIGTERM)
    argv, sys.argv = sys.argv, ["grader", *args]
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            grader.cli.main()
    except SystemExit as done:
        return int(done.code or 0), output.getvalue()
    finally:
        sys.argv = argv
        signal.signal(signal.SIGTERM, previous)
    raise AssertionError("main() returned without exiting")


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity (JSON has no such numbers)."""
    import json

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON output")

    return json.loads(text, parse_constant=refuse)


def check_outputs(out: Path) -> dict[str, Any]:
    """results.json is strict JSON, grades.csv strict CSV with a row per student."""
    import csv
    import io

    data = strict_json((out / "results.json").read_text(encoding="utf-8"))
    rows = list(
        csv.reader(
            io.StringIO((out / "grades.csv").read_text(encoding="utf-8"), newline=""), strict=True
        )
    )
    assert len(rows) == 1 + len(data["students"])
    assert not list(out.glob(".grader-*"))  # no staging folder left
    return data


HOSTILE_BANK_PATHS = [
    ("questions", 0, "points"),
    ("questions", 0, "prompt"),
    ("questions", 0, "id"),
    ("questions", 0, "answers"),
    ("questions", 1, "points"),
    ("questions", 1, "value"),
    ("questions", 1, "tolerance"),
    ("questions", 2, "options", 0, "credit"),
    ("questions", 2, "options"),
    ("questions", 3, "rubric", "criteria", 0, "points"),
    ("questions", 3, "rubric", "criteria", 0, "keywords", "en"),
    ("questions", 3, "rubric", "misconceptions", 0, "penalty"),
    ("questions", 3, "rubric"),
    ("languages",),
    ("id",),
    ("title",),
]
CLI_BANK = {
    "id": "cli",
    "title": "CLI",
    "languages": ["en"],
    "questions": [
        {"id": "q1", "points": 2, "prompt": "What does BERT read?", "answers": ["both directions"]},
        {
            "id": "n1",
            "type": "numeric",
            "points": 1,
            "prompt": "How many?",
            "value": 12,
            "tolerance": 0.5,
        },
        {
            "id": "m1",
            "type": "multiple_choice",
            "points": 1,
            "prompt": "Which?",
            "options": [{"id": "a", "text": "T5", "credit": 1}, {"id": "b", "text": "BERT"}],
        },
        {
            "id": "r1",
            "points": 2,
            "prompt": "Why?",
            "rubric": {
                "criteria": [{"id": "c1", "points": 2, "keywords": {"en": [["scale", "scaling"]]}}],
                "misconceptions": [{"id": "x", "statement": "BERT generates text", "penalty": 1}],
            },
        },
    ],
}
CLI_SUBMISSIONS = (
    "student,question,answer\ns1,q1,both directions\ns1,n1,12\ns1,m1,a\ns2,r1,scaling\n"
)


@CLI_EXAMPLES
@given(data=st.data())
def test_hostile_banks_through_validate_grade_and_report(tmp_path: Path, data) -> None:
    import copy

    bank = copy.deepcopy(CLI_BANK)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(HOSTILE_BANK_PATHS))
        with contextlib.suppress(KeyError, IndexError, TypeError):  # an earlier change removed it
            _mutate(bank, path, data.draw(HOSTILE_NUMBERS | HOSTILE_VALUES), delete=False)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    bank_path = folder / "bank.yaml"
    bank_path.write_text(yaml.safe_dump(bank, allow_unicode=False), encoding="utf-8")
    subs = folder / "s.csv"
    subs.write_text(CLI_SUBMISSIONS, encoding="utf-8")
    validated, _ = cli_exit("validate", str(bank_path))
    assert validated in (0, 1)
    out = folder / "out"
    graded, shown = cli_exit(
        "grade", str(bank_path), str(subs), "--out", str(out), "--model", "none", "--no-cache"
    )
    assert graded in (0, 1), shown
    assert graded == validated, shown  # a bank that validates grades, one that does not, not
    if graded == 0:
        check_outputs(out)
        reported, shown = cli_exit(
            "report", str(out / "results.json"), "--out", str(folder / "pages")
        )
        assert reported == 0, shown
    else:
        assert not out.exists() or not any(out.iterdir())


def _submission_rows(draw: Any) -> list[list[str]]:
    questions = st.sampled_from(["q1", "n1", "m1", "r1", "q9", "", "Q1 ", "q1\n"]) | HOSTILE_TEXT
    students = st.sampled_from(["s1", "s2", "s3", " s1", "s1\u200b", ""]) | HOSTILE_TEXT
    answers = HOSTILE_TEXT | st.sampled_from(["both directions", "12", "a", "a,b", '"', "scaling"])
    row = st.tuples(students, questions, answers).map(list)
    return [[cell.replace("\x00", "") for cell in item] for item in draw(st.lists(row, max_size=8))]


@CLI_EXAMPLES
@given(data=st.data(), as_jsonl=st.booleans())
def test_hostile_submissions_are_graded_or_reported_row_by_row(
    tmp_path: Path, data, as_jsonl: bool
) -> None:
    import csv
    import io
    import json

    rows = _submission_rows(data.draw)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    bank_path = folder / "bank.yaml"
    bank_path.write_text(yaml.safe_dump(CLI_BANK), encoding="utf-8")
    lines: list[int] = []  # the first line of each row that is not blank
    if as_jsonl:
        subs = folder / "s.jsonl"
        records = []
        for number, (student, question, answer) in enumerate(rows, start=1):
            value = data.draw(st.sampled_from(["text", "hostile"]))
            record = {"student": student, "question": question, "answer": answer}
            if value == "hostile":
                record[data.draw(st.sampled_from(["student", "answer", "score"]))] = data.draw(
                    HOSTILE_VALUES
                )
            records.append(json.dumps(record, ensure_ascii=True, allow_nan=True, default=str))
            lines.append(number)
        subs.write_text("\n".join(records) + "\n", encoding="utf-8")
    else:
        subs = folder / "s.csv"
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["student", "question", "answer"])
        line = 2
        for row in rows:
            chunk = io.StringIO()
            csv.writer(chunk, lineterminator="\n").writerow(row)
            if any(cell.strip() for cell in row):
                lines.append(line)
            line += len(list(io.StringIO(chunk.getvalue(), newline="")))
            text.write(chunk.getvalue())
        try:
            subs.write_text(text.getvalue(), encoding="utf-8")
        except UnicodeEncodeError:  # a surrogate cannot be in a UTF-8 file
            assume(False)
    out = folder / "out"
    graded, shown = cli_exit(
        "grade", str(bank_path), str(subs), "--out", str(out), "--model", "none", "--no-cache"
    )
    assert graded in (0, 1), shown
    if graded == 1:
        return
    results = check_outputs(out)
    answered = {
        answer["line"]
        for student in results["students"]
        for question in student["questions"]
        for answer in question["answers"]
        if answer["line"]
    }
    reported = {problem["line"] for problem in results["problems"]}
    assert set(lines) <= answered | reported, (lines, answered, reported)


@pytest.fixture(scope="module")
def graded_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("graded") / "out"
    code, shown = cli_exit(
        "grade",
        str(SEED_BANK),
        str(SEED_BANK.parent / "examples" / "submissions.csv"),
        "--out",
        str(out),
        "--model",
        "none",
        "--no-cache",
    )
    assert code == 0, shown
    return out / "results.json"


@CLI_EXAMPLES
@given(data=st.data())
def test_hand_edited_results_through_report_review_and_export(
    tmp_path: Path, graded_example: Path, data
) -> None:
    import json

    document = json.loads(graded_example.read_text(encoding="utf-8"))
    paths = _paths(document)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            replacement = data.draw(HOSTILE_NUMBERS | HOSTILE_VALUES)
            _mutate(document, path, replacement, delete=data.draw(st.booleans()))
        except (KeyError, IndexError, TypeError):  # an earlier change removed the path
            continue
        paths = _paths(document)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    edited = folder / "results.json"
    edited.write_text(
        json.dumps(document, ensure_ascii=True, allow_nan=True, default=str), encoding="utf-8"
    )
    for command in (
        ("report", str(edited), "--out", str(folder / "pages")),
        ("review", str(SEED_BANK), str(edited), "--out", str(folder / "pages")),
        ("export", str(edited), "--format", "jsonl", "--out", str(folder / "grades.jsonl")),
        ("export", str(edited), "--format", "canvas-csv", "--out", str(folder / "canvas.csv")),
    ):
        code, shown = cli_exit(*command)
        assert code in (0, 1), (command, shown)
        if code == 1:
            assert "Error: " in shown
    if (folder / "grades.jsonl").exists():
        for line in (folder / "grades.jsonl").read_text(encoding="utf-8").splitlines():
            strict_json(line)
