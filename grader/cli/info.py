"""grader validate, languages and models: checking banks and listing what is installed."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.cli.common import call, cli, emit_json, json_option, rubrics_option, say, warn
from grader.errors import ExitCode


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@rubrics_option
@json_option
def validate(paths: tuple[str, ...], rubric_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Check banks and rubrics (files or folders) and list every problem."""
    from grader.evidence.language_support import describe
    from grader.load.loader import bank_languages, validate_paths

    problems = call(validate_paths, paths, rubric_dirs)
    languages = [] if problems else [describe(code) for code in bank_languages(paths, rubric_dirs)]
    if as_json:
        emit_json(
            {
                "ok": not problems,
                "problems": [problem.__dict__ for problem in problems],
                "languages": languages,
            }
        )
    else:
        for problem in problems:
            warn(f"Error: {problem}")
        if not problems:
            say(f"OK: {', '.join(paths)}")
            if languages:
                say("What the grader does for each language of these banks:")
                say(describe_languages(languages))
    if problems:
        if not as_json:
            warn(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found.")
        sys.exit(ExitCode.USER_ERROR)


def describe_languages(languages: list[dict[str, str]]) -> str:
    lines = []
    for found in languages:
        lines.append(f"  {found['language']:<4}{found['name']}")
        for key in ("analyser", "negation", "compounds", "encoder"):
            lines.append(f"      {key + ':':<11}{found[key]}")
    return "\n".join(lines)


@cli.command()
@json_option
def languages(as_json: bool) -> None:
    """What the grader does for each language it has a profile for (and for the others)."""
    from grader.evidence.language_support import describe
    from grader.text.languages import PROFILED_LANGUAGES

    found = [describe(code) for code in PROFILED_LANGUAGES]
    if as_json:
        emit_json(found)
        return
    say(describe_languages(found))
    say(
        "  Any other language: words at spaces, Snowball stems where Snowball has the language, "
        "no negation; see docs/languages.md to add one."
    )


@cli.command()
@json_option
def models(as_json: bool) -> None:
    """List the embedding models available here (packaged, cached, configured)."""
    from grader.evidence.models import auto_model_for, available_models

    found = call(available_models)
    if as_json:
        emit_json([{**model.__dict__, "languages": model.languages} for model in found])
        return
    for model in found:
        languages = ", ".join(model.languages) if model.languages else "any"
        say(
            f"{model.name:<24} {model.backend:<22} {model.source:<10} "
            f"dim={model.dimension or '?':<5} "
            f"languages: {languages}"
        )
    auto = ", ".join(f"{lang}->{auto_model_for(lang)}" for lang in ("en", "ko", "ja", "ru", "zh"))
    say(f"auto picks: {auto}")
