"""Rubric regular expressions: RE2 (linear time), case-insensitive, compiled once."""

from __future__ import annotations

from functools import lru_cache


def compile_regex(pattern: str) -> object:
    """Compile an RE2 pattern (case-insensitive); a bad pattern raises ValueError(message)."""
    return _compile_regex(pattern)


@lru_cache(maxsize=4096)
def _compile_regex(pattern: str) -> object:
    import re2

    if not pattern:
        raise ValueError("empty regular expression")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        message = error.args[0] if error.args else str(error)
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise ValueError(f"invalid regular expression {pattern!r}: {message}") from None
