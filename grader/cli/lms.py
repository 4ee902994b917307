"""grader import and export: question banks from an LMS, grades back to it."""

from __future__ import annotations

from pathlib import Path

import click

from grader.bank import DEFAULT_REVEAL, REVEAL_CHOICES
from grader.cli.common import call, cli, emit_json, json_option, say, warn
from grader.errors import printable
from grader.lms.plan import DEFAULT_ITEMS, EXPORT_FORMATS, ITEMS


@cli.command(name="import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The bank file to write."
)
@click.option(
    "--lang", "language", default="en", show_default=True, help="The language of the questions."
)
@click.option("--id", "bank_id", default=None, help="The bank's id (default: from the file name).")
@json_option
def import_(source: Path, out: Path, language: str, bank_id: str | None, as_json: bool) -> None:
    """Import a Moodle XML or GIFT question file as a bank."""
    from grader.lms.import_ import import_questions, write_bank_yaml

    result = call(import_questions, source, language, bank_id)
    call(write_bank_yaml, result, out)
    if as_json:
        emit_json(
            {
                "ok": True,
                "format": result.format,
                "questions": len(result.bank.get("questions", [])),
                "skipped": result.skipped,
                "notes": result.notes,
                "file": str(out),
            }
        )
        return
    for skipped in result.skipped:
        warn(f"Skipped: {skipped}")
    for note in result.notes:
        warn(f"Note: {note}")
    count = len(result.bank.get("questions", []))
    say(f"Imported {count} questions from {source} ({result.format}) into {out}")


@cli.command()
@click.argument("results_file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    required=True,
    help="The LMS file: Moodle's grade import CSV, a Canvas gradebook CSV, or JSON Lines.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The file to write.")
@click.option(
    "--roster",
    type=click.Path(path_type=Path),
    default=None,
    help="Maps student ids to LMS identities.",
)
@click.option(
    "--gradebook",
    type=click.Path(path_type=Path),
    default=None,
    help="canvas-csv: a Canvas gradebook export; its assignments and students are reused.",
)
@click.option(
    "--items",
    type=click.Choice(ITEMS),
    default=DEFAULT_ITEMS,
    show_default=True,
    help="Grade items: one per question, the bank total, or both.",
)
@click.option("--identifier", default=None, help="Moodle's identifier column: email or idnumber.")
@click.option(
    "--feedback", is_flag=True, help="moodle-csv, jsonl: add each question's feedback text."
)
@click.option(
    "--reveal",
    type=click.Choice(REVEAL_CHOICES),
    default=DEFAULT_REVEAL.value,
    show_default=True,
    help="With --feedback: what feedback students may see, as for the student pages.",
)
@click.option(
    "--allow-unmatched",
    is_flag=True,
    help="Exit 0 even when students the LMS cannot match are left out.",
)
@json_option
def export(
    results_file: Path,
    fmt: str,
    out: Path,
    roster: Path | None,
    gradebook: Path | None,
    items: str,
    identifier: str | None,
    feedback: bool,
    reveal: str,
    allow_unmatched: bool,
    as_json: bool,
) -> None:
    """Export grades from a results.json for Moodle, Canvas or scripts."""
    from grader.lms.export import export_grades, unmatched_path, write_export
    from grader.output.results_json import load_results

    results = call(load_results, results_file)
    result = call(
        export_grades,
        results,
        fmt,
        roster,
        items=items,
        identifier=identifier,
        gradebook=gradebook,
        feedback=feedback,
        reveal=reveal,
    )
    written = call(write_export, result, out)
    left_out = bool(result.unmatched_text)
    if as_json:
        emit_json(
            {
                "ok": allow_unmatched or not left_out,
                "format": fmt,
                "file": str(out),
                "unmatched": result.unmatched,
                "unmatched_file": str(written[1]) if left_out else None,
                "notices": result.notices,
            }
        )
    else:
        for notice in result.notices:
            warn(notice)
        if result.unmatched and not left_out:
            warn(
                "Not in the roster (exported under their grader id): " + ", ".join(result.unmatched)
            )
        say(f"Wrote {out} ({fmt})")
    if not left_out:
        return
    names = ", ".join(result.unmatched)
    message = (
        f"{len(result.unmatched)} student(s) left out of {out}, the LMS could not match them: "
        f"{names}; their grades are in {unmatched_path(out)}"
    )
    if allow_unmatched:
        if not as_json:
            warn(message)
        return
    raise click.ClickException(
        printable(message + " (fix the roster and export again, or pass --allow-unmatched)")
    )
