"""Report pages in a headless Chromium: no errors, no requests, sorting works, screenshots."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

from grader.output import report
from tests.output.test_report import BANK, hostile_results

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: .ci/run installs chromium (make browser)")
        pytest.skip(
            "/usr/bin/chromium is missing (Debian: apt-get install chromium; or make browser)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("html")
    return report.write_reports(hostile_results(), BANK, out, reveal="missed")


class Watched:
    """A browser page with every error, failed request, outside request and dialog recorded."""

    def __init__(self, browser: Any, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, java_script_enabled=True)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on(
            "requestfailed", lambda request: self.problems.append(f"failed: {request.url}")
        )
        self.page.on("request", self._request)
        self.page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _request(self, request: Any) -> None:
        if not request.url.startswith(("file://", "data:", "about:")):
            self.problems.append(f"outside request: {request.url}")

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def open(self, path: Path) -> Any:
        self.page.goto(path.as_uri(), wait_until="load")
        return self.page

    def close(self) -> None:
        self.context.close()


def screenshot_name(path: Path, suffix: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", f"{path.parent.name}-{path.stem}")
    return ARTIFACTS / f"{stem}-{suffix}.png"


def test_every_page_loads_cleanly(browser: Any, pages: list[Path]) -> None:
    for viewport, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
        for path in pages:
            watched = Watched(browser, viewport)
            page = watched.open(path)
            page.wait_for_timeout(50)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            page.screenshot(path=str(screenshot_name(path, suffix)), full_page=True)
            watched.close()
            assert watched.problems == [], (path.name, suffix, watched.problems)
            assert overflow <= 1, f"{path.name} scrolls sideways on a {viewport['width']}px screen"


def test_print_layout(browser: Any, pages: list[Path]) -> None:
    watched = Watched(browser, DESKTOP)
    student_page = next(path for path in pages if path.stem == "bob")
    page = watched.open(student_page)
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('nav.toc')).display") == "none"
    page.screenshot(path=str(screenshot_name(student_page, "print")), full_page=True)
    watched.close()
    assert watched.problems == []


def test_hostile_text_shows_literally_and_runs_nothing(browser: Any, pages: list[Path]) -> None:
    watched = Watched(browser, DESKTOP)
    hostile_page = next(path for path in pages if path.stem == "evil")
    page = watched.open(hostile_page)
    heading = page.inner_text("h1")
    assert "<script>alert(1)</script>[U+202E]evil" in heading
    answer = page.inner_text(".answer")
    assert '"><img src=x onerror=alert(1)>' in answer and "{{ 7*7 }}" in answer
    assert page.locator("img").count() == 0
    assert page.evaluate("document.scripts.length") == 0
    watched.close()
    assert watched.problems == []


def _first_column(page: Any) -> list[str]:
    cells = page.locator("#student-table tbody tr td:first-child")
    return [cell.get_attribute("data-sort") for cell in cells.all()]


def _totals(page: Any) -> list[float]:
    cells = page.locator("#student-table tbody tr td:nth-child(2)")
    return [float(cell.get_attribute("data-sort")) for cell in cells.all()]


def test_student_table_sorts_on_header_click(browser: Any, pages: list[Path]) -> None:
    watched = Watched(browser, DESKTOP)
    page = watched.open(pages[0])
    before = _totals(page)
    total_header = page.locator("#student-table thead th").nth(1)
    total_header.locator("button").click()
    ascending = _totals(page)
    assert ascending == sorted(before) and total_header.get_attribute("aria-sort") == "ascending"
    total_header.locator("button").click()
    assert _totals(page) == sorted(before, reverse=True)
    assert total_header.get_attribute("aria-sort") == "descending"
    name_button = page.locator("#student-table thead th").nth(0).locator("button")
    name_button.click()
    names = _first_column(page)
    plain = [name for name in names if name.isalpha()]
    assert plain == ["alice", "bob", "dave", "erin"] and len(names) == len(before)
    name_button.click()
    assert _first_column(page) == names[::-1]
    # the links lead to the student pages, which exist
    hrefs = page.locator("#student-table tbody a").evaluate_all("links => links.map(a => a.href)")
    assert len(hrefs) == 2 * len(names)  # the instructor's page and the student's
    for href in hrefs:
        assert href.startswith("file://")
        assert Path(url2pathname(urlparse(href).path)).is_file(), href
    page.screenshot(path=str(screenshot_name(pages[0], "sorted")), full_page=True)
    watched.close()
    assert watched.problems == []


def test_the_watcher_catches_requests_and_errors(browser: Any, tmp_path: Path) -> None:
    """A negative control: a page that fetches from outside and throws must be reported."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><img src="http://127.0.0.1:9/x.png"><script>throw new Error("boom")</script>',
        encoding="utf-8",
    )
    watched = Watched(browser, DESKTOP)
    watched.open(bad)
    watched.page.wait_for_timeout(100)
    watched.close()
    assert any("outside request: http://127.0.0.1:9/x.png" in p for p in watched.problems)
    assert any("boom" in p for p in watched.problems)


# ---------------------------------------------------------------- the student's page, as a student sees it

GERMAN_BANK = """\
id: kurs
title: Transformer-Grundlagen
languages: [de, en]
settings: {display_decimals: 1}
questions:
  - id: decoder
    points: 3
    prompt: Warum setzen sich Decoder-Modelle durch?
    answers: Decoder-Modelle skalieren besser und zeigen Zero-Shot-Fähigkeiten.
    hint: Denken Sie an das Wachstum der Modelle.
    rubric:
      criteria:
        - id: skalierung
          points: 2
          keywords: [[skalieren, Skalierung]]
          feedback: {met: Richtig, missed: Nennen Sie die Skalierung.}
          hint: Was passiert, wenn das Modell wächst?
        - id: zero-shot
          points: 1
          keywords: [[zero-shot, Zero-Shot-Fähigkeiten]]
          feedback: {met: Genau, missed: Zero-Shot fehlt.}
  - id: kette
    type: challenge
    prompt: Zwei Schritte.
    steps:
      - {id: eins, points: 1, prompt: Erster Schritt, answers: Aufmerksamkeit ist quadratisch.}
      - {id: zwei, points: 1, prompt: Zweiter Schritt, answers: Sparse Attention hilft.}
"""
GERMAN_SUBMISSIONS = """\
student,question,answer,language
anna,decoder,Decoder-Modelle skalieren besser mit mehr Daten.,de
anna,kette/eins,Die Aufmerksamkeit wächst quadratisch.,de
ben,decoder,Decoder-Modelle skalieren gut und haben Zero-Shot-Fähigkeiten.,de
"""
# What only an instructor may read (in the page's language and in English).
INSTRUCTOR_ONLY = (
    "Automatische Punktzahl",
    "Automatic score",
    "Zu prüfen",
    "Needs review",
    "Wie bewertet wurde",
    "How it was scored",
    "credit =",
    "keywords ",
    "Schlüsselwörter",
    "nicht gefunden",
    "not found",
    "close to the pass mark",
    "Ähnlichkeit",
    "Similarity",
)


def test_german_student_page_in_chromium(browser: Any, tmp_path: Path) -> None:
    from grader.pipeline import GradeRequest, grade_to_folder

    bank = tmp_path / "banks" / "kurs.yaml"
    bank.parent.mkdir()
    bank.write_text(GERMAN_BANK, encoding="utf-8")
    submissions = tmp_path / "subs.csv"
    submissions.write_text(GERMAN_SUBMISSIONS, encoding="utf-8")
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(
        "student,question,score,comment\nben,decoder,0,Bitte in eigenen Worten.\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    grade_to_folder(
        GradeRequest(
            bank, str(submissions), out, model="none", use_cache=False, overrides=overrides
        )
    )
    watched = Watched(browser, DESKTOP)
    anna = watched.open(out / "students" / "anna.html")
    text = anna.text_content("main")  # as written (labels are upper-cased by the style)
    assert anna.get_attribute("html", "lang") == "de"
    for label in (
        "Studierende",
        "Frage 1",
        "Ihre Antwort",
        "Kriterien",
        "Erfüllt",
        "Fehlt",
        "Hinweis",
    ):
        assert label in text, label
    assert "Nennen Sie die Skalierung." not in text  # anna met it
    assert "Zero-Shot fehlt." in text and "Denken Sie an das Wachstum der Modelle." in text
    for english in ("Your answer", "Missing", "Score", "[Met]", "Criteria"):
        assert english not in text, english
    for secret in INSTRUCTOR_ONLY:
        assert secret not in text, secret
    anna.screenshot(path=str(screenshot_name(out / "students" / "anna.html", "de")), full_page=True)
    ben = watched.open(out / "students" / "ben.html")
    text = ben.text_content("main")
    assert (
        "Von Ihrer Lehrkraft festgelegte Punktzahl" in text and "Bitte in eigenen Worten." in text
    )
    assert "Richtig" not in text and "Genau" not in text  # overridden to 0: no criterion shown met
    assert (
        ben.locator(".criterion.met").count() == 0 and ben.locator(".criterion.missed").count() == 2
    )
    for secret in INSTRUCTOR_ONLY:
        assert secret not in text, secret
    # the instructor's page of the same student keeps everything
    instructor = watched.open(out / "instructor" / "ben.html").text_content("main")
    assert "Automatische Punktzahl" in instructor and "Wie bewertet wurde" in instructor
    watched.close()
    assert watched.problems == []
    # the total is the sum of the questions as shown (display_decimals: 1)
    from decimal import Decimal

    rows = [line.split(",") for line in (out / "grades.csv").read_text().splitlines()[1:]]
    assert [row[0] for row in rows] == ["anna", "ben"] and rows[1][1:] == ["0", "0", "0", "5"]
    for row in rows:
        scores = [Decimal(cell) for cell in row[1:4]]
        assert scores[0] + scores[1] == scores[2]
        assert all(-scores[i].as_tuple().exponent <= 1 for i in range(3))
    assert Decimal(rows[0][1]) + Decimal(rows[0][2]) > 0


def test_korean_student_page_in_chromium(browser: Any, tmp_path: Path) -> None:
    from tests.output.test_report import make_results

    results = make_results()
    out = tmp_path / "html"
    report.write_reports(results, BANK, out, reveal="none")
    watched = Watched(browser, DESKTOP)
    page = watched.open(out / "students" / "bob.html")
    text = page.text_content("main")
    assert page.get_attribute("html", "lang") == "ko"
    for label in ("학생", "나의 답안", "채점 기준", "충족", "부족", "교수자가 정한 점수", "코멘트"):
        assert label in text, label
    assert "기준 2" in text and "교수자가 놓친 기준 1개의 내용은 공개하지 않기로 했습니다." in text
    for secret in (
        "검토 필요",
        "자동 채점",
        "채점 근거",
        "유사도",
        "키워드",
        "1.5 of 4",
        "keywords",
        "Needs review",
        "zero-shot",  # the missed criterion's name is hidden by reveal=none
        "제로샷 능력을 언급하세요.",  # and its feedback
    ):
        assert secret not in text, secret
    assert page.locator("mark").count() == 0 and page.evaluate("document.scripts.length") == 0
    page.screenshot(path=str(screenshot_name(out / "students" / "bob.html", "ko")), full_page=True)
    watched.close()
    assert watched.problems == []
