"""Errors a user can fix. The CLI prints them without a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located as precisely as we can."""

    file: str
    line: int | None
    message: str
    fix: str = ""
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.line and self.column:
            where += f":{self.column}"
        return f"{where}: {self.message}" + (f" ({self.fix})" if self.fix else "")


class GraderError(Exception):
    """A mistake in the user's input or command; the message says where and how to fix it."""

    exit_code = 1

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
