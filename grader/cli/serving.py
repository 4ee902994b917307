"""grader serve and attempts: the learners' self-check server and what it stored."""

from __future__ import annotations

from pathlib import Path

import click

from grader.bank import REVEAL_CHOICES
from grader.cli.common import (
    REVEAL_HELP,
    call,
    cli,
    device_option,
    emit_json,
    json_option,
    model_option,
    rubrics_option,
)
from grader.serve.server import ServeConfig


@cli.command()
@click.argument("banks", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--host", default=ServeConfig.host, show_default=True, help="The address to listen on."
)
@click.option(
    "--port", default=ServeConfig.port, show_default=True, type=int, help="The port to listen on."
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where attempts (SQLite) and the cache go. Default: beside the cache, printed at start.",
)
@click.option(
    "--access-code",
    default=None,
    envvar="GRADER_ACCESS_CODE",
    help="A code learners type once; required for any --host but 127.0.0.1 "
    "(or set GRADER_ACCESS_CODE).",
)
@click.option(
    "--workers", default=ServeConfig.workers, show_default=True, type=int, help="Server processes."
)
@click.option(
    "--rate-limit",
    default=ServeConfig.rate_limit,
    show_default=True,
    type=int,
    help="Checks a minute per client.",
)
@click.option(
    "--max-answer",
    default=ServeConfig.max_answer,
    show_default=True,
    type=int,
    help="Characters an answer may have.",
)
@click.option("--reveal", type=click.Choice(REVEAL_CHOICES), default=None, help=REVEAL_HELP)
@model_option
@device_option
@rubrics_option
def serve(
    banks: tuple[Path, ...],
    host: str,
    port: int,
    data: Path | None,
    access_code: str | None,
    workers: int,
    rate_limit: int,
    max_answer: int,
    reveal: str | None,
    model: str | None,
    device: str,
    rubric_dirs: tuple[Path, ...],
) -> None:
    """Serve BANKS to learners in the browser: pick a question, answer, get feedback."""
    from grader.serve.server import ServeConfig, check_config
    from grader.serve.server import serve as run_server

    config = ServeConfig(
        banks=banks,
        host=host,
        port=port,
        data=data,
        access_code=access_code,
        workers=workers,
        rate_limit=rate_limit,
        max_answer=max_answer,
        model=model,
        device=device,
        rubric_dirs=rubric_dirs,
        reveal=reveal,
    )
    call(check_config, config)
    call(run_server, config, click.echo)


@cli.command()
@click.argument("data", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The submissions file to write (.csv, or .jsonl for JSON Lines).",
)
@click.option(
    "--last", "pick", flag_value="last", default=True, help="Each learner's last attempt."
)
@click.option("--best", "pick", flag_value="best", help="Each learner's best attempt.")
@click.option("--bank", default=None, help="The bank's id (needed when DATA holds several).")
@json_option
def attempts(data: Path, out: Path, pick: str, bank: str | None, as_json: bool) -> None:
    """Write what learners tried in grader serve (its --data folder) as a submissions file."""
    from grader.serve.attempts import export_attempts

    written = call(export_attempts, data, out, pick, bank)
    if as_json:
        emit_json({"ok": True, "file": str(out), "attempts": len(written), "pick": pick})
        return
    learners = len({attempt.student for attempt in written})
    click.echo(
        f"Wrote {out}: {len(written)} answers ({pick} attempt each) from {learners} learners"
    )
