"""Numbers read from files people write: finite, in range, or refused with a reason.

YAML reads ``.nan`` and ``.inf`` as floats, JSON reads ``NaN`` and ``Infinity``, ``float()`` reads
``"nan"`` and ``"1e400"`` (infinity), and a 400-digit integer overflows a float. None of these
may reach a score: every number from a bank, rubric, calibration, overrides file, import or
results.json goes through ``finite_number``.
"""

from __future__ import annotations

import math

MAX_POINTS = 1_000_000.0  # points of a question, step or criterion, and penalties
MAX_MAGNITUDE = 1e15  # numeric answers and tolerances (integers are exact below 2**53)


def finite_number(value: object) -> float | None:
    """``value`` as a finite float when it is an int or float (not a bool); else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range
        return None
    return number if math.isfinite(number) else None


def parse_finite(text: str) -> float | None:
    """A finite float from text ("2", "0.5", "-1e3"); None for "nan", "inf", overflow or words."""
    try:
        number = float(text)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def is_number_text(text: str) -> bool:
    """Whether ``text`` reads as a number, finite or not ("2", "nan", "-inf", "1e400")."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def describe(value: object, limit: int = 40) -> str:
    """A short rendering of a bad value for a message (a 400-digit number is not echoed whole)."""
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except ValueError:  # an int with more digits than str() converts
        return "a number with thousands of digits"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unpaired_surrogate(text: str) -> int | None:
    """The position of the first lone UTF-16 surrogate in ``text`` (a JSON or YAML escape like
    \\ud800 makes one; no file can hold it as UTF-8), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None
