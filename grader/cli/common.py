"""What every command shares: the group, common options, error and interrupt handling, output."""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from grader.errors import ExitCode, GraderError, printable
from grader.evidence import DEFAULT_DEVICE

T = TypeVar("T")
REVEAL_HELP = (
    "What students see besides their score and the criteria they met: none, missed (what they "
    "missed, hints, feedback) or all (also model answers). Default: the bank's 'reveal' setting."
)
# Characters json.dumps(ensure_ascii=False) leaves as they are that a terminal acts on (C1
# controls) or that reorder the text around them (bidi overrides and isolates).
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _fail(error: GraderError) -> click.ClickException:
    # ClickException exits with 1; control characters from the input are shown as escapes.
    return click.ClickException(printable(str(error), keep_newlines=True))


def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a library function; a GraderError becomes a click error (exit 1, no traceback)."""
    try:
        return function(*args, **kwargs)
    except GraderError as error:
        raise _fail(error) from None


def emit_json(document: Any, indent: int | None = 1) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=indent)
    click.echo(_RAW_IN_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", text))


def say(message: str) -> None:
    """A line for stdout, with control characters from the input shown as escapes."""
    click.echo(printable(message, keep_newlines=True))


def warn(message: str) -> None:
    click.echo(printable(message, keep_newlines=True), err=True)


def raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def interruptible(out_dir: Path | None) -> Iterator[None]:
    """Ctrl-C or SIGTERM: stop cleanly (temporary files removed), say what ``out_dir`` holds."""
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    except KeyboardInterrupt as interrupt:
        from grader.fsutil import CommittedInterrupt

        where = f" in {out_dir}" if out_dir else ""
        if isinstance(interrupt, CommittedInterrupt):
            warn(f"Interrupted: the new outputs{where} were already in place, whole.")
        else:
            warn(f"Interrupted: nothing half-written; earlier outputs{where} are intact.")
        sys.exit(ExitCode.INTERRUPTED)
    finally:
        signal.signal(signal.SIGTERM, previous)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
)
model_option = click.option(
    "--model",
    default=None,
    help="Embedding model: auto, minilm, use-multilingual, none (keywords only), "
    "or a sentence-transformers id or folder. Default: the bank's setting (auto).",
)
device_option = click.option(
    "--device", default=DEFAULT_DEVICE, show_default=True, help="auto, cpu, cuda or cuda:N."
)
cache_options = [
    click.option(
        "--cache-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Cache folder (embeddings and language analyses).",
    ),
    click.option("--no-cache", is_flag=True, help="Do not read or write the cache."),
]
rubrics_option = click.option(
    "--rubrics",
    "rubric_dirs",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Another folder to look for rubrics in (repeatable).",
)


def with_cache_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(cache_options):
        function = option(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="grader")
def cli() -> None:
    """Grade free-text answers and multi-step challenges in several languages, offline."""
