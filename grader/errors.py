"""Errors a user can fix. The CLI prints them without a traceback."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

# Characters a terminal acts on or that reorder the text around them: C0 and C1 controls (an
# escape sequence can clear the screen or retitle the window), DEL, bidirectional overrides and
# isolates, and the Unicode line and paragraph separators.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_UNPRINTABLE_BUT_NEWLINES = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` safe to show on a terminal: control and bidi characters as escapes (\\x1b)."""
    pattern = _UNPRINTABLE_BUT_NEWLINES if keep_newlines else _UNPRINTABLE
    return pattern.sub(_escape, text)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can."""

    file: str
    line: int | None
    message: str
    fix: str = ""
    column: int | None = None

    def __str__(self) -> str:
        """One line: file:line[:column]: message (fix), with control characters escaped."""
        return format_problem(self.file, self.line, self.message, self.fix, self.column)


def format_problem(
    file: str, line: int | None, message: str, fix: str = "", column: int | None = None
) -> str:
    where = f"{file}:{line}" if line else file
    if line and column:
        where += f":{column}"
    return printable(f"{where}: {message}" + (f" ({fix})" if fix else ""))


def did_you_mean(word: object, choices: Iterable[str], otherwise: str = "allowed: ") -> str:
    """A problem's fix for an unknown name: the closest of ``choices`` ("did you mean 'x'?"),
    else ``otherwise`` and the list of them ("allowed: a, b"); nothing when ``otherwise`` is ""."""
    listed = list(choices)
    close = difflib.get_close_matches(str(word), listed, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return otherwise + ", ".join(listed) if otherwise else ""


class ExitCode(IntEnum):
    """What ``grader`` exits with (docs: README, "Exit codes")."""

    OK = 0
    USER_ERROR = 1  # bad input: a located message says what to fix
    USAGE = 2  # bad options or arguments (click's own exit code)
    INTERNAL = 3  # a bug in grader
    INTERRUPTED = 130  # Ctrl-C or SIGTERM, after temporary files are removed


class GraderError(Exception):
    """A mistake in the user's input or command; the message says where and how to fix it."""

    exit_code = ExitCode.USER_ERROR

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems

    @classmethod
    def at(
        cls,
        file: str | Path,
        line: int | None,
        message: str,
        fix: str = "",
        column: int | None = None,
    ) -> GraderError:
        problem = Problem(str(file), line, message, fix, column)
        return cls(str(problem), (problem,))


class ValidationError(GraderError):
    """A bank or rubric with one or more problems; ``problems`` lists them all."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        lines = "\n".join(str(problem) for problem in problems)
        super().__init__(lines, problems)
