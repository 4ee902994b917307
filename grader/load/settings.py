"""A bank's settings: model, similarity ramp, how scores are shown, what feedback reveals."""

from __future__ import annotations

from typing import Any

from grader.bank import (
    DEFAULT_REVEAL,
    Reveal,
    Settings,
)
from grader.load.fields import (
    MAX_DISPLAY_DECIMALS,
    RETIRED_SETTINGS,
    SETTINGS_KEYS,
    Checker,
    _number,
    check_keys,
    choice,
    line_of,
    require_mapping,
)
from grader.load.yamlread import LineDict


def _settings(check: Checker, value: Any, line: int | None) -> Settings:
    if value is None:
        return Settings()
    mapping = require_mapping(check, value, line, "settings")
    if mapping is None:
        return Settings()
    for key, why in RETIRED_SETTINGS.items():
        if key in mapping:
            check.add(
                line_of(mapping, key), f"settings: {key} is no longer used: {why}", "remove it"
            )
    check_keys(check, mapping, (*SETTINGS_KEYS, *RETIRED_SETTINGS), "settings")
    model = mapping.get("model", "auto")
    if not isinstance(model, str) or not model:
        check.add(line_of(mapping, "model"), "settings: model must be a model name")
        model = "auto"
    values: dict[str, float | None] = {}
    for key in ("similarity_floor", "similarity_ceiling"):
        number = _number(check, mapping, key, "settings", required=False, positive=False)
        if number is not None and not 0 <= number <= 1:
            check.add(line_of(mapping, key), f"settings: {key} must be between 0 and 1")
            number = None
        values[key] = number
    floor, ceiling = values["similarity_floor"], values["similarity_ceiling"]
    if floor is not None and ceiling is not None and floor >= ceiling:
        check.add(
            line_of(mapping, "similarity_ceiling"),
            "settings: similarity_ceiling must be greater than similarity_floor",
        )
    defaults = Settings()
    decimals, step = _display(check, mapping)
    return Settings(
        model=model,
        similarity_floor=floor,
        similarity_ceiling=ceiling,
        display_decimals=defaults.display_decimals if decimals is None else decimals,
        display_step=step,
        reveal=_reveal(check, mapping),
    )


def _display(check: Checker, mapping: LineDict) -> tuple[int | None, float | None]:
    """How scores are rounded for students: display_decimals or display_step (not both)."""
    decimals = mapping.get("display_decimals")
    if decimals is not None and (
        isinstance(decimals, bool)
        or not isinstance(decimals, int)
        or not 0 <= decimals <= MAX_DISPLAY_DECIMALS
    ):
        check.add(
            line_of(mapping, "display_decimals"),
            f"settings: display_decimals must be a whole number from 0 to {MAX_DISPLAY_DECIMALS}",
            "e.g. display_decimals: 1",
        )
        decimals = None
    step = _number(check, mapping, "display_step", "settings", required=False, positive=True)
    scaled = None if step is None else step * 10**MAX_DISPLAY_DECIMALS
    if (
        step is not None
        and scaled is not None
        and (step > 100 or abs(scaled - round(scaled)) > 1e-6)
    ):
        check.add(
            line_of(mapping, "display_step"),
            f"settings: display_step must be at most 100 with at most {MAX_DISPLAY_DECIMALS} "
            f"decimals, not {step:g}",
            "e.g. display_step: 0.5",
        )
        step = None
    if "display_decimals" in mapping and "display_step" in mapping:
        check.add(
            line_of(mapping, "display_step"),
            "settings: give display_decimals or display_step, not both",
            "keep one of them",
        )
    return decimals, step


def _reveal(check: Checker, mapping: LineDict) -> Reveal:
    message = "settings: unknown reveal '{value}'"
    return choice(check, mapping, "reveal", Reveal, DEFAULT_REVEAL, message) or DEFAULT_REVEAL
