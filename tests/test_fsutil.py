from __future__ import annotations

import os

import pytest

from grader.errors import GraderError
from grader.fsutil import (
    Identifier,
    atomic_write,
    csv_text,
    plain_identifier,
    safe_cell,
    safe_file_names,
)


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


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(GraderError):
        atomic_write(folder / "x", "y")


def test_out_path_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(GraderError) as caught:
        atomic_write(blocker / "r.json", "y")
    assert (
        str(caught.value) == f"{blocker}: exists and is not a folder (choose another --out folder)"
    )
