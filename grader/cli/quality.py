"""grader evaluate and calibrate: agreement with human scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grader.cli.common import (
    call,
    cli,
    device_option,
    emit_json,
    json_option,
    model_option,
    rubrics_option,
    say,
    with_cache_options,
)

if TYPE_CHECKING:
    from grader.pipeline import AgreementRequest
    from grader.quality.evaluation import Evaluation


def _agreement_request(**options: Any) -> AgreementRequest:
    from grader.pipeline import AgreementRequest

    return AgreementRequest(
        bank=options["bank"],
        graded=options["graded"],
        model=options["model"],
        device=options["device"],
        cache_dir=options["cache_dir"],
        use_cache=not options["no_cache"],
        rubric_dirs=options["rubric_dirs"],
        calibration=options.get("calibration"),
        overrides=options.get("overrides"),
        results=options.get("results"),
    )


def _print_evaluation(evaluation: Evaluation, title: str = "") -> None:
    from grader.quality.evaluation import format_agreement

    if title:
        say(title)
    width = max([len("overall"), *(len(question) for question in evaluation.questions)])
    say(f"  {'overall':<{width}} {format_agreement(evaluation.overall)}")
    for question, agreement in evaluation.questions.items():
        say(f"  {question:<{width}} {format_agreement(agreement)}")


@cli.command()
@click.argument("bank", type=click.Path(path_type=Path))
@click.argument("graded")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write an HTML page here.",
)
@click.option(
    "--calibration", type=click.Path(path_type=Path), default=None, help="A calibration.yaml."
)
@model_option
@device_option
@with_cache_options
@rubrics_option
@json_option
def evaluate(out_dir: Path | None, as_json: bool, **options: Any) -> None:
    """Agreement with human scores: GRADED is a submissions file with a score column."""
    from grader.pipeline import evaluate_file
    from grader.quality.evaluation import evaluation_to_dict

    evaluation, written = call(evaluate_file, _agreement_request(**options), out_dir)
    if as_json:
        emit_json(
            {"ok": True, **evaluation_to_dict(evaluation), "files": [str(p) for p in written]}
        )
        return
    _print_evaluation(evaluation, f"Agreement with the human scores ({evaluation.bank}):")
    for path in written:
        say(f"Wrote {path}")


@cli.command()
@click.argument("bank", type=click.Path(path_type=Path))
@click.argument("graded", required=False, default="")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The calibration.yaml to write."
)
@click.option(
    "--overrides",
    type=click.Path(path_type=Path),
    default=None,
    help="Use instructor overrides as graded answers too.",
)
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    default=None,
    help="The results.json the overrides were made on.",
)
@model_option
@device_option
@with_cache_options
@rubrics_option
@json_option
def calibrate(out: Path, as_json: bool, **options: Any) -> None:
    """Fit the scoring parameters to human-scored answers (GRADED and/or --overrides)."""
    from grader.pipeline import calibrate_file
    from grader.quality.evaluation import evaluation_to_dict

    if not options["graded"] and options["overrides"] is None:
        raise click.UsageError("give GRADED (answers with a score column) or --overrides")
    fit = call(calibrate_file, _agreement_request(**options), out)
    if as_json:
        emit_json(
            {
                "ok": True,
                "file": str(out),
                "before": evaluation_to_dict(fit.before),
                "after": evaluation_to_dict(fit.after),
            }
        )
        return
    _print_evaluation(fit.before, "Held-out agreement before calibration:")
    _print_evaluation(fit.after, "Held-out agreement after calibration (cross-validated):")
    say(f"Wrote {out}")
