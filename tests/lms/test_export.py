from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.lms.export import export_grades, question_feedback, unmatched_path, write_export
from grader.lms.gradebook import read_gradebook
from grader.lms.roster import load_roster
from grader.output.results_json import results_to_json
from grader.results import (
    AnswerResult,
    BankInfo,
    CriterionResult,
    MisconceptionResult,
    Override,
    QuestionResult,
    Results,
    StudentResult,
    Summary,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lms"
DATA = Path(__file__).parents[1] / "data" / "lms"
ROSTER = FIXTURES / "roster.csv"
# A gradebook as Canvas exports it (lib/gradebook_exporter.rb): a BOM, Student, ID, SIS User ID,
# SIS Login ID, Section, assignments as "Title (id)", group and course totals, a Manual Posting
# row, "    Points Possible" with "(read only)" totals, N/A and EX cells, and the test student.
GRADEBOOK = DATA / "canvas_gradebook.csv"
QUESTIONS = (
    ("decoder-shift", 4.0, ("decoder-shift",)),
    ("long-doc", 6.0, ("long-doc/a", "long-doc/b")),
)
HEADER = "transformer-triad: decoder-shift,transformer-triad: long-doc"
CANVAS_IDENTITY = "Student,ID,SIS User ID,SIS Login ID,Section"


def _answer(
    answer_id: str,
    points: float,
    score: float,
    auto: float | None = None,
    criteria: tuple[CriterionResult, ...] = (),
    comment: str = "regraded",
) -> AnswerResult:
    override = Override(score, comment, "overrides.csv:2") if auto is not None else None
    return AnswerResult(
        id=answer_id,
        points=points,
        score=score,
        auto_score=score if auto is None else auto,
        answer="text",
        language="en",
        answered=True,
        criteria=criteria,
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


def _scores(decoder: float, a: float, b: float) -> dict[str, float]:
    return {"decoder-shift": decoder, "long-doc/a": a, "long-doc/b": b}


RESULTS = _results(
    # s1's decoder-shift was overridden from 1.0 to 3.5: the export must use 3.5.
    _student("s1", _scores(3.5, 3.0, 1.333333), {"decoder-shift": 1.0}),
    _student("s2", _scores(4.0, 0.0, 0.0)),
    _student("s9", _scores(2.0, 1.5, 1.5)),
)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# ---------------------------------------------------------------- Moodle


def test_moodle_csv_has_only_roster_students_and_moodles_own_headers() -> None:
    """Moodle aborts a whole import on one unknown user: s9 (not in the roster) goes to the
    unmatched file. s3 has no results: a blank cell would clear a grade in Moodle, so no row."""
    result = export_grades(RESULTS, "moodle-csv", ROSTER)
    # "Email address" is Moodle's own label (its export and grade/import/csv's test data), so the
    # import form pre-selects it for "Identify user".
    assert result.text == (
        "Email address,decoder-shift,long-doc\r\n"
        "ana@example.edu,3.5,4.33\r\n"
        "ben@example.edu,4,0\r\n"
    )
    assert result.unmatched == ["s9"]
    assert result.unmatched_text == (
        "student,reason,decoder-shift,long-doc\r\ns9,not in the roster,2,3\r\n"
    )
    assert result.notices == ["Left out, no results (the LMS keeps what it has for them): s3"]


def test_moodle_csv_total_and_idnumber(write) -> None:
    roster = write("r.csv", "student,idnumber\ns2,2002\ns1,1001\ns9,1009\n")
    result = export_grades(RESULTS, "moodle-csv", roster, items="both")
    assert result.text == (
        "ID number,decoder-shift,long-doc,transformer-triad\r\n"
        "2002,4,0,4\r\n"
        "1001,3.5,4.33,7.83\r\n"
        "1009,2,3,5\r\n"
    )
    assert result.unmatched == [] and result.unmatched_text == "" and result.notices == []
    total_only = export_grades(RESULTS, "moodle-csv", roster, items="total")
    assert total_only.text.splitlines()[:2] == ["ID number,transformer-triad", "2002,4"]


def test_moodle_csv_without_roster_says_once_that_ids_are_unmapped() -> None:
    result = export_grades(RESULTS, "moodle-csv")
    assert result.text == "ID number,decoder-shift,long-doc\r\ns1,3.5,4.33\r\ns2,4,0\r\ns9,2,3\r\n"
    assert result.unmatched == []
    assert result.notices == [
        "No roster: student ids are exported as Moodle ID numbers, unmapped "
        "(give --roster to map them)"
    ]
    by_email = export_grades(RESULTS, "moodle-csv", identifier="email")
    assert by_email.text.startswith("Email address,")
    assert by_email.notices == [
        "No roster: student ids are exported as Moodle e-mail addresses, unmapped "
        "(give --roster to map them)"
    ]


def test_moodle_student_without_the_identifier_is_left_out(write) -> None:
    roster = write("r.csv", "student,email,idnumber\ns1,a@x.org,1\ns2,,2\ns9,c@x.org,3\n")
    result = export_grades(RESULTS, "moodle-csv", roster)
    assert (
        result.text == "Email address,decoder-shift,long-doc\r\na@x.org,3.5,4.33\r\nc@x.org,2,3\r\n"
    )
    assert result.unmatched_text == (
        "student,reason,decoder-shift,long-doc\r\ns2,no email in the roster,4,0\r\n"
    )


def test_moodle_identifier_must_be_in_the_roster(write) -> None:
    roster = write("r.csv", "student,email\ns1,a@x\n")
    assert export_grades(RESULTS, "moodle-csv", roster, identifier="email").text.startswith(
        "Email address,"
    )
    with pytest.raises(GraderError, match=r"r\.csv:1: the roster has no 'idnumber' column"):
        export_grades(RESULTS, "moodle-csv", roster, identifier="idnumber")
    with pytest.raises(GraderError, match="unknown Moodle identifier 'username'"):
        export_grades(RESULTS, "moodle-csv", roster, identifier="username")


def test_signed_identifiers_are_written_so_that_moodle_matches_them(write) -> None:
    """'+1' and '-2' are identifiers: a leading ' would make Moodle miss them. An identifier that
    would run as a formula cannot be written either way: that student is left out."""
    roster = write("r.csv", 'student,idnumber\ns1,+1\ns2,-2.b\ns9,"=HYPERLINK(""http://x"")"\n')
    result = export_grades(RESULTS, "moodle-csv", roster)
    assert result.text == "ID number,decoder-shift,long-doc\r\n+1,3.5,4.33\r\n-2.b,4,0\r\n"
    assert result.unmatched_text == (
        "student,reason,decoder-shift,long-doc\r\n"
        's9,"its idnumber \'=HYPERLINK(""http://x"")\' would run as a spreadsheet formula",'
        "2,3\r\n"
    )


# ---------------------------------------------------------------- feedback


def _criterion(name: str, met: bool, feedback: str) -> CriterionResult:
    score = 1.0 if met else 0.0
    return CriterionResult(name, 1.0, score, score, met, feedback=feedback, feedback_language="en")


FEEDBACK_RESULTS = _results(
    StudentResult(
        "s1",
        "s1",
        5.0,
        10.0,
        (
            QuestionResult(
                "decoder-shift",
                "short_answer",
                4.0,
                1.0,
                (
                    AnswerResult(
                        "decoder-shift",
                        4.0,
                        1.0,
                        1.0,
                        "Decoders scale.",
                        "en",
                        True,
                        criteria=(
                            _criterion("scaling", True, "Right: decoders scale better."),
                            _criterion("zero-shot", False, "Say what zero-shot means."),
                        ),
                        misconceptions=(
                            MisconceptionResult("bert", 0.5, feedback="BERT is an encoder."),
                        ),
                    ),
                ),
            ),
            QuestionResult(
                "long-doc",
                "challenge",
                6.0,
                4.0,
                (
                    _answer(
                        "long-doc/a",
                        3.0,
                        3.0,
                        auto=0.5,
                        criteria=(_criterion("window", False, "Name the window."),),
                        comment="Accepted after review.",
                    ),
                    _answer(
                        "long-doc/b",
                        3.0,
                        1.0,
                        criteria=(_criterion("chunking", True, "Chunking works."),),
                    ),
                ),
            ),
        ),
    )
)


def test_question_feedback_is_what_the_student_may_see() -> None:
    decoder, long_doc = FEEDBACK_RESULTS.students[0].questions
    assert question_feedback(decoder) == (
        "Right: decoders scale better.\nSay what zero-shot means.\nBERT is an encoder."
    )
    # reveal none: the missed criterion's feedback and the misconception stay hidden
    assert question_feedback(decoder, "none") == "Right: decoders scale better."
    # an overridden step shows its comment, not the criteria that contradict the new score
    assert question_feedback(long_doc) == "a: Accepted after review.\nb: Chunking works."
    with pytest.raises(GraderError, match="unknown --reveal 'some'"):
        question_feedback(decoder, "some")


def test_moodle_feedback_columns_are_the_ones_moodle_maps_to_feedback() -> None:
    """Moodle's import form maps a column 'ITEM (Feedback)' to the feedback of grade item ITEM."""
    result = export_grades(FEEDBACK_RESULTS, "moodle-csv", feedback=True, items="both")
    assert _rows(result.text) == [
        [
            "ID number",
            "decoder-shift",
            "decoder-shift (Feedback)",
            "long-doc",
            "long-doc (Feedback)",
            "transformer-triad",
            "transformer-triad (Feedback)",
        ],
        [
            "s1",
            "1",
            "Right: decoders scale better.\nSay what zero-shot means.\nBERT is an encoder.",
            "4",
            "a: Accepted after review.\nb: Chunking works.",
            "5",
            "decoder-shift: Right: decoders scale better.\ndecoder-shift: Say what zero-shot means."
            "\ndecoder-shift: BERT is an encoder.\nlong-doc: a: Accepted after review."
            "\nlong-doc: b: Chunking works.",
        ],
    ]


def test_jsonl_feedback_and_canvas_refusal() -> None:
    records = [
        json.loads(line)
        for line in export_grades(FEEDBACK_RESULTS, "jsonl", feedback=True).text.splitlines()
    ]
    assert [record["feedback"] for record in records] == [
        "Right: decoders scale better.\nSay what zero-shot means.\nBERT is an encoder.",
        "a: Accepted after review.\nb: Chunking works.",
    ]
    with pytest.raises(GraderError, match="Canvas's gradebook import takes scores only"):
        export_grades(FEEDBACK_RESULTS, "canvas-csv", feedback=True)


# ---------------------------------------------------------------- Canvas


def test_canvas_csv_layout() -> None:
    result = export_grades(RESULTS, "canvas-csv", ROSTER)
    assert result.text == (
        f"{CANVAS_IDENTITY},{HEADER}\r\n"
        "Points Possible,,,,,4,6\r\n"
        '"Lee, Ana",1201,A-1,ana,Sec 1,3.5,4.33\r\n'
        '"Kim, Ben",1202,A-2,ben,Sec 2,4,0\r\n'
    )
    assert result.unmatched == ["s9"]
    assert result.unmatched_text == f"student,reason,{HEADER}\r\ns9,not in the roster,2,3\r\n"


def test_canvas_csv_total_column_without_roster() -> None:
    result = export_grades(RESULTS, "canvas-csv", items="total")
    rows = _rows(result.text)
    assert rows[0] == [*CANVAS_IDENTITY.split(","), "transformer-triad"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    assert rows[2] == ["s1", "", "s1", "", "", "7.83"]
    assert result.notices == [
        "No roster: student ids are exported as Canvas SIS User IDs, unmapped "
        "(give --roster or --gradebook to map them)"
    ]


def test_canvas_identifiers_are_not_guarded_free_text_is(write) -> None:
    roster = write(
        "r.csv",
        "student,name,canvas_id,sis_user_id,sis_login_id,section\n"
        's1,"=1+1",+1,-7,-ana,@home\n'
        "s2,Ben,1202,=cmd|x,ben,B\n",
    )
    result = export_grades(RESULTS, "canvas-csv", roster)
    assert result.text == (
        f"{CANVAS_IDENTITY},{HEADER}\r\n"
        "Points Possible,,,,,4,6\r\n"
        "'=1+1,+1,-7,-ana,'@home,3.5,4.33\r\n"
    )
    assert result.unmatched == ["s2", "s9"]
    assert _rows(result.unmatched_text)[1][:2] == [
        "s2",
        "its sis_user_id '=cmd|x' would run as a spreadsheet formula",
    ]


# ---------------------------------------------------------------- Canvas gradebook export


def test_gradebook_export_is_read_as_canvas_writes_it() -> None:
    gradebook = read_gradebook(GRADEBOOK)
    assert gradebook.identity == ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
    assert list(gradebook.assignments.values()) == [
        "Week 1 quiz (4311)",
        "transformer-triad: decoder-shift (4312)",
        "Long-doc (4313)",
        "Reading log (4314)",
        "The Transformer Triad (4315)",
    ]
    assert list(gradebook.points.values()) == ["10.00", "4.00", "6.00", "5.00", "20.00"]
    assert [row.name for row in gradebook.rows] == [
        "Kim, Ben",
        "Lee, Ana",
        "Ode, Cleo",
        "Plus, Pat",
        "Student, Test",
    ]
    assert gradebook.rows[3].keys == {"ID": "1204", "SIS User ID": "+1", "SIS Login ID": "-pat"}


def test_gradebook_rows_and_assignment_ids_are_reused(write) -> None:
    """Only the assignments being updated, with their (id), and the students' own rows: Canvas
    updates assignments 4312 and 4313 and creates nothing. SIS User ID '+1' stays '+1'."""
    roster = write(
        "r.csv", "student,canvas_id,sis_user_id,sis_login_id\ns1,1201,,\ns2,,A-2,\ns9,,+1,\n"
    )
    result = export_grades(RESULTS, "canvas-csv", roster, gradebook=GRADEBOOK)
    assert result.text == (
        f"{CANVAS_IDENTITY},transformer-triad: decoder-shift (4312),Long-doc (4313)\r\n"
        "Points Possible,,,,,4.00,6.00\r\n"
        '"Kim, Ben",1202,A-2,ben,Sec 2,4,0\r\n'
        '"Lee, Ana",1201,A-1,ana,Sec 1,3.5,4.33\r\n'
        '"Plus, Pat",1204,+1,-pat,Sec 1 and Sec 2,2,3\r\n'
    )
    assert result.unmatched == []
    assert result.notices == [
        "In the gradebook but without results, left out (Canvas keeps their grades): "
        "Ode, Cleo, Student, Test"
    ]


def test_gradebook_matches_student_ids_as_canvas_ids_without_a_roster() -> None:
    results = _results(
        _student("A-1", _scores(1, 1, 1)),  # SIS User ID
        _student("ben", _scores(2, 2, 2)),  # SIS Login ID
        _student("1204", _scores(3, 3, 0)),  # Canvas ID
        _student("zz", _scores(0, 0, 0)),
    )
    result = export_grades(results, "canvas-csv", gradebook=GRADEBOOK, items="total")
    assert result.text == (
        f"{CANVAS_IDENTITY},The Transformer Triad (4315)\r\n"
        "Points Possible,,,,,20.00\r\n"
        '"Kim, Ben",1202,A-2,ben,Sec 2,6\r\n'
        '"Lee, Ana",1201,A-1,ana,Sec 1,3\r\n'
        '"Plus, Pat",1204,+1,-pat,Sec 1 and Sec 2,6\r\n'
    )
    assert result.unmatched_text == (
        "student,reason,The Transformer Triad (4315)\r\nzz,not in the gradebook,0\r\n"
    )
    assert result.notices[0] == (
        "'The Transformer Triad (4315)' is worth 20.00 points in Canvas and 10 in grader; "
        "scores are written as grader computed them"
    )


def test_semicolon_gradebook_reads_the_same(tmp_path: Path) -> None:
    """Canvas exports with ';' for users who chose it; the importer detects either."""
    rows = _rows(GRADEBOOK.read_text(encoding="utf-8-sig"))
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\n").writerows(rows)
    semicolons = tmp_path / "gradebook.csv"
    semicolons.write_text(buffer.getvalue(), encoding="utf-8")
    read, original = read_gradebook(semicolons), read_gradebook(GRADEBOOK)
    assert (read.identity, read.assignments, read.points, read.rows) == (
        original.identity,
        original.assignments,
        original.points,
        original.rows,
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "Name,Score\n",
            r"g\.csv:1: not a Canvas gradebook export: the header is not Student, ID, \.\.\., "
            r"Section, \.\.\. \(export it from Canvas: Grades > Export > Export Entire Gradebook\)",
        ),
        (
            "Student,ID,Section,decoder-shift (1),Other (2)\n",
            r"g\.csv:1: no assignment for question 'long-doc' \(looked for "
            r"'transformer-triad: long-doc' or 'long-doc'; the gradebook has: decoder-shift \(1\), "
            r"Other \(2\)\) \(name the Canvas assignment so, or export without --gradebook",
        ),
        (
            "Student,ID,Section,decoder-shift (1),Decoder-Shift (2),long-doc (3)\n",
            r"g\.csv:1: 2 assignments match question 'decoder-shift': decoder-shift \(1\), "
            r"Decoder-Shift \(2\) \(rename all but one in Canvas",
        ),
    ],
)
def test_bad_gradebooks_are_located_errors(write, header: str, message: str) -> None:
    gradebook = write("g.csv", header)
    with pytest.raises(GraderError, match=message):
        export_grades(RESULTS, "canvas-csv", gradebook=gradebook)


def test_two_students_on_one_gradebook_row_is_an_error(write) -> None:
    roster = write("r.csv", "student,canvas_id\ns1,1201\ns2,1201\n")
    with pytest.raises(
        GraderError, match=r"canvas_gradebook\.csv:5: students 's1' and 's2' both match Lee, Ana"
    ):
        export_grades(RESULTS, "canvas-csv", roster, gradebook=GRADEBOOK)


def test_gradebook_is_for_canvas_only() -> None:
    with pytest.raises(GraderError, match="--gradebook is a Canvas gradebook export"):
        export_grades(RESULTS, "moodle-csv", gradebook=GRADEBOOK)


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
    assert result.unmatched == ["s9"] and result.unmatched_text == ""


# ---------------------------------------------------------------- spreadsheet safety


def test_every_free_text_cell_is_neutralised(write) -> None:
    evil = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(1+1)"]
    lines = ["student,name,email,section"]
    for index, text in enumerate(evil):
        quoted = '"' + text.replace('"', '""') + '"'
        lines.append(f"s{index},{quoted},a{index}@x.org,{quoted}")
    roster = write("evil.csv", "\n".join(lines) + "\n")
    scores = _scores(1, 0, 0)
    results = _results(
        *(_student(f"s{index}", scores) for index in range(4)),
        # Students without a roster row are listed with their own ids, which may be hostile too.
        *(_student(sid, scores) for sid in ("\tTAB", "\rCR", '=HYPERLINK("http://x")')),
    )
    canvas = export_grades(results, "canvas-csv", roster)
    assert canvas.text == (
        f"{CANVAS_IDENTITY},{HEADER}\r\n"
        "Points Possible,,,,,4,6\r\n"
        "'=cmd|' /C calc'!A0,,,,'=cmd|' /C calc'!A0,1,0\r\n"
        "'+1,,,,'+1,1,0\r\n"
        "'-2,,,,'-2,1,0\r\n"
        "'@SUM(1+1),,,,'@SUM(1+1),1,0\r\n"
    )
    assert canvas.unmatched == ["\tTAB", "\rCR", '=HYPERLINK("http://x")']
    assert canvas.unmatched_text == (
        f"student,reason,{HEADER}\r\n"
        "'\tTAB,not in the roster,1,0\r\n"
        '"\'\rCR",not in the roster,1,0\r\n'
        '"\'=HYPERLINK(""http://x"")",not in the roster,1,0\r\n'
    )
    for text in (canvas.text, canvas.unmatched_text):
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


def test_write_export_is_atomic_utf8_and_writes_the_unmatched_beside(tmp_path: Path) -> None:
    results = _results(_student("Ана", _scores(1, 0, 0)))
    out = tmp_path / "lms" / "grades.csv"
    assert write_export(export_grades(results, "canvas-csv"), out) == [out]
    assert out.read_bytes().decode("utf-8").splitlines()[2] == "Ана,,Ана,,,1,0"
    assert [p.name for p in out.parent.iterdir()] == ["grades.csv"]
    written = write_export(export_grades(RESULTS, "moodle-csv", ROSTER), out)
    assert written == [out, tmp_path / "lms" / "grades.unmatched.csv"]
    assert unmatched_path(out) == written[1]
    assert written[1].read_text(encoding="utf-8").splitlines()[1] == "s9,not in the roster,2,3"


def test_export_works_from_a_saved_results_file(tmp_path: Path) -> None:
    from grader.output.results_json import load_results

    path = tmp_path / "results.json"
    path.write_text(results_to_json(RESULTS), encoding="utf-8")
    loaded = load_results(path)
    assert (
        export_grades(loaded, "moodle-csv", ROSTER).text
        == export_grades(RESULTS, "moodle-csv", ROSTER).text
    )


# ---------------------------------------------------------------- the export command


def _export_cli(tmp_path: Path, *args: str):
    from click.testing import CliRunner

    from grader.cli import cli

    results = tmp_path / "results.json"
    results.write_text(results_to_json(RESULTS), encoding="utf-8")
    return CliRunner().invoke(cli, ["export", str(results), *args], catch_exceptions=False)


def test_cli_names_unmatched_students_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "moodle.csv"
    result = _export_cli(
        tmp_path, "--format", "moodle-csv", "--roster", str(ROSTER), "--out", str(out)
    )
    assert result.exit_code == 1
    assert result.stdout == f"Wrote {out} (moodle-csv)\n"
    assert result.stderr == (
        "Left out, no results (the LMS keeps what it has for them): s3\n"
        f"Error: 1 student(s) left out of {out}, the LMS could not match them: s9; their grades "
        f"are in {tmp_path / 'moodle.unmatched.csv'} (fix the roster and export again, or pass "
        "--allow-unmatched)\n"
    )
    assert out.read_text(encoding="utf-8").count("\n") == 3  # header, s1, s2
    assert (tmp_path / "moodle.unmatched.csv").exists()


def test_cli_allow_unmatched_exits_0_and_still_says_who(tmp_path: Path) -> None:
    out = tmp_path / "canvas.csv"
    result = _export_cli(
        tmp_path,
        *("--format", "canvas-csv", "--roster", str(ROSTER), "--out", str(out)),
        "--allow-unmatched",
    )
    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == (
        f"1 student(s) left out of {out}, the LMS could not match them: s9; their grades are in "
        f"{tmp_path / 'canvas.unmatched.csv'}"
    )


def test_cli_json_and_the_no_roster_notice(tmp_path: Path) -> None:
    out = tmp_path / "moodle.csv"
    result = _export_cli(tmp_path, "--format", "moodle-csv", "--out", str(out), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "ok": True,
        "format": "moodle-csv",
        "file": str(out),
        "unmatched": [],
        "unmatched_file": None,
        "notices": [
            "No roster: student ids are exported as Moodle ID numbers, unmapped "
            "(give --roster to map them)"
        ],
    }
    plain = _export_cli(tmp_path, "--format", "moodle-csv", "--out", str(out))
    assert plain.stderr.count("No roster") == 1


def test_cli_gradebook_and_feedback_options(tmp_path: Path) -> None:
    out = tmp_path / "canvas.csv"
    refused = _export_cli(tmp_path, "--format", "canvas-csv", "--feedback", "--out", str(out))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: Canvas's gradebook import takes scores only")
    assert not out.exists()
    used = _export_cli(
        tmp_path,
        *("--format", "canvas-csv", "--gradebook", str(GRADEBOOK), "--out", str(out)),
    )
    assert used.exit_code == 1  # s1, s2, s9 are no Canvas ids of this gradebook
    assert "left out of" in used.stderr and "s1, s2, s9" in used.stderr
