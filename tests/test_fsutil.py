from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.fsutil import (
    FILE_MODE,
    MAX_NAME_BYTES,
    MAX_STEM_BYTES,
    Identifier,
    atomic_write,
    bounded,
    csv_text,
    plain_identifier,
    safe_cell,
    safe_file_names,
    staged_output,
)
from tests.conftest import ROOT, unprivileged


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("+1", "+1"),
        ("-jdoe", "-jdoe"),
        ("-a.b@x.org", "-a.b@x.org"),
        ("1001", "1001"),
        ("-2+3", "'-2+3"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("=1", "'=1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-x y", "'-x y"),
    ],
)
def test_identifiers_stay_matchable_unless_a_spreadsheet_could_run_them(cell, written):
    assert safe_cell(Identifier(cell)) == written
    assert plain_identifier(cell) == (written == cell)
    assert safe_cell(cell) == ("'" + cell if cell[0] in "+-=@" else cell)  # free text: guarded


def test_numbers_and_plain_text_are_kept():
    assert safe_cell(-2.5) == "-2.5" and safe_cell("BERT") == "BERT"
    assert csv_text(["a"], [["=1+1"]]) == "a\r\n'=1+1\r\n"


def test_safe_file_names_are_unique_and_traversal_free():
    names = safe_file_names(["s01", "../etc/passwd", "a/b", "a_b", "A_B", "Ана Петрова", ""])
    assert names["s01"] == "s01"
    assert all("/" not in n and ".." not in n and n for n in names.values())
    assert len(set(n.lower() for n in names.values())) == len(names)
    assert names["Ана Петрова"].startswith("Ана_Петрова-")


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "out" / "r.json"
    atomic_write(target, "one")
    atomic_write(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["r.json"]


def test_atomic_write_streams_chunks_and_keeps_the_old_file_when_they_fail(tmp_path):
    target = tmp_path / "r.json"
    atomic_write(target, (piece for piece in ["{", '"점수": ', "1", "}\n"]))
    assert target.read_text(encoding="utf-8") == '{"점수": 1}\n'

    def failing():
        yield "half of a new file"
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(target, failing())
    assert target.read_text(encoding="utf-8") == '{"점수": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_unwritable_folder(shared_tmp):
    """Run as an unprivileged user (root may write anywhere): see tests/conftest.unprivileged."""
    folder = shared_tmp / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    code = (
        "from pathlib import Path\n"
        "from grader.errors import GraderError\n"
        "from grader.fsutil import atomic_write\n"
        "try:\n"
        f"    atomic_write(Path({str(folder / 'x')!r}), 'y')\n"
        "except GraderError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        unprivileged([sys.executable, "-c", code]), capture_output=True, text=True, cwd=ROOT
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        f"{folder}: the folder is not writable (choose another --out folder or fix its "
        "permissions)\n"
    )
    assert list(folder.iterdir()) == []


def test_out_path_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(GraderError) as caught:
        atomic_write(blocker / "r.json", "y")
    assert (
        str(caught.value) == f"{blocker}: exists and is not a folder (choose another --out folder)"
    )


def test_generated_names_are_bounded_in_bytes():
    """70 characters of 4 bytes each made names (and temporary names) over 255 bytes."""
    ids = ["\U00020000" * 70, "é" * 200, "CON" + "\U00020000" * 100, "x" * 500]
    names = safe_file_names(ids)
    for name in names.values():
        assert len(name.encode("utf-8")) <= MAX_NAME_BYTES, name
    assert len(set(names.values())) == len(ids)
    assert bounded("\U00020000" * 3, 9) == "\U00020000" * 2  # never half a character
    assert bounded("abc", 3) == "abc"


def test_atomic_write_of_a_long_name_keeps_the_temporary_name_short(tmp_path, monkeypatch):
    created = []
    real_mkstemp = tempfile.mkstemp

    def recording_mkstemp(**options):  # type: ignore[no-untyped-def]
        handle, name = real_mkstemp(**options)
        created.append(Path(name).name)
        return handle, name

    monkeypatch.setattr(tempfile, "mkstemp", recording_mkstemp)
    target = tmp_path / ("\U00020000" * 60 + ".html")  # 245 bytes: allowed, but not with more
    atomic_write(target, "page")
    assert target.read_text(encoding="utf-8") == "page"
    (temporary,) = created
    assert len(temporary.encode("utf-8")) <= MAX_STEM_BYTES + 20


def test_atomic_write_follows_the_umask(tmp_path):
    target = tmp_path / "r.json"
    atomic_write(target, "x")
    assert target.stat().st_mode & 0o777 == FILE_MODE == 0o666 & ~current_umask()


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_staged_output_swaps_in_the_owned_entries_and_leaves_the_rest(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("old", encoding="utf-8")
    (out / "students").mkdir()
    (out / "students" / "gone.html").write_text("old page", encoding="utf-8")
    (out / "review").mkdir()
    (out / "notes.txt").write_text("the user's", encoding="utf-8")
    owned = ("results.json", "students", "review")
    with staged_output(out, owned) as staged:
        atomic_write(staged.folder / "results.json", "new")
        atomic_write(staged.folder / "students" / "kept.html", "new page")
        assert (
            staged.final(staged.folder / "students" / "kept.html") == out / "students" / "kept.html"
        )
        assert (out / "results.json").read_text(encoding="utf-8") == "old"  # not yet
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "results.json", "students"]
    assert (out / "results.json").read_text(encoding="utf-8") == "new"
    assert [p.name for p in (out / "students").iterdir()] == ["kept.html"]  # review: not written


def test_staged_output_that_fails_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), staged_output(out, ("results.json",)) as staged:
        atomic_write(staged.folder / "results.json", "new")
        raise RuntimeError("grading failed")
    assert [p.name for p in out.iterdir()] == ["results.json"]
    assert (out / "results.json").read_text(encoding="utf-8") == "old"


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path):
    """SIGKILL leaves a staging folder behind (no handler runs); the next run removes it."""
    out = tmp_path / "out"
    (out / ".grader-new-0badf00d" / "students").mkdir(parents=True)
    (out / ".grader-old-0badf00d").mkdir()
    with staged_output(out, ("results.json",)) as staged:
        atomic_write(staged.folder / "results.json", "new")
    assert [p.name for p in out.iterdir()] == ["results.json"]
