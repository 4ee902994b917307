from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from grader.text import analysis
from grader.text.store import AnalysisStore, analysis_store, analysis_version

TEXTS = [
    ("BERT does not read left to right only; it sees both sides.", "en"),
    ("BERT는 양방향 문맥을 보고 가려진 토큰을 예측하지 않는다.", "ko"),
    ("BERTは双方向の文脈を使ってマスクされたトークンを予測します。", "ja"),
    ("Модель не предсказывает следующий токен. Она видит контекст.", "ru"),
    ("Mixed: 인코더 encoder и декодер", None),
]


def _refuse(*_args: object) -> None:
    raise AssertionError("analysed again instead of read from the store")


def test_analyses_come_back_from_disk_unchanged(tmp_path: Path, monkeypatch) -> None:
    analysis.clear_cache()
    with analysis_store(tmp_path) as store:
        first = [analysis.analyze(text, language, store) for text, language in TEXTS]
    assert list(tmp_path.glob("analyses-*.sqlite3"))
    analysis.clear_cache()
    monkeypatch.setattr(analysis, "_analyze", _refuse)
    with analysis_store(tmp_path) as store:
        again = [analysis.analyze(text, language, store) for text, language in TEXTS]
    assert again == first
    analysis.clear_cache()
    with pytest.raises(AssertionError, match="analysed again"):
        analysis.analyze(TEXTS[0][0], "en")  # outside the block nothing is read from disk
    analysis.clear_cache()


def test_the_file_is_keyed_by_the_analysis_code_and_analysers(tmp_path: Path) -> None:
    with analysis_store(tmp_path) as store:
        analysis.analyze("a text to keep", "en", store)
    (path,) = tmp_path.glob("analyses-*.sqlite3")
    assert path.name == f"analyses-{analysis_version()}.sqlite3"
    analysis.clear_cache()


def test_a_damaged_row_is_analysed_again(tmp_path: Path, monkeypatch) -> None:
    analysis.clear_cache()
    with analysis_store(tmp_path) as store:
        expected = analysis.analyze(TEXTS[1][0], "ko", store)
    (path,) = tmp_path.glob("analyses-*.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE vectors SET vector = ?", (b"[not json",))
    analysis.clear_cache()
    with analysis_store(tmp_path) as store:
        assert analysis.analyze(TEXTS[1][0], "ko", store) == expected
    analysis.clear_cache()


def test_a_file_that_is_not_a_database_is_replaced_with_a_warning(tmp_path: Path, caplog) -> None:
    path = tmp_path / f"analyses-{analysis_version()}.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    analysis.clear_cache()
    with caplog.at_level(logging.WARNING), analysis_store(tmp_path) as store:
        found = analysis.analyze(TEXTS[0][0], "en", store)
    assert found.tokens and "is damaged" in caplog.text
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM vectors").fetchone() == (1,)
    analysis.clear_cache()


def test_store_without_a_connection_does_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = AnalysisStore(blocker / "analyses.sqlite3")  # its folder is a file
    assert store.get("x", "en") is None
    store.put("x", "en", analysis.analyze("x", "en"))
    store.close()


def test_grading_without_the_cache_writes_no_analyses(tmp_path: Path) -> None:
    from grader.grading import GradeOptions, check_answer
    from grader.load.loader import load_bank

    bank = load_bank(Path(__file__).parents[2] / "banks" / "transformer-triad.yaml")
    folder = tmp_path / "cache"
    options = GradeOptions(model="none", cache_dir=folder, use_cache=False)
    check_answer(bank, "causal-mask", "It hides the later tokens.", "en", options)
    assert not folder.exists()
    options = GradeOptions(model="none", cache_dir=folder)
    check_answer(bank, "causal-mask", "It hides the later tokens.", "en", options)
    assert list(folder.glob("analyses-*.sqlite3"))


def test_a_second_check_analyses_none_of_the_banks_texts_again(tmp_path: Path, monkeypatch) -> None:
    """The keyword terms and references that scoring analyses deep inside come from the run's
    store too: a learner's second check (a new process) loads no analyser for them."""
    from grader.evidence.term_index import term_pattern
    from grader.grading import GradeOptions, check_answer
    from grader.load.loader import load_bank

    bank = load_bank(Path(__file__).parents[2] / "banks" / "transformer-triad.yaml")
    options = GradeOptions(model="none", cache_dir=tmp_path)
    analysis.clear_cache()
    term_pattern.cache_clear()
    first = check_answer(bank, "causal-mask", "It hides the later tokens.", "en", options)
    analysis.clear_cache()
    term_pattern.cache_clear()
    monkeypatch.setattr(analysis, "_analyze", _refuse)
    assert check_answer(bank, "causal-mask", "It hides the later tokens.", "en", options) == first
    analysis.clear_cache()
    term_pattern.cache_clear()


DAMAGED_ROWS = {
    "not JSON": b"[not json",
    "not UTF-8": b"\xff\xfe[",
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "a number instead of the norm": b'["en", [[7, 0, 4, "en", true, false, ""]], [[0, 4]]]',
    "a span past the text": b'["en", [["bert", 0, 9999, "en", true, false, ""]], [[0, 4]]]',
    "a negative span": b'["en", [["bert", -3, 4, "en", true, false, ""]], [[0, 4]]]',
    "a float offset": b'["en", [["bert", 0.5, 4, "en", true, false, ""]], [[0, 4]]]',
    "a flag that is text": b'["en", [["bert", 0, 4, "en", "yes", false, ""]], [[0, 4]]]',
    "a short token row": b'["en", [["bert", 0, 4]], [[0, 4]]]',
    "a sentence out of order": b'["en", [], [[4, 0]]]',
    "the language a list": b'[["en"], [], []]',
    "an object": b'{"language": "en"}',
    "a bare number": b"7",
}


@pytest.mark.parametrize("blob", DAMAGED_ROWS.values(), ids=DAMAGED_ROWS.keys())
def test_every_kind_of_damaged_row_is_analysed_again(tmp_path: Path, blob: bytes) -> None:
    """A damaged row is analysed again (as documented), never an error in the middle of grading."""
    text, language = TEXTS[0]
    analysis.clear_cache()
    with analysis_store(tmp_path) as store:
        expected = analysis.analyze(text, language, store)
    (path,) = tmp_path.glob("analyses-*.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE vectors SET vector = ?", (blob,))
    analysis.clear_cache()
    with analysis_store(tmp_path) as store:
        assert analysis.analyze(text, language, store) == expected
    analysis.clear_cache()
    with analysis_store(tmp_path), sqlite3.connect(path) as conn:  # and the row was replaced
        (stored,) = conn.execute("SELECT vector FROM vectors").fetchone()
        assert bytes(stored) != blob
    analysis.clear_cache()
