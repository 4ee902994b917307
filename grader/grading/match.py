"""Stage 3: the rubric's keyword evidence for every analysed answer, matched once."""

from __future__ import annotations

from grader.grading.run import Answer, Run
from grader.scoring.answer_context import KeywordSignals
from grader.scoring.signals import keyword_signals


def match_keywords(run: Run) -> None:
    for answer in run.unique:
        if answer.analysis is not None and answer.gradable.closed is None:
            keywords_of(answer)


def keywords_of(answer: Answer) -> KeywordSignals:
    """The answer's keyword evidence (matched on first use)."""
    if answer.keywords is None:
        assert answer.analysis is not None
        answer.keywords = keyword_signals(answer.gradable, answer.analysis)
    return answer.keywords
