"""HTML reports: the class overview, and per student an instructor page and the student's page.

The instructor's pages keep everything (flags, the automatic score under an override, how each
credit was reached, the matched evidence and the expected keywords). The student's page shows
only what ``grader.output.student_view`` lets a student see, rounded as the bank says.

Every page is self-contained (CSS, SVG and the one small script inline; no URL outside the page)
and inert: all text from answers, ids, rubrics and feedback goes through Jinja's autoescaping,
bidirectional-override and control characters are shown as visible markers, and a
Content-Security-Policy allows only the page's own script (by hash) and nothing from the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from grader.bank import Reveal
from grader.results import Results

if TYPE_CHECKING:
    from grader.bank import Bank
from grader.fsutil import atomic_write
from grader.output.class_page import page_names, render_class
from grader.output.pages import INSTRUCTOR_FOLDER, STUDENT_FOLDER, SectionHtml, check_reveal
from grader.output.student_page import render_instructor, render_student

# ---------------------------------------------------------------- writing


def write_reports(
    results: Results,
    bank: Bank | None,
    out_dir: Path,
    reveal: str | Reveal | None = None,
    *,
    extra_sections: Sequence[SectionHtml] = (),
) -> list[Path]:
    """Write ``index.html``, ``instructor/<name>.html`` (everything, for the instructor) and
    ``students/<name>.html`` (for the student: ``reveal``, else the bank's setting) under
    ``out_dir``; returns the paths.

    Pages are written (each atomically, synced to disk) by a few threads while the next ones
    render, so waiting for the disk overlaps the rendering; the first failure is raised.
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    if reveal is not None:
        check_reveal(reveal)
    names = page_names(results)
    written = []
    pending: deque[Future[None]] = deque()
    with ThreadPoolExecutor(max_workers=_WRITERS, thread_name_prefix="write-page") as pool:
        index = out_dir / "index.html"
        html = render_class(results, bank, extra_sections)
        pending.append(pool.submit(atomic_write, index, html))
        written.append(index)
        for student in results.students:
            name = names[student.id]
            for path, html in (
                (
                    out_dir / INSTRUCTOR_FOLDER / f"{name}.html",
                    render_instructor(
                        results, student, bank, f"../{STUDENT_FOLDER}/{quote(name)}.html"
                    ),
                ),
                (
                    out_dir / STUDENT_FOLDER / f"{name}.html",
                    render_student(results, student, bank, reveal),
                ),
            ):
                pending.append(pool.submit(atomic_write, path, html))
                written.append(path)
            while len(pending) > _PENDING_PAGES or (pending and pending[0].done()):
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    return written


_WRITERS = 4  # threads writing pages (they mostly wait for the disk)
_PENDING_PAGES = 64  # rendered pages waiting to be written, at most
