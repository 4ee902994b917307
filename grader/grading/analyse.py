"""Stage 2: each distinct answer's language (declared or detected) and its analysis."""

from __future__ import annotations

import unicodedata

from grader.grading.run import Run
from grader.text.analysis import analyze
from grader.text.scripts import detect_language


def analyse_answers(run: Run) -> None:
    """Closed questions and empty answers keep the declared language and get no analysis."""
    bank = run.bank
    for answer in run.unique:
        text = answer.row.answer
        if answer.gradable.closed is not None or not visible(text):
            answer.language = answer.row.language or ""
            continue
        language = answer.row.language or detect_language(text, bank.languages) or bank.languages[0]
        answer.language = language
        answer.analysis = analyze(text, language, run.store)


def visible(text: str) -> bool:
    """Whether the text shows anything: not only spaces, zero-width characters or a BOM."""
    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text)
