from __future__ import annotations

import pytest

from grader.errors import GraderError
from grader.load.submissions import read_submissions


def test_csv_with_quoted_newlines_crlf_and_bom(write):
    path = write("s.csv", "")
    path.write_bytes(
        '\ufeffstudent,question,answer,language\r\ns1,q1,"line one\r\nline, two",en\r\ns2,q1,"He said ""no""",\r\n'.encode()
    )
    rows = read_submissions(path).rows
    assert [(r.student, r.answer, r.language, r.line) for r in rows] == [
        ("s1", "line one\r\nline, two", "en", 2),
        ("s2", 'He said "no"', None, 4),
    ]


def test_utf16_with_bom(write):
    path = write("s.csv", "")
    path.write_bytes("student,question,answer\ns1,q1,디코더\n".encode("utf-16"))
    assert read_submissions(path).rows[0].answer == "디코더"


def test_invalid_utf8_names_the_line(write):
    path = write("s.csv", "")
    path.write_bytes(b"student,question,answer\ns1,q1,ok\ns2,q1,\xff\xfe bad\n")
    with pytest.raises(GraderError) as caught:
        read_submissions(path)
    assert str(caught.value) == f"{path}:3: not valid UTF-8 (byte 0xff) (save the file as UTF-8)"


def test_missing_columns(write):
    path = write("s.csv", "student,answer\ns1,x\n")
    with pytest.raises(GraderError) as caught:
        read_submissions(path)
    assert str(caught.value) == (
        f"{path}:1: missing column question (the header needs student,question,answer "
        "(and optionally language,score))"
    )


def test_bad_rows_are_reported_and_the_rest_kept(write):
    path = write(
        "s.csv", "student,question,answer,score\ns1,q1,a,2\n,q1,b,\ns2,q1,c,lots\ns3,q1,d\n"
    )
    read = read_submissions(path)
    assert [r.student for r in read.rows] == ["s1", "s2"]
    assert [str(p) for p in read.problems] == [
        f"{path}:3: the student is empty (fill in the student's id)",
        f"{path}:4: score 'lots' is not a number (write a number or leave it empty)",
        f"{path}:5: the row has 3 fields but the header has 4 (quote answers that contain commas or newlines)",
    ]


def test_duplicate_rows_last_wins(write):
    path = write("s.csv", "student,question,answer\ns1,q1,first\ns1,q1,second\n")
    read = read_submissions(path)
    assert [r.answer for r in read.rows] == ["second"]
    assert [str(p) for p in read.problems] == [
        f"{path}:2: student 's1' answered 'q1' again at line 3 (the later answer is graded; remove one row to silence this)"
    ]


def test_jsonl(write):
    path = write(
        "s.jsonl",
        '{"student": "s1", "question": "q1", "answer": "x", "score": 1}\nnot json\n{"student": 5}\n',
    )
    read = read_submissions(path)
    assert [r.student for r in read.rows] == ["s1"]
    assert read.rows[0].score == pytest.approx(1.0)
    assert [p.line for p in read.problems] == [2, 3]


def test_missing_file(tmp_path):
    with pytest.raises(GraderError) as caught:
        read_submissions(tmp_path / "none.csv")
    assert str(caught.value) == f"{tmp_path / 'none.csv'}: no such file (check the path)"
