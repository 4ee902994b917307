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
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.grading import GradeOptions, grade
from grader.loader import load_bank, validate_paths
from grader.submissions import Submission, read_submissions
from tests.conftest import ROOT
from tests.test_loader import BANK, RUBRIC, make_bank

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
    assert results.students[0].questions[0].score == 2.0


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
    assert (result.score, result.answered) == (0.0, False)
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
    assert {s.id: s.total for s in results.students} == {
        "zero-width": 2.0,
        "look-alike": 2.0,
        "full-width": 2.0,
    }


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


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_folder_by_permissions(write, tmp_path):
    bank = make_bank(write)
    subs = write("s.csv", "student,question,answer\ns1,q1,x\n")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    result = grade_cli(bank, subs, out)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {out}: the folder is not writable (choose another --out folder or fix its "
        "permissions)\n"
    )


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

    from grader.yamlread import _FastLineLoader, _LineLoader

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
    templates = [path.name for path in (ROOT / "grader" / "templates").iterdir()]
    assert templates and not [
        name
        for name in templates
        if "|safe" in (ROOT / "grader" / "templates" / name).read_text(encoding="utf-8")
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
