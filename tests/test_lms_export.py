from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.lms_export import export_grades, load_roster, write_export
from grader.results import (
    AnswerResult,
    BankInfo,
    Override,
    QuestionResult,
    Results,
    StudentResult,
    Summary,
    results_to_json,
)

FIXTURES = Path(__file__).parent / "fixtures" / "lms"
ROSTER = FIXTURES / "roster.csv"
QUESTIONS = (
    ("decoder-shift", 4.0, ("decoder-shift",)),
    ("long-doc", 6.0, ("long-doc/a", "long-doc/b")),
)


def _answer(answer_id: str, points: float, score: float, auto: float | None = None) -> AnswerResult:
    override = Override(score, "regraded", "overrides.csv:2") if auto is not None else None
    return AnswerResult(
        id=answer_id,
        points=points,
        score=score,
        auto_score=score if auto is None else auto,
        answer="text",
        language="en",
        answered=True,
        override=override,
    )


def _student(
    student_id: str, scores: dict[str, float], overridden: dict[str, float] | None = None
) -> StudentResult:
    """A student with these final scores; ``overridden``: the auto scores before overrides."""
    overridden = overridden or {}
    questions = []
    for question_id, points, parts in QUESTIONS:
        share = points / len(parts)
        answers = tuple(_answer(part, share, scores[part], overridden.get(part)) for part in parts)
        questions.append(
            QuestionResult(
                question_id, "short_answer", points, sum(a.score for a in answers), answers
            )
        )
    total = sum(q.score for q in questions)
    return StudentResult(student_id, student_id, total, 10.0, tuple(questions))


def _results(*students: StudentResult) -> Results:
    bank = BankInfo(
        "transformer-triad", "The Transformer triad", "banks/t.yaml", "0" * 64, ("en",), 10.0
    )
    return Results(bank, {}, {}, students, (), Summary(len(students), 0, 0, 0, 0.0))


RESULTS = _results(
    # s1's decoder-shift was overridden from 1.0 to 3.5: the export must use 3.5.
    _student(
        "s1",
        {"decoder-shift": 3.5, "long-doc/a": 3.0, "long-doc/b": 1.333333},
        {"decoder-shift": 1.0},
    ),
    _student("s2", {"decoder-shift": 4.0, "long-doc/a": 0.0, "long-doc/b": 0.0}),
    _student("s9", {"decoder-shift": 2.0, "long-doc/a": 1.5, "long-doc/b": 1.5}),
)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# ---------------------------------------------------------------- Moodle


def test_moodle_csv_with_email_roster() -> None:
    result = export_grades(RESULTS, "moodle-csv", ROSTER)
    assert result.text == (
        "email,decoder-shift,long-doc\r\n"
        "ana@example.edu,3.5,4.33\r\n"
        "ben@example.edu,4,0\r\n"
        "cleo@example.edu,,\r\n"
        "s9,2,3\r\n"
    )
    assert result.unmatched == ["s9"]


def test_moodle_csv_total_and_idnumber(write) -> None:
    roster = write("r.csv", "student,idnumber\ns2,2002\ns1,1001\n")
    result = export_grades(RESULTS, "moodle-csv", roster, items="both")
    assert result.text == (
        "idnumber,decoder-shift,long-doc,transformer-triad\r\n"
        "2002,4,0,4\r\n"
        "1001,3.5,4.33,7.83\r\n"
        "s9,2,3,5\r\n"
    )
    total_only = export_grades(RESULTS, "moodle-csv", roster, items="total")
    assert total_only.text.splitlines()[:2] == ["idnumber,transformer-triad", "2002,4"]


def test_moodle_csv_without_roster_uses_student_ids() -> None:
    result = export_grades(RESULTS, "moodle-csv")
    assert result.text == "idnumber,decoder-shift,long-doc\r\ns1,3.5,4.33\r\ns2,4,0\r\ns9,2,3\r\n"
    assert result.unmatched == []


def test_moodle_identifier_must_be_in_the_roster(write) -> None:
    roster = write("r.csv", "student,email\ns1,a@x\n")
    assert export_grades(RESULTS, "moodle-csv", roster, identifier="email").text.startswith(
        "email,"
    )
    with pytest.raises(GraderError, match=r"r\.csv:1: the roster has no 'idnumber' column"):
        export_grades(RESULTS, "moodle-csv", roster, identifier="idnumber")
    with pytest.raises(GraderError, match="unknown Moodle identifier 'username'"):
        export_grades(RESULTS, "moodle-csv", roster, identifier="username")


# ---------------------------------------------------------------- Canvas


def test_canvas_csv_layout() -> None:
    result = export_grades(RESULTS, "canvas-csv", ROSTER)
    assert result.text == (
        "Student,ID,SIS User ID,SIS Login ID,Section,"
        "transformer-triad: decoder-shift,transformer-triad: long-doc\r\n"
        "Points Possible,,,,,4,6\r\n"
        '"Lee, Ana",1201,A-1,ana,Sec 1,3.5,4.33\r\n'
        '"Kim, Ben",1202,A-2,ben,Sec 2,4,0\r\n'
        '"Ode, Cleo",1203,A-3,cleo,Sec 1,,\r\n'
        "s9,,s9,,,2,3\r\n"
    )
    assert result.unmatched == ["s9"]


def test_canvas_csv_total_column() -> None:
    rows = _rows(export_grades(RESULTS, "canvas-csv", items="total").text)
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "transformer-triad",
    ]
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    assert rows[2] == ["s1", "", "s1", "", "", "7.83"]


# ---------------------------------------------------------------- JSON Lines


def test_jsonl_has_one_object_per_student_per_question() -> None:
    result = export_grades(RESULTS, "jsonl", ROSTER)
    records = [json.loads(line) for line in result.text.splitlines()]
    assert len(records) == 4 * 2
    assert records[0] == {
        "student": "s1",
        "name": "Lee, Ana",
        "email": "ana@example.edu",
        "canvas_id": "1201",
        "sis_user_id": "A-1",
        "sis_login_id": "ana",
        "section": "Sec 1",
        "question": "decoder-shift",
        "points": 4,
        "score": 3.5,
        "answered": True,
        "overridden": True,
    }
    assert records[1]["question"] == "long-doc" and records[1]["score"] == pytest.approx(4.33)
    assert records[4]["student"] == "s3" and records[4]["score"] is None
    assert records[4]["answered"] is False
    assert records[6] == {
        "student": "s9",
        "question": "decoder-shift",
        "points": 4,
        "score": 2,
        "answered": True,
        "overridden": False,
    }
    assert result.unmatched == ["s9"]


# ---------------------------------------------------------------- spreadsheet safety


EVIL = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(1+1)"]


def test_every_text_cell_is_neutralised(write) -> None:
    lines = ["student,name,email,sis_user_id,section"]
    for index, evil in enumerate(EVIL):
        quoted = '"' + evil.replace('"', '""') + '"'
        lines.append(f"s{index},{quoted},{quoted},{quoted},{quoted}")
    roster = write("evil.csv", "\n".join(lines) + "\n")
    scores = {"decoder-shift": 1, "long-doc/a": 0, "long-doc/b": 0}
    # Students without a roster row are written with their own ids, which may be hostile too.
    results = _results(
        *(_student(sid, scores) for sid in ("\tTAB", "\rCR", '=HYPERLINK("http://x")'))
    )
    canvas = export_grades(results, "canvas-csv", roster)
    assert canvas.text == (
        "Student,ID,SIS User ID,SIS Login ID,Section,"
        "transformer-triad: decoder-shift,transformer-triad: long-doc\r\n"
        "Points Possible,,,,,4,6\r\n"
        "'=cmd|' /C calc'!A0,,'=cmd|' /C calc'!A0,,'=cmd|' /C calc'!A0,,\r\n"
        "'+1,,'+1,,'+1,,\r\n"
        "'-2,,'-2,,'-2,,\r\n"
        "'@SUM(1+1),,'@SUM(1+1),,'@SUM(1+1),,\r\n"
        "'\tTAB,,'\tTAB,,,1,0\r\n"
        '"\'\rCR",,"\'\rCR",,,1,0\r\n'
        '"\'=HYPERLINK(""http://x"")",,"\'=HYPERLINK(""http://x"")",,,1,0\r\n'
    )
    assert canvas.unmatched == ["\tTAB", "\rCR", '=HYPERLINK("http://x")']
    moodle = export_grades(results, "moodle-csv", roster).text
    assert moodle == (
        "email,decoder-shift,long-doc\r\n"
        "'=cmd|' /C calc'!A0,,\r\n"
        "'+1,,\r\n"
        "'-2,,\r\n"
        "'@SUM(1+1),,\r\n"
        "'\tTAB,1,0\r\n"
        '"\'\rCR",1,0\r\n'
        '"\'=HYPERLINK(""http://x"")",1,0\r\n'
    )
    for text in (canvas.text, moodle):
        cells = [cell for row in _rows(text) for cell in row]
        assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]


# ---------------------------------------------------------------- roster and writing


def test_roster_is_read_with_its_identity_columns() -> None:
    roster = load_roster(ROSTER)
    assert roster.columns == (
        "student",
        "name",
        "email",
        "canvas_id",
        "sis_user_id",
        "sis_login_id",
        "section",
    )
    assert [entry.student for entry in roster.entries] == ["s1", "s2", "s3"]
    assert roster.entries[2].line == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"r\.csv:1: the roster is empty"),
        (
            "student,e-mail\ns1,a@x\n",
            r"r\.csv:1: unknown roster column 'e-mail' \(did you mean 'email'\?\)",
        ),
        ("name,email\nAna,a@x\n", r"r\.csv:1: the roster has no 'student' column"),
        (
            "student,email\ns1,a@x\ns1,b@x\n",
            r"r\.csv:3: student 's1' is listed twice \(first on line 2\)",
        ),
        ("student,email\n,a@x\n", r"r\.csv:2: the student cell is empty"),
        ("student,email\ns1,a@x,extra\n", r"r\.csv:2: 3 cells but the header has 2"),
        (  # an unclosed quote used to take in the rows after it, silently
            'student,email\ns1,"a@x\ns2,b@x\n',
            r"r\.csv:3: not valid CSV: unexpected end of data \(check the quoting\)",
        ),
    ],
)
def test_bad_rosters_name_the_line(write, text: str, message: str) -> None:
    roster = write("r.csv", text)
    with pytest.raises(GraderError, match=message):
        export_grades(RESULTS, "moodle-csv", roster)


def test_unknown_format_and_items() -> None:
    with pytest.raises(GraderError, match="unknown export format 'blackboard'"):
        export_grades(RESULTS, "blackboard")
    with pytest.raises(GraderError, match="unknown grade items 'steps'"):
        export_grades(RESULTS, "canvas-csv", items="steps")


def test_write_export_is_atomic_utf8(tmp_path: Path) -> None:
    results = _results(_student("Ана", {"decoder-shift": 1, "long-doc/a": 0, "long-doc/b": 0}))
    out = tmp_path / "lms" / "grades.csv"
    write_export(export_grades(results, "canvas-csv"), out)
    assert out.read_bytes().decode("utf-8").splitlines()[2] == "Ана,,Ана,,,1,0"
    assert [p.name for p in out.parent.iterdir()] == ["grades.csv"]


def test_export_works_from_a_saved_results_file(tmp_path: Path) -> None:
    from grader.results import load_results

    path = tmp_path / "results.json"
    path.write_text(results_to_json(RESULTS), encoding="utf-8")
    loaded = load_results(path)
    assert (
        export_grades(loaded, "moodle-csv", ROSTER).text
        == export_grades(RESULTS, "moodle-csv", ROSTER).text
    )
