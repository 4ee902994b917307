"""Hostile and broken input: every case ends in a clear message, and the rest of the work is done.

Bad banks list every problem with its line; bad submission rows are reported and the other rows
graded; nothing a student writes is executed, rendered as markup, turned into a path or a
spreadsheet formula; bank regexes cannot hang the grader; grading needs no network.
See docs/robustness.md for the table of cases.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.grading import GradeOptions, grade
from grader.load.loader import load_bank, validate_paths
from grader.load.submissions import Submission, read_submissions
from tests.conftest import ROOT, unprivileged
from tests.load.test_loader import BANK, RUBRIC, make_bank

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def run(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def grade_cli(bank: Path, submissions: Path | str, out: Path, *extra: str):
    return run(
        "grade",
        str(bank),
        str(submissions),
        "--out",
        str(out),
        "--model",
        "none",
        "--no-cache",
        *extra,
    )


def problems_of(path: Path) -> list[str]:
    return [str(problem) for problem in validate_paths([path])]


def answer_of(results: dict, student: str, gradable: str) -> dict:
    for entry in results["students"]:
        if entry["id"] == student:
            for question in entry["questions"]:
                for answer in question["answers"]:
                    if answer["id"] == gradable:
                        return answer
    raise KeyError((student, gradable))


# ---------------------------------------------------------------- banks


def test_malformed_yaml_names_line_and_column_and_writes_nothing(write, tmp_path):
    bank = write("banks/bad.yaml", BANK.replace("    points: 2\n", "    points: 2\n   oops: [\n"))
    subs = write("s.csv", "student,question,answer\ns1,q1,x\n")
    out = tmp_path / "out"
    result = grade_cli(bank, subs, out)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {bank}:8:4: invalid YAML: expected <block end>, but found "
        "'<block mapping start>' (check the indentation and quoting there)\n"
    )
    assert not out.exists()


def test_wrong_types_are_all_reported_with_their_lines(write):
    bank = BANK.replace("    points: 2\n", "    points: [2]\n").replace(
        '    prompt: {en: "What does BERT use?", ko: "BERT는 무엇을 쓰나?"}\n', "    prompt: 5\n"
    )
    path = make_bank(write, bank.replace("languages: [en, ko]", "languages: {en: 1}"))
    found = problems_of(path)
    assert f"{path}:7: 'points' in question 'q1' must be a number, not a list" in found
    assert any(p.startswith(f"{path}:8: prompt of question 'q1' must be text") for p in found)
    assert any(p.startswith(f"{path}:3: ") and "languages" in p for p in found), found


def test_unknown_keys_get_a_did_you_mean(write):
    path = make_bank(write, BANK.replace("languages:", "langauges: [en]\nlanguages:"))
    assert f"{path}:3: unknown key 'langauges' in the bank (did you mean 'languages'?)" in (
        problems_of(path)
    )


def test_duplicate_yaml_keys_and_duplicate_ids(write):
    path = make_bank(write, BANK.replace("title: Demo\n", "title: Demo\ntitle: Again\n"))
    assert problems_of(path) == [
        f"{path}:3:1: invalid YAML: duplicate key 'title' (check the indentation and quoting there)"
    ]
    steps = BANK.replace("{id: s2, points: 1", "{id: s1, points: 1")
    path = make_bank(write, steps)
    assert problems_of(path) == [
        f"{path}:18: duplicate step id 's1' (first defined at line 17; ids must be unique)"
    ]


def test_dangling_rubric_reference_and_missing_rubrics_folder(write, tmp_path):
    path = make_bank(write, BANK.replace("rubric: r1", "rubric: r2"))
    assert any(
        p.startswith(f"{path}:12: rubric 'r2' not found (looked for ") for p in problems_of(path)
    )
    result = run("validate", str(path), "--rubrics", str(tmp_path / "no-such-folder"))
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.parametrize(
    "empty",
    [
        '""',
        '["  "]',
        "[null]",
        "[]",
    ],
)
def test_bank_whose_model_answers_are_empty(write, empty):
    path = make_bank(write, BANK.replace("en: BERT uses bidirectional context.", f"en: {empty}"))
    found = problems_of(path)
    assert found and all(str(path) in p for p in found), found
    assert any("model answer" in p for p in found), found


def test_question_with_a_rubric_and_no_model_answers_is_graded(write):
    bank = BANK.replace(
        "    answers:\n      en: BERT uses bidirectional context.\n      ko: [BERT는 양방향 문맥을 쓴다.]\n",
        "",
    )
    loaded = load_bank(make_bank(write, bank))
    assert loaded.gradables()["q1"].answers == {}
    results = grade(loaded, [Submission("s1", "q1", "bidirectional context")], GradeOptions("none"))
    assert results.students[0].questions[0].score == pytest.approx(2.0)


def test_bank_encodings(write, tmp_path):
    path = make_bank(write)
    text = path.read_text(encoding="utf-8")
    for encoding, data in (
        ("utf-8-sig", text.encode("utf-8-sig")),
        ("utf-16", text.encode("utf-16")),  # with its BOM
        ("utf-16-be", b"\xfe\xff" + text.encode("utf-16-be")),
    ):
        path.write_bytes(data)
        assert load_bank(path).id == "demo", encoding
    path.write_bytes(text.encode("utf-8").replace(b"Demo", b"D\xe9mo"))
    assert problems_of(path) == [f"{path}:2: not valid UTF-8 (byte 0xe9) (save the file as UTF-8)"]


# ---------------------------------------------------------------- submissions


def test_missing_columns_are_a_clean_error(write, tmp_path):
    bank = make_bank(write)
    subs = write("s.csv", "student,answer\ns1,x\n")
    result = grade_cli(bank, subs, tmp_path / "out")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {subs}:1: missing column question (")


def test_bad_rows_are_reported_and_the_rest_graded(write, tmp_path):
    bank = make_bank(write)
    subs = write(
        "s.csv",
        "student,question,answer\n"
        "s1,q1,BERT reads bidirectional context\n"
        "s1,q9,unknown question\n"
        "s2,q1,first try\n"
        "s2,q1,bidirectional context\n"  # duplicate: the later row wins
        ",q1,no student\n"
        "s3,q1,too,many,fields\n",
    )
    out = tmp_path / "out"
    result = grade_cli(bank, subs, out)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [student["id"] for student in data["students"]] == ["s1", "s2"]
    assert answer_of(data, "s2", "q1")["answer"] == "bidirectional context"
    assert answer_of(data, "s2", "q1")["line"] == 5
    problems = {(p["line"], p["message"].split(" (")[0]) for p in data["problems"]}
    assert problems == {
        (3, "unknown question 'q9'"),
        (4, "student 's2' answered 'q1' again at line 5"),
        (6, "the student is empty"),
        (7, "the row has 5 fields but the header has 3"),
    }
    assert "Warning:" in result.output and "Graded 2 answers" in result.output


@pytest.mark.parametrize("answer", ["", "   ", "\u200b\u200b", "\ufeff", "\n\t"])
def test_empty_answers_score_zero_with_feedback(write, answer):
    bank = load_bank(make_bank(write))
    results = grade(bank, [Submission("s1", "q1", answer)], GradeOptions(model="none"))
    result = results.students[0].questions[0].answers[0]
    assert result.score == pytest.approx(0.0) and not result.answered
    assert [(c.feedback, c.reason) for c in result.criteria] == [("mention direction", "no answer")]


def test_one_megabyte_answer_is_analysed_in_full_keyword_only(write):
    bank = load_bank(make_bank(write))
    filler = "The harbour ferry left at noon and the gulls were loud all afternoon. "
    body = filler * (1_000_000 // len(filler))
    answer = body[: 1_000_000 - 30] + " So: bidirectional context."
    started = time.perf_counter()
    results = grade(bank, [Submission("s1", "q1", answer)], GradeOptions(model="none"))
    seconds = time.perf_counter() - started
    result = results.students[0].questions[0].answers[0]
    assert len(result.answer) == len(answer) and seconds < 60
    groups = result.criteria[0].groups
    assert all(g.match and g.match.start > 999_900 for g in groups), groups  # the very end
    assert "padded" in {flag.code for flag in result.flags}
    assert result.score < 0.1 * result.points


def test_encodings_of_submissions(write):
    text = "student,question,answer\ns1,q1,디코더\n"
    path = write("s.csv", "")
    for data in (
        text.encode("utf-8-sig"),
        text.encode("utf-16"),
        b"\xff\xfe" + text.encode("utf-16-le"),
        b"\xfe\xff" + text.encode("utf-16-be"),
    ):
        path.write_bytes(data)
        assert [(r.student, r.answer) for r in read_submissions(path).rows] == [("s1", "디코더")]
    jsonl = write("s.jsonl", "")
    jsonl.write_bytes('\ufeff{"student": "s1", "question": "q1", "answer": "x"}\n'.encode())
    assert read_submissions(jsonl).rows[0].student == "s1"


def test_invalid_utf8_submissions_via_cli(write, tmp_path):
    bank = make_bank(write)
    subs = write("s.csv", "")
    subs.write_bytes(b"student,question,answer\ns1,q1,ok\ns2,q1,caf\xe9\n")
    result = grade_cli(bank, subs, tmp_path / "out")
    assert result.exit_code == 1
    assert (
        result.output == f"Error: {subs}:3: not valid UTF-8 (byte 0xe9) (save the file as UTF-8)\n"
    )


def test_quoted_newlines_and_crlf_keep_answers_and_line_numbers(write, tmp_path):
    bank = make_bank(write)
    subs = write("s.csv", "")
    subs.write_bytes(
        b'student,question,answer\r\ns1,q1,"bidirectional\r\ncontext, both\r\nsides"\r\n'
        b"s2,q9,unknown\r\n"
    )
    out = tmp_path / "out"
    assert grade_cli(bank, subs, out).exit_code == 0
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert answer_of(data, "s1", "q1")["answer"] == "bidirectional\r\ncontext, both\r\nsides"
    assert [(p["line"], p["message"]) for p in data["problems"]] == [(5, "unknown question 'q9'")]


def test_zero_width_and_look_alike_characters(write):
    bank = load_bank(make_bank(write))
    rows = [
        Submission("zero-width", "q1", "bi\u200bdirec\u200dtional con\ufefftext"),
        Submission("look-alike", "q1", "bidirесtional соntext"),  # Cyrillic е, с, о
        Submission("full-width", "q1", "ｂｉｄｉｒｅｃｔｉｏｎａｌ ｃｏｎｔｅｘｔ"),
    ]
    results = grade(bank, rows, GradeOptions(model="none"))
    assert {s.id: s.total for s in results.students} == pytest.approx(
        {"zero-width": 2.0, "look-alike": 2.0, "full-width": 2.0}
    )


def test_invisible_characters_in_ids_do_not_make_new_students(write):
    path = write("s.csv", "student,question,answer\ns1,q1,first\ns1\u200b,q1\u200b,second\n")
    read = read_submissions(path)
    assert [(r.student, r.question, r.answer) for r in read.rows] == [("s1", "q1", "second")]
    assert [p.line for p in read.problems] == [2]


@pytest.mark.parametrize(
    "args",
    [
        ("grade", "{tmp}/none.yaml", "{subs}", "--out", "{tmp}/o"),
        ("grade", "{bank}", "{tmp}/none.csv", "--out", "{tmp}/o"),
        ("grade", "{bank}", "{subs}", "--out", "{tmp}/o", "--calibration", "{tmp}/none.yaml"),
        ("grade", "{bank}", "{tmp}", "--out", "{tmp}/o"),
        ("validate", "{tmp}/none.yaml"),
        ("check", "{tmp}/none.yaml", "q1", "--answer", "x"),
        ("report", "{tmp}/none.json", "--out", "{tmp}/o"),
        ("export", "{tmp}/none.json", "--format", "jsonl", "--out", "{tmp}/o.jsonl"),
    ],
)
def test_non_existent_paths_are_clean_errors(write, tmp_path, args):
    bank = make_bank(write)
    subs = write("s.csv", "student,question,answer\ns1,q1,x\n")
    names = {"tmp": tmp_path, "bank": bank, "subs": subs}
    argv = [arg.format(**names) for arg in args]
    if argv[0] in ("grade", "check"):
        argv += ["--model", "none", "--no-cache"]
    result = run(*argv)
    assert result.exit_code == 1, result.output
    first, *rest = result.output.splitlines()
    assert first.startswith("Error: ") and rest in ([], ["1 problem found."]), result.output
    assert "no such file" in first or "is a folder" in first, first
    assert not [path for path in tmp_path.glob("o/**/*") if path.is_file()]


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only /sys")
def test_unwritable_output_folder_under_sys(write):
    bank = make_bank(write)
    subs = write("s.csv", "student,question,answer\ns1,q1,x\n")
    for out in ("/sys/grader-out", "/sys"):
        result = grade_cli(bank, subs, Path(out))
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: /sys"), result.output
        assert "choose another --out folder" in result.output


def test_unwritable_output_folder_by_permissions(shared_tmp):
    """Run as an unprivileged user (root may write anywhere): see tests/conftest.unprivileged."""
    bank = make_bank(lambda name, text: _write_in(shared_tmp, name, text))
    subs = _write_in(shared_tmp, "s.csv", "student,question,answer\ns1,q1,x\n")
    out = shared_tmp / "ro"
    out.mkdir()
    out.chmod(0o555)
    command = [sys.executable, "-m", "grader", "grade", str(bank), str(subs), "--out", str(out)]
    command += ["--model", "none", "--no-cache"]
    done = subprocess.run(
        unprivileged(command),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HOME": str(shared_tmp)},
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"Error: {out}: the folder is not writable (choose another --out folder or fix its "
        "permissions)\n"
    )
    assert list(out.iterdir()) == []


def _write_in(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- security


def test_yaml_tags_that_run_code_are_refused(write, tmp_path):
    marker = tmp_path / "pwned"
    path = write(
        "banks/evil.yaml",
        f'id: demo\ntitle: !!python/object/apply:os.system ["touch {marker}"]\n',
    )
    found = problems_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:2:8: invalid YAML: could not determine")
    assert not marker.exists()


def test_only_safe_yaml_loaders_in_the_code():
    """Static check: every yaml load in grader/ goes through a SafeLoader."""
    import yaml

    from grader.load.yamlread import _FastLineLoader, _LineLoader

    assert issubclass(_LineLoader, yaml.SafeLoader)
    assert issubclass(_FastLineLoader, yaml.constructor.SafeConstructor)
    assert not issubclass(_FastLineLoader, yaml.constructor.FullConstructor)
    offenders = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for match in re.finditer(r"yaml\.(unsafe_load|full_load|load_all|load)\(([^)]*)\)", source):
            call, arguments = match.groups()
            if call != "load" or not re.search(
                r"Loader=(_LineLoader|_FastLineLoader|yaml\.SafeLoader)", arguments
            ):
                offenders.append(f"{path.name}: {match.group(0)}")
        if "yaml.Loader" in source or "FullLoader" in source or "UnsafeLoader" in source:
            offenders.append(f"{path.name}: unsafe loader class")
    assert offenders == []


def call_arguments(source: str, start: int) -> str:
    """The text between an opening parenthesis (just before ``start``) and its match."""
    depth = 1
    for index in range(start, len(source)):
        depth += {"(": 1, ")": -1}.get(source[index], 0)
        if depth == 0:
            return source[start:index]
    return source[start:]


def test_templates_are_autoescaped():
    """Static check: every Jinja environment in grader/ escapes by default."""
    offenders = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\bEnvironment\(", source):
            if "autoescape=True" not in call_arguments(source, match.end()):
                offenders.append(f"{path.name}: line {source[: match.start()].count(chr(10)) + 1}")
    templates = [path.name for path in (ROOT / "grader" / "output" / "templates").iterdir()]
    assert templates and not [
        name
        for name in templates
        if "|safe" in (ROOT / "grader" / "output" / "templates" / name).read_text(encoding="utf-8")
    ]
    assert offenders == []


HOSTILE_IDS = (
    "../../etc/passwd",
    "/abs/olute",
    "a/b",
    "a\\b",
    "a?b",
    "a_b",
    "A_B",
    "CON",
    "nul.txt",
    ".hidden",
    "..",
    "index",
    "x" * 300,
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "tab\tinside",
    "Ана Петрова",
)


@pytest.fixture
def hostile_run(write, tmp_path) -> Path:
    """Grade answers from students with hostile ids and markup in their answers; return --out."""
    bank = make_bank(write)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", "question", "answer"])
    for index, student in enumerate(HOSTILE_IDS):
        writer.writerow([student, "q1", f"<script>alert({index})</script> bidirectional context"])
        writer.writerow([student, "ch/s1", "=1+1"])
    subs = write("hostile.csv", buffer.getvalue())
    out = tmp_path / "out"
    result = grade_cli(bank, subs, out)
    assert result.exit_code == 0, result.output
    return out


def test_student_ids_become_safe_unique_file_names(hostile_run: Path):
    data = json.loads((hostile_run / "results.json").read_text(encoding="utf-8"))
    ids = [student["id"] for student in data["students"]]
    names = [student["file_name"] for student in data["students"]]
    assert sorted(ids) == sorted(HOSTILE_IDS)
    assert len({name.lower() for name in names}) == len(names)
    for name in names:
        assert re.fullmatch(r"[\w][\w.-]*", name) and ".." not in name and len(name) <= 80, name
        assert name.split(".")[0].upper() not in ("CON", "NUL", "PRN", "AUX"), name
    pages = sorted(path.name for path in (hostile_run / "students").iterdir())
    assert pages == sorted(f"{name}.html" for name in names)
    written = {path.resolve() for path in hostile_run.rglob("*")}
    assert all(path.is_relative_to(hostile_run.resolve()) for path in written)


def test_markup_in_answers_and_ids_is_escaped_in_every_page(hostile_run: Path):
    pages = list(hostile_run.rglob("*.html"))
    assert len(pages) > len(HOSTILE_IDS)
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "<script>alert(" not in html, page
        assert "<img src=x" not in html, page
    escaped = "".join(page.read_text(encoding="utf-8") for page in pages)
    assert "&lt;script&gt;alert(" in escaped and "&lt;img src=x" in escaped


def formula_cells(text: str) -> list[str]:
    """Cells a spreadsheet would run: they start with = + - @ tab or CR and are not numbers."""
    cells = [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
    found = []
    for cell in cells:
        try:
            float(cell)
            continue
        except ValueError:
            pass
        if cell.startswith(FORMULA_STARTS):
            found.append(cell)
    return found


def test_formula_cells_are_neutralised_in_every_csv_we_write(hostile_run: Path, tmp_path):
    results = hostile_run / "results.json"
    outputs = [hostile_run / "grades.csv"]
    for fmt in ("moodle-csv", "canvas-csv"):
        target = tmp_path / f"{fmt}.csv"
        extra = ["--identifier", "idnumber"] if fmt == "moodle-csv" else []
        # Ids that would run as formulas cannot be LMS identifiers: those students are left out
        # of the LMS file and listed, guarded, in the unmatched file beside it.
        extra.append("--allow-unmatched")
        result = run("export", str(results), "--format", fmt, "--out", str(target), *extra)
        assert result.exit_code == 0, result.output
        outputs.extend([target, target.with_name(f"{fmt}.unmatched.csv")])
    for path in outputs:
        text = path.read_text(encoding="utf-8-sig")
        assert formula_cells(text) == [], path
        if path.suffixes == [".csv"] and path.name != "grades.csv":  # an LMS file
            assert "HYPERLINK" not in text, path
        else:
            assert "'=HYPERLINK(" in text or "'=HYPERLINK" in text.replace('""', '"'), path
    every_csv_writer = [
        path.name
        for path in (ROOT / "grader").rglob("*.py")
        if "csv.writer(" in path.read_text(encoding="utf-8")
    ]
    assert every_csv_writer == ["fsutil.py"]  # csv_text, which runs every cell through safe_cell


def test_regex_keywords_cannot_hang_the_grader(write):
    evil = RUBRIC.replace("[[양방향]]", '[["re:(a+)+$", "re:(x+x+)+y", "re:(.*a){12}"]]')
    bank = load_bank(make_bank(write, rubric=evil))
    answers = ["a" * 50_000 + "!", "x" * 50_000, "a" * 30 + "b" * 30_000]
    started = time.perf_counter()
    grade(
        bank,
        [Submission(f"s{i}", "q1", a, "ko") for i, a in enumerate(answers)],
        GradeOptions("none"),
    )
    assert time.perf_counter() - started < 10


def test_regex_features_without_linear_time_are_refused(write):
    for pattern in (r"(a)\1", "(?=a)b", "(?<!a)b"):
        path = make_bank(write, rubric=RUBRIC.replace("[[양방향]]", f"[['re:{pattern}']]"))
        found = problems_of(path)
        assert len(found) == 1 and "bad regular expression" in found[0], (pattern, found)
        assert found[0].endswith("(fix the pattern (RE2 syntax: no backreferences or lookaround))")


SITECUSTOMIZE = """
import os, socket

_LOG = os.environ["GRADER_TEST_NET_LOG"]
_real_connect = socket.socket.connect


def _refuse(what, address):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"{what} {address!r}\\n")
    raise OSError(101, "network blocked by the test")


def _connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse("connect", address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _connect(self, address)
    return 0


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
socket.create_connection = lambda address, *a, **k: _refuse("create_connection", address)
socket.getaddrinfo = lambda host, *a, **k: _refuse("getaddrinfo", host)
"""


@pytest.mark.slow
def test_grading_needs_no_network(write, tmp_path):
    """`python -m grader grade` with the default model and every network call refused.

    A sitecustomize.py refuses (and logs) every internet socket, DNS lookup and connection; where
    unprivileged user namespaces exist, the process also runs in one without a network. The
    Hugging Face offline switches are removed from the environment: the grader must not need them.
    """
    bank = make_bank(write)
    subs = write(
        "s.csv",
        "student,question,answer,language\ns1,q1,BERT reads context in both directions.,en\n"
        "s2,q1,BERT는 양방향 문맥을 본다.,ko\n",
    )
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "network.log"
    env = {key: value for key, value in os.environ.items() if "OFFLINE" not in key}
    env.update(
        PYTHONPATH=os.pathsep.join([str(hooks), str(ROOT)]),
        GRADER_TEST_NET_LOG=str(log),
        HF_HOME=str(tmp_path / "hf-home"),  # no cached hub files to fall back on
    )
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader", "grade", str(bank), str(subs), "--out", str(out)]
    command += ["--cache-dir", str(tmp_path / "cache")]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        command = [unshare, "-rn", *command]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert not log.exists(), log.read_text(encoding="utf-8")
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    models = {answer_of(data, s, "q1")["model"] for s in ("s1", "s2")}
    assert None not in models and data["models"], models


# ---------------------------------------------------------------- round two: numbers

NINES = "9" * 400
NOT_FINITE_IN_BANKS = [
    # (case, text replaced, its replacement, line, what, the value as the message shows it)
    ("nan", "    points: 2\n", "    points: .nan\n", 7, "question 'q1'", "nan"),
    ("inf", "    points: 2\n", "    points: .inf\n", 7, "question 'q1'", "inf"),
    ("-inf", "    points: 2\n", "    points: -.inf\n", 7, "question 'q1'", "-inf"),
    ("400 digits", "    points: 2\n", f"    points: {NINES}\n", 7, "question 'q1'", "9" * 39 + "…"),
    ("1e300", "    points: 2\n", "    points: 1.0e+300\n", 7, "question 'q1'", "1e+300"),
    (
        "step nan",
        "{id: s1, points: 2",
        "{id: s1, points: .nan",
        17,
        "step 's1' of challenge 'ch'",
        "nan",
    ),
]


@pytest.mark.parametrize("case", NOT_FINITE_IN_BANKS, ids=[case[0] for case in NOT_FINITE_IN_BANKS])
def test_numbers_that_are_not_finite_or_too_large_are_located_errors(write, tmp_path, case):
    """`points: .nan` passed validation and graded NaN (results.json with a bare NaN);
    `.inf` ended in exit 3 after writing; a 400-digit integer overflowed (exit 3)."""
    _case, old, new, line, where, shown = case
    path = make_bank(write, BANK.replace(old, new, 1))
    message = (
        f"{path}:{line}: 'points' in {where} must be a finite number of at most 1e+06, "
        f"not {shown} (write a number like 2 or 0.5)"
    )
    assert problems_of(path) == [message]
    subs = write("s.csv", "student,question,answer\ns1,q1,bidirectional context\n")
    result = grade_cli(path, subs, tmp_path / "out")
    assert (result.exit_code, result.output) == (1, f"Error: {message}\n")
    assert not (tmp_path / "out").exists()


def test_a_criterion_or_penalty_that_is_nan_is_refused(write):
    """A criterion with `points: .nan` scored a correct answer 0."""
    rubric = RUBRIC.replace("  - id: bidir\n    points: 2\n", "  - id: bidir\n    points: .nan\n")
    rubric = rubric.replace("penalty: 1", "penalty: .inf")
    path = make_bank(write, rubric=rubric)
    rubric_path = path.parent.parent / "rubrics" / "r1.yaml"
    assert problems_of(path) == [
        f"{rubric_path}:4: 'points' in criterion 'bidir' must be a finite number of at most 1e+06, "
        "not nan (write a number like 2 or 0.5)",
        f"{rubric_path}:13: 'penalty' in misconception 'm1' must be a finite number of at most "
        "1e+06, not inf (write a number like 2 or 0.5)",
    ]


NUMERIC_BANK = """\
id: num
title: Numbers
languages: [en]
questions:
  - id: n1
    type: numeric
    points: 1
    prompt: How many heads?
    value: 12
    tolerance: 0
"""


@pytest.mark.parametrize(
    ("value", "tolerance", "expected"),
    [
        (
            ".inf",
            ".inf",
            [
                "'value' in question 'n1' must be a finite number of at most 1e+15, not inf",
                "'tolerance' in question 'n1' must be a finite number of at most 1e+15, not inf",
            ],
        ),
        (
            "12",
            ".nan",
            ["'tolerance' in question 'n1' must be a finite number of at most 1e+15, not nan"],
        ),
        (
            "1.0e+300",
            "1.0e+300",
            [
                "'value' in question 'n1' must be a finite number of at most 1e+15, not 1e+300",
                "'tolerance' in question 'n1' must be a finite number of at most 1e+15, not 1e+300",
            ],
        ),
    ],
)
def test_numeric_value_and_tolerance_must_be_finite_and_bounded(write, value, tolerance, expected):
    """`value: .inf, tolerance: .inf` gave full credit to any number."""
    text = NUMERIC_BANK.replace("value: 12", f"value: {value}").replace(
        "tolerance: 0", f"tolerance: {tolerance}"
    )
    path = write("banks/num.yaml", text)
    lines = {"'value'": 9, "'tolerance'": 10}
    assert problems_of(path) == [
        f"{path}:{lines[message.split(' in ')[0]]}: {message} (write a number like 2 or 0.5)"
        for message in expected
    ]


def test_too_many_digits_and_deep_nesting_are_located_errors(write, tmp_path):
    """A 5000-digit integer (ValueError) and a 5000-deep [[[...]]] (RecursionError) were exit 3."""
    digits = make_bank(write, BANK.replace("    points: 2\n", f"    points: {'9' * 5000}\n"))
    assert problems_of(digits) == [
        f"{digits}:7:13: invalid YAML: a number with too many digits "
        "(check the indentation and quoting there)"
    ]
    deep = write("banks/deep.yaml", "id: x\ntitle: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems_of(deep) == [
        f"{deep}:2:71: invalid YAML: nested more than 64 levels deep (flatten the structure)"
    ]
    block = "".join(f"{'  ' * level}k{level}:\n" for level in range(200))
    deep_block = write("banks/block.yaml", block)
    assert problems_of(deep_block) == [
        f"{deep_block}:65:129: invalid YAML: nested more than 64 levels deep (flatten the structure)"
    ]
    subs = write("s.csv", "student,question,answer\ns1,q1,x\n")
    for path in (digits, deep):
        result = grade_cli(path, subs, tmp_path / "out")
        assert result.exit_code == 1 and result.output.startswith(f"Error: {path}:"), result.output


def test_alias_bombs_and_huge_keyword_lists_are_refused(write):
    """A 7 KB bank of aliases expanded to a million keyword terms (19 MB of evidence per answer)."""
    terms = "[" + ", ".join(f"t{i}" for i in range(1000)) + "]"
    groups = "[" + ", ".join(["*g"] * 1000) + "]"
    bomb = RUBRIC.replace(
        "      en: [[bidirectional, both directions], [context]]\n",
        f"      en: &g {terms}\n",
    ).replace("      ko: [[양방향]]\n", f"      ko: {groups}\n")
    path = make_bank(write, rubric=bomb)
    rubric_path = path.parent.parent / "rubrics" / "r1.yaml"
    (found,) = problems_of(path)
    assert found.startswith(f"{rubric_path}:7:") and found.endswith(
        "invalid YAML: aliases repeat more than 10,000 values "
        "(write the values out, or use fewer aliases)"
    ), found
    written_out = RUBRIC.replace(
        "      en: [[bidirectional, both directions], [context]]\n",
        "      en: ["
        + ", ".join(f"[{', '.join(f't{g}x{i}' for i in range(30))}]" for g in range(40))
        + "]\n",
    )
    path = make_bank(write, rubric=written_out)
    assert problems_of(path) == [
        f"{rubric_path}:6: keywords of criterion 'bidir' (en) have more than 1,000 terms "
        "(keep the groups to the terms that show the idea)"
    ]


def test_a_lone_surrogate_after_a_utf16_bom_is_a_located_error(write, tmp_path):
    """A UTF-16 BOM then an unpaired surrogate: UnicodeDecodeError (exit 3) in banks, CSV,
    GIFT and results.json alike."""
    bad = (
        b"\xff\xfe" + "id: x\ntitle: ".encode("utf-16-le") + b"\x00\xd8" + "\n".encode("utf-16-le")
    )
    bank = write("banks/u16.yaml", "")
    bank.write_bytes(bad)
    expected = "not valid UTF-16 (an unpaired surrogate or a cut character at byte 28) (save the file as UTF-8)"
    assert problems_of(bank) == [f"{bank}:2: {expected}"]
    subs = write("s.csv", "")
    subs.write_bytes(
        b"\xff\xfe" + "student,question,answer\ns1,q1,".encode("utf-16-le") + b"\x00\xd8"
    )
    result = grade_cli(make_bank(write), subs, tmp_path / "out")
    assert result.exit_code == 1 and result.output.startswith(
        f"Error: {subs}:2: not valid UTF-16 (an unpaired surrogate"
    ), result.output
    gift = write("q.gift", "")
    gift.write_bytes(b"\xff\xfe" + "::q:: What? {=yes}\n".encode("utf-16-le") + b"\x00\xd8")
    result = run("import", str(gift), "--out", str(tmp_path / "bank.yaml"))
    assert result.exit_code == 1 and f"Error: {gift}:2: not valid UTF-16" in result.output
    escaped = make_bank(write, BANK.replace("title: Demo", 'title: "De\\ud800mo"'))
    assert problems_of(escaped) == [
        f"{escaped}:2:8: invalid YAML: the text holds an unpaired surrogate (\\ud800), not a "
        "character (check the indentation and quoting there)"
    ]
    saved = write("results.json", "")
    saved.write_bytes(b"\xff\xfe" + '{"schema": "'.encode("utf-16-le") + b"\x00\xd8")
    result = run("report", str(saved), "--out", str(tmp_path / "pages"))
    assert result.exit_code == 1 and f"Error: {saved}:1: not valid UTF-16" in result.output


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "  - id: q1\n",
            '  - id: "q1\\n"\n',
            5,
            "id 'q1\\x0a' in a question has characters that are not allowed (use letters, digits, '.', '_' and '-', starting with a letter or digit)",
        ),
        (
            "languages: [en, ko]",
            'languages: [en, "ko\\n"]',
            3,
            "'ko\\x0a' in languages is not a language code (use codes like en, ko, ja, ru)",
        ),
    ],
)
def test_ids_and_language_codes_must_match_whole(write, old, new, line, message):
    """ID_PATTERN and LANGUAGE_PATTERN ended in `$`, which matches before a final newline."""
    path = make_bank(write, BANK.replace(old, new))
    assert f"{path}:{line}: {message}" in problems_of(path)


def test_a_multiple_choice_question_without_options_is_reported(write):
    """`options: []` silently dropped the question from the bank."""
    path = write(
        "banks/mc.yaml",
        "id: mc\ntitle: MC\nlanguages: [en]\nquestions:\n"
        "  - {id: q1, type: multiple_choice, points: 1, prompt: Pick, options: []}\n",
    )
    assert problems_of(path) == [f"{path}:5: question 'q1' has no options (add the options)"]


@pytest.mark.parametrize("reference", ["../secret", "/etc/passwd", "sub/r1", "r1.yaml/.."])
def test_rubric_references_are_ids_never_paths(write, tmp_path, reference):
    """`rubric:` accepted `..` and absolute paths, reading files outside the rubric folders."""
    write("secret.yaml", RUBRIC.replace("id: r1", "id: secret"))
    path = make_bank(write, BANK.replace("rubric: r1", f"rubric: '{reference}'"))
    assert problems_of(path) == [
        f"{path}:12: rubric '{reference}' is not a rubric id (name a rubric file of a rubrics "
        "folder without '.yaml', e.g. rubric: decoder-shift (no paths))"
    ]


def test_a_duplicate_key_is_reported_even_beside_syntax_only_libyaml_accepts(write):
    """A tab after a colon is accepted by libyaml and refused by the pure-Python parser, which
    used to read the file again and report the tab instead of the duplicate key."""
    text = BANK.replace("title: Demo\n", "title:\tDemo\ntitle: Again\n")
    path = make_bank(write, text)
    assert problems_of(path) == [
        f"{path}:3:1: invalid YAML: duplicate key 'title' (check the indentation and quoting there)"
    ]


# ---------------------------------------------------------------- round two: imports


MOODLE_SHORT = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
<question type="shortanswer">
<name><text>q</text></name>
<questiontext format="html"><text>What reads both ways?</text></questiontext>
<defaultgrade>{grade}</defaultgrade>
<answer fraction="{fraction}"><text>BERT</text></answer>
</question>
</quiz>
"""


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        (
            MOODLE_SHORT.format(grade="nan", fraction="100"),
            "a.xml",
            "6: <defaultgrade> is not a finite number: 'nan' (write a number like 2 or 0.5)",
        ),
        (
            MOODLE_SHORT.format(grade="1e400", fraction="100"),
            "a.xml",
            "6: <defaultgrade> is not a finite number: '1e400' (write a number like 2 or 0.5)",
        ),
        (
            MOODLE_SHORT.format(grade="1e300", fraction="100"),
            "a.xml",
            "6: <defaultgrade> is out of range: '1e300' (write a number of at most 1e+06)",
        ),
        (
            MOODLE_SHORT.format(grade="1", fraction="nan"),
            "a.xml",
            "7: the fraction of an answer is not a finite number: 'nan' (write a number like 2 or 0.5)",
        ),
        (
            "::n:: How many? {#1e400:1e400}\n",
            "n.gift",
            "1: a numeric answer is not a finite number: '1e400' (write a number like 2 or 0.5)",
        ),
        (
            "::n:: How many? {#12:1e300}\n",
            "n.gift",
            "1: a tolerance is out of range: '1e300' (write a number of at most 1e+15)",
        ),
        (
            '<?xml version="1.0" encoding="x-bogus-enc"?>\n<quiz/>\n',
            "b.xml",
            '1: the XML declaration names an unknown encoding: unknown encoding: x-bogus-enc (save the file as UTF-8 with <?xml version="1.0" encoding="UTF-8"?>)',
        ),
    ],
)
def test_imported_numbers_and_encodings_are_checked(write, tmp_path, text, name, message):
    """`<answer fraction="nan">` became credit 1 (a wrong option marked right); NaN points and a
    GIFT `{#1e400:1e400}` went into the bank; an unknown XML encoding was exit 3."""
    source = write(name, text)
    out = tmp_path / "bank.yaml"
    result = run("import", str(source), "--out", str(out))
    line, _, reason = message.partition(": ")
    if name == "b.xml":  # the whole file is unreadable
        expected = f"Error: {source}:{message}\n"
    else:  # the one question is skipped (a bad question never blocks a file), so nothing is left
        question = "n" if name == "n.gift" else "q (shortanswer)"
        expected = (
            f"Error: {source}: no question could be imported ({question} at line {line}: "
            f"{reason}) (see docs/lms.md for the supported types)\n"
        )
    assert (result.exit_code, result.output) == (1, expected)
    assert not out.exists()


# ---------------------------------------------------------------- round two: overrides, calibration


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "o.yaml",
            f"- {{student: s1, question: q1, score: {'9' * 400}}}\n",
            f"1: score '{'9' * 39}…' is not a finite number (write a number such as 2.5)",
        ),
        (
            "o.yaml",
            "- {student: s1, question: q1, score: .nan}\n",
            "1: score 'nan' is not a finite number (write a number such as 2.5)",
        ),
        (
            "o.csv",
            "student,question,score\ns1,q1,inf\n",
            "2: score 'inf' is not a finite number (write a number such as 2.5)",
        ),
        (
            "o.csv",
            "student,question,score,student\ns1,q1,1,s2\n",
            "1: the column 'student' appears twice in the header (columns 1 and 4) (remove or rename one: each row's values would be read from only one of them)",
        ),
    ],
)
def test_overrides_numbers_and_headers_are_checked(write, tmp_path, name, text, message):
    """A 400-digit score in a YAML overrides file overflowed a float (exit 3)."""
    bank = make_bank(write)
    subs = write("s.csv", "student,question,answer\ns1,q1,bidirectional context\n")
    overrides = write(name, text)
    result = grade_cli(bank, subs, tmp_path / "out", "--overrides", str(overrides))
    assert (result.exit_code, result.output) == (1, f"Error: {overrides}:{message}\n")


CALIBRATION = """\
schema: grader.calibration/2
bank: demo
fitted: {answers: 10, folds: 5}
models:
  none:
    bank: {shift: 0.2, scale: 0.8, map: [[0, 0], [1, 1]]}
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("shift: 0.2", "shift: .nan", "6: models.none.bank.shift must be a finite number, not nan"),
        (
            "shift: 0.2",
            f"shift: {'9' * 400}",
            f"6: models.none.bank.shift must be a finite number, not {'9' * 39}…",
        ),
        ("[1, 1]", f"[1, {'9' * 400}]", f"6: models.none.bank.map has a bad knot [1, {'9' * 35}…"),
        ("answers: 10", "answers: x", "3: fitted.answers must be a whole number, not 'x'"),
        ("answers: 10", "answers: .inf", "3: fitted.answers must be a whole number, not inf"),
    ],
)
def test_calibration_numbers_are_checked(write, tmp_path, old, new, message):
    """A 400-digit number or a text count in a calibration file was exit 3."""
    bank = make_bank(write)
    subs = write("s.csv", "student,question,answer\ns1,q1,bidirectional context\n")
    calibration = write("calibration.yaml", CALIBRATION.replace(old, new))
    result = grade_cli(bank, subs, tmp_path / "out", "--calibration", str(calibration))
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {calibration}:{message}"), result.output


# ---------------------------------------------------------------- round two: no row lost


def test_an_unterminated_quote_is_reported_and_the_rows_it_took_in_are_graded(write, tmp_path):
    """`s1,q1,"T5 encoder` with no closing quote swallowed s2's row into s1's answer and reported
    nothing ("Graded 1 answers ... 0 row problems")."""
    bank = make_bank(write)
    subs = write(
        "s.csv", 'student,question,answer\ns1,q1,"T5 encoder\ns2,q1,BERT\ns3,q1,bidirectional\n'
    )
    out = tmp_path / "out"
    result = grade_cli(bank, subs, out)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"Warning: {subs}:2: a quote opened in this row is never closed: it runs to the end of "
        "the file and would swallow lines 3–4 (close the quote; the lines after it are read as "
        "rows of their own)\nGraded 2 answers from 2 students ("
    ), result.output
    assert "1 row problems)." in result.output.splitlines()[1], result.output
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [student["id"] for student in data["students"]] == ["s2", "s3"]
    assert answer_of(data, "s2", "q1")["answer"] == "BERT"


def test_text_after_a_closing_quote_is_a_row_problem_and_the_next_rows_are_read(write):
    subs = write(
        "s.csv", 'student,question,answer\ns1,q1,"T5 encoder\ns2,q1,"BERT" reads\ns3,q1,x\n'
    )
    read = read_submissions(subs)
    assert [(row.student, row.line) for row in read.rows] == [("s3", 4)]
    assert [str(problem) for problem in read.problems] == [
        f"{subs}:2: unreadable CSV row: ',' expected after '\"' (it runs on to line 3) (check its "
        'quotes: a quoted field ends with " before the next comma; write "" for a quote inside it)',
        f"{subs}:3: unreadable CSV row: ',' expected after '\"' (check its quotes: a quoted field "
        'ends with " before the next comma; write "" for a quote inside it)',
    ]


def test_a_field_over_the_csv_modules_limit_loses_no_row(write):
    """A field over the csv module's 16 MiB limit dropped every row after it with one warning."""
    subs = write("s.csv", "")
    subs.write_text(
        'student,question,answer\ns1,q1,"' + "x" * (17 * 1024 * 1024) + '"\ns2,q1,BERT\ns3,q1,ok\n',
        encoding="utf-8",
    )
    read = read_submissions(subs)
    assert [(row.student, row.line) for row in read.rows] == [("s2", 3), ("s3", 4)]
    assert [str(problem) for problem in read.problems] == [
        f"{subs}:2: the answer of student 's1' to 'q1' is 17,825,792 characters long; answers "
        "over 1,000,000 characters are not graded (shorten it, or grade it by hand)"
    ]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])  # raw in JSON text
def test_jsonl_strings_may_hold_line_separators(write, separator):
    """Lines were split with str.splitlines(), which also splits at U+2028, U+2029 and NEL, which
    a JSON string may hold as they are: the row was reported broken and dropped. (The other
    characters splitlines splits at are controls, which JSON must escape.)"""
    rows = [
        {"student": "s1", "question": "q1", "answer": f"bidirectional{separator}context"},
        {"student": "s2", "question": "q1", "answer": "x"},
    ]
    subs = write("s.jsonl", "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    read = read_submissions(subs)
    assert [(row.student, row.answer, row.line) for row in read.rows] == [
        ("s1", f"bidirectional{separator}context", 1),
        ("s2", "x", 2),
    ]
    assert read.problems == ()


def test_a_duplicate_header_is_refused(write, tmp_path):
    """`student,question,answer,student` credited one student's answer to another."""
    subs = write("s.csv", "student,question,answer,student\ns1,q1,bidirectional context,s2\n")
    result = grade_cli(make_bank(write), subs, tmp_path / "out")
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {subs}:1: the column 'student' appears twice in the header (columns 1 and 4) "
        "(remove or rename one: each row's values would be read from only one of them)\n",
    )


def test_bad_jsonl_rows_are_row_problems_and_the_rest_of_the_class_is_graded(write, tmp_path):
    """One such row (a 5000-digit id, a 400-digit score, 100k-deep nesting, "\\ud800") aborted
    the whole class with exit 3."""
    lines = [
        '{"student": "s1", "question": "q1", "answer": "bidirectional context"}',
        '{"student": ' + "1" * 5000 + ', "question": "q1", "answer": "x"}',
        '{"student": "s3", "question": "q1", "answer": "x", "score": ' + "9" * 400 + "}",
        '{"student": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"student": "s5", "question": "q1", "answer": "\\ud800"}',
        '{"student": ["s6"], "question": "q1", "answer": "x"}',
        '{"student": NaN, "question": "q1", "answer": "x"}',
        '{"student": "s8", "question": "q1", "answer": {"text": "x"}}',
        '{"student": "s9", "question": "q1", "answer": "bidirectional"}',
    ]
    subs = write("s.jsonl", "\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = grade_cli(make_bank(write), subs, out)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [student["id"] for student in data["students"]] == ["s1", "s3", "s9"]
    assert [(p["line"], p["message"]) for p in data["problems"]] == [
        (2, "not valid JSON: a number with too many digits"),
        (3, f"score '{'9' * 39}…' is not a finite number"),
        (4, "not valid JSON: nested too deeply"),
        (5, "the answer holds an unpaired surrogate (\\ud800), which is not a character"),
        (6, "the student must be text, not a list"),
        (7, "the student must be text, not nan"),
        (8, "the answer must be text, not an object"),
    ]


# ---------------------------------------------------------------- round two: smaller holes


def test_an_answer_over_the_size_limit_is_a_row_problem(write, tmp_path):
    """One 5 MB answer took 226 s to grade (1 MB: 18 s)."""
    subs = write("s.csv", "")
    subs.write_text(
        "student,question,answer\ns1,q1," + "word " * 200_001 + "\ns2,q1,bidirectional\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = grade_cli(make_bank(write), subs, out)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"Warning: {subs}:2: the answer of student 's1' to 'q1' is 1,000,005 characters long; "
        "answers over 1,000,000 characters are not graded (shorten it, or grade it by hand)\n"
    )
    check = run(
        "check", str(make_bank(write)), "q1", "--answer", "x" * 1_000_001, "--model", "none"
    )
    assert (check.exit_code, check.output) == (
        1,
        "Error: the answer is 1,000,001 characters long; answers over 1,000,000 characters are "
        "not graded (shorten it)\n",
    )


def test_a_long_student_id_gets_a_page_whose_name_fits_the_file_system(write, tmp_path):
    """70 U+20000 characters (280 bytes) made the temporary file name longer than 255 bytes:
    no student pages at all, and the error blamed the folder."""
    student = "\U00020000" * 70
    subs = write("s.csv", f"student,question,answer\n{student},q1,bidirectional context\n")
    out = tmp_path / "out"
    result = grade_cli(make_bank(write), subs, out)
    assert result.exit_code == 0, result.output
    (page,) = (out / "students").iterdir()
    assert len(page.name.encode("utf-8")) <= 100 and page.name.startswith("\U00020000")
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["students"][0]["id"] == student


def test_control_characters_in_ids_are_escaped_in_every_message(write, tmp_path):
    """Student or question ids with terminal escapes were echoed raw: a warning could clear the
    screen or retitle the terminal."""
    evil = "evil\x1b[2J\x1b]0;PWNED\x07\u202e\x9b"
    subs = write("s.jsonl", json.dumps({"student": evil, "question": evil, "answer": "x"}) + "\n")
    out = tmp_path / "out"
    result = grade_cli(make_bank(write), subs, out)
    assert result.exit_code == 0, result.output
    escaped = "evil\\x1b[2J\\x1b]0;PWNED\\x07\\x9b"  # the bidi override is dropped from ids
    assert f"Warning: {subs}:1: unknown question '{escaped}'" in result.output
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]", result.output)
    as_json = grade_cli(make_bank(write), subs, out, "--json")
    assert as_json.exit_code == 0 and not re.search(
        "[\x00-\x1f\x7f-\x9f\u202e]", as_json.output.replace("\n", "")
    )
    bank = make_bank(write, BANK.replace("id: demo", 'id: "demo\\e[2J"'))
    validated = run("validate", str(bank))
    assert validated.exit_code == 1 and "id 'demo\\x1b[2J' in the bank" in validated.output
    assert "\x1b" not in validated.output


def test_outputs_follow_the_umask(write, tmp_path):
    """Every output file was mode 0600 (from mkstemp)."""
    bank = make_bank(write)
    subs = write("s.csv", "student,question,answer\ns1,q1,bidirectional context\n")
    for umask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        out = tmp_path / f"out-{umask:o}"
        command = [sys.executable, "-m", "grader", "grade", str(bank), str(subs), "--out", str(out)]
        command += ["--model", "none", "--no-cache"]
        shell = f"umask {umask:03o} && exec " + " ".join(shlex.quote(part) for part in command)
        done = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        files = [path for path in out.rglob("*") if path.is_file()]
        assert len(files) > 4
        assert {path.stat().st_mode & 0o777 for path in files} == {mode}, umask


def test_report_uses_the_recorded_bank_only_while_its_sha256_matches(write, tmp_path):
    """`grader report` used the bank at the recorded path without checking its sha256."""
    bank = make_bank(write)
    subs = write("s.csv", "student,question,answer\ns1,q1,bidirectional context\n")
    out = tmp_path / "out"
    assert grade_cli(bank, subs, out).exit_code == 0
    pages = tmp_path / "pages"
    same = run("report", str(out / "results.json"), "--out", str(pages))
    # the class page, and the instructor's and the student's page of s1
    assert same.exit_code == 0 and same.output == f"Wrote 3 pages to {pages}\n"
    assert "What does BERT use?" in (pages / "students" / "s1.html").read_text(encoding="utf-8")
    bank.write_text(BANK.replace("What does BERT use?", "Edited since"), encoding="utf-8")
    changed = run("report", str(out / "results.json"), "--out", str(pages))
    assert changed.exit_code == 0
    assert changed.output == (
        f"Warning: {bank}: the bank changed since grading (its sha256 is not the one in "
        f"{out / 'results.json'}); the pages leave out its prompts and model answers (give "
        f"--bank to use it anyway)\nWrote 3 pages to {pages}\n"
    )
    page = (pages / "students" / "s1.html").read_text(encoding="utf-8")
    assert "Edited since" not in page and "What does BERT use?" not in page
    forced = run("report", str(out / "results.json"), "--out", str(pages), "--bank", str(bank))
    assert forced.exit_code == 0 and "Warning" not in forced.output
    assert "Edited since" in (pages / "students" / "s1.html").read_text(encoding="utf-8")


def test_repeated_row_problems_are_summarised(write, tmp_path):
    """1M duplicate rows gave a 318 MB index.html listing 999,999 warnings."""
    rows = "".join(f"s1,q1,try {number}\n" for number in range(250))
    subs = write("s.csv", "student,question,answer\n" + rows + "s2,q9,x\n")
    out = tmp_path / "out"
    result = grade_cli(make_bank(write), subs, out)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning")]
    assert len(warnings) == 101
    assert result.output.count("\n  ") == 2
    assert (
        "Warning: 150 more row problems (results.json lists them all), by kind:\n"
        "  249 × student '…' answered '…' again at line …\n"
        "  1 × unknown question '…'\n"
    ) in result.output
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count("answered &#39;q1&#39; again at line") == 100
    assert "The first 100 of 250 problems; results.json lists them all." in page
    assert '<td class="num">249</td>' in page
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(data["problems"]) == 250


def _set(path: tuple[str | int, ...], value: object):
    def change(data: dict) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


DAMAGE = [
    (("students", 0, "total"), "abc", "students[0].total must be a finite number, not text"),
    (
        ("students", 0, "questions", 0, "score"),
        float("nan"),
        "students[0].questions[0].score must be a finite number, not nan",
    ),
    (
        ("students", 0, "questions", 0, "points"),
        1e400,
        "students[0].questions[0].points must be a finite number, not inf",
    ),
    (
        ("students", 0, "questions", 0, "answers", 0, "score"),
        10**400,
        "students[0].questions[0].answers[0].score must be a finite number, not 1" + "0" * 38 + "…",
    ),
    (
        ("students", 0, "questions", 0, "answers", 0, "score"),
        99,
        "students[0].questions[0].answers[0].score is 99, outside 0..2",
    ),
    (("students", 0, "questions"), {}, "students[0].questions must be a list, not an object"),
    (("students", 0, "id"), 5, "students[0].id must be text, not a number"),
    (
        ("students", 0, "questions", 0, "answers", 0, "answer"),
        "\ud800",
        "students[0].questions[0].answers[0].answer holds an unpaired surrogate (a \\ud800-style escape), not a character",
    ),
    (
        ("students", 0, "questions", 0, "answers", 0, "line"),
        -1,
        "students[0].questions[0].answers[0].line must be a whole number from 0, not -1",
    ),
    (
        ("students", 0, "questions", 0, "answers", 0, "answered"),
        "yes",
        "students[0].questions[0].answers[0].answered must be true or false, not text",
    ),
    (("settings", "floor"), float("inf"), "settings holds inf, which is not a finite number"),
    (("students", 1, "id"), "s1", "students[1] repeats the student 's1'"),
    (
        ("students", 1, "questions"),
        [],
        "students[1] does not have the questions of students[0] in their order",
    ),
    (("summary",), None, "summary must be an object, not null"),
    (
        ("students", 0, "questions", 0, "answers"),
        [],
        "students[0].questions[0].answers is empty: a question has one answer, or one per "
        "challenge step",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    DAMAGE,
    ids=[m.split(" ")[0] + "-" + str(i) for i, (_, _, m) in enumerate(DAMAGE)],
)
def test_hand_edited_results_are_damaged_with_the_field_named(
    write, tmp_path, path, value, message
):
    """Fields of the wrong type in results.json ended `report`, `review` and `export` in exit 3."""
    bank = make_bank(write)
    subs = write("s.csv", "student,question,answer\ns1,q1,bidirectional context\ns2,q1,x\n")
    out = tmp_path / "out"
    assert grade_cli(bank, subs, out).exit_code == 0
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    _set(path, value)(data)
    damaged = write("damaged.json", json.dumps(data))  # NaN and \ud800 as JSON writes them
    expected = (
        f"Error: {damaged}: damaged results file: {message} (re-run grader grade, or undo the "
        "hand edit)\n"
    )
    for command in (
        ("report", str(damaged), "--out", str(tmp_path / "pages")),
        ("review", str(bank), str(damaged), "--out", str(tmp_path / "pages")),
        ("export", str(damaged), "--format", "canvas-csv", "--out", str(tmp_path / "c.csv")),
    ):
        result = run(*command)
        assert (result.exit_code, result.output) == (1, expected), command
    assert not (tmp_path / "pages").exists() or not any((tmp_path / "pages").rglob("*.html"))
