"""A calibration as grading uses it: per model, the bank's and each question's move of the meaning
log-odds; its file (calibration.yaml), read and written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from grader.errors import GraderError, did_you_mean
from grader.fsutil import atomic_write
from grader.load.yamlread import LineDict, load_yaml
from grader.scoring.params import ScoringParams
from grader.values import describe, finite_number

if TYPE_CHECKING:
    pass

SCHEMA = "grader.calibration/2"
NO_MODEL = "none"  # the key for keyword-only grading
ENTRY_KEYS = ("shift", "scale", "map")
QUESTION_KEYS = ("shift", "scale")
MODEL_KEYS = ("bank", "questions")
TOP_KEYS = ("schema", "bank", "fitted", "models", "held_out", "notes")
# What the reader accepts, and so what the fitting may write: (low, high) per value.
RANGES = {"shift": (-20.0, 20.0), "scale": (0.05, 20.0)}
# ---------------------------------------------------------------- the fitted values


def clamped(name: str, value: float) -> float:
    low, high = RANGES[name]
    return round(min(high, max(low, float(value))), 4)


@dataclass(frozen=True)
class Adjustment:
    """A bank's shift and scale of the meaning log-odds, and a map of the score's share."""

    shift: float = 0.0
    scale: float = 1.0
    mapping: tuple[tuple[float, float], ...] = ()  # knots (share in, share out); () = identity

    @property
    def empty(self) -> bool:
        return self == Adjustment()


@dataclass(frozen=True)
class QuestionFit:
    """A question's own move of the meaning log-odds, on top of the bank's."""

    shift: float = 0.0  # added
    scale: float = 1.0  # multiplies


@dataclass(frozen=True)
class ModelCalibration:
    """What was fitted for the answers scored with one embedding model."""

    bank: Adjustment = Adjustment()
    questions: Mapping[str, QuestionFit] = field(default_factory=dict)


@dataclass(frozen=True)
class Calibration:
    """Per model: bank-wide and per-question parameters. Passed to grading as
    ``GradeOptions(calibration=...)``."""

    bank_id: str
    models: Mapping[str, ModelCalibration]
    source: str = ""  # the file it was read from, or how it was fitted
    answers: int = 0  # human-scored answers it was fitted on
    folds: int = 0
    held_out: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def params_for(
        self, gradable_id: str, model: str | None, params: ScoringParams
    ) -> ScoringParams:
        """``params`` with the bank's fit and the question's shift for one answer."""
        fitted = self.models.get(model or NO_MODEL)
        if fitted is None:
            return params
        question = fitted.questions.get(gradable_id, QuestionFit())
        return replace(
            params,
            shift=params.shift + fitted.bank.shift + question.shift,
            scale=params.scale * fitted.bank.scale * question.scale,
            share_map=fitted.bank.mapping or params.share_map,
        )

    def check_bank(self, bank_id: str) -> None:
        if self.bank_id and bank_id != self.bank_id:
            raise GraderError(
                f"{self.source or 'the calibration'}: fitted for bank '{self.bank_id}', "
                f"not '{bank_id}' (fit a calibration for this bank, or leave --calibration out)"
            )

    def save(self, path: Path) -> None:
        atomic_write(path, calibration_to_yaml(self))


# ---------------------------------------------------------------- YAML


def _entry_to_dict(adjustment: Adjustment) -> dict[str, Any]:
    data: dict[str, Any] = {
        "shift": clamped("shift", adjustment.shift),
        "scale": clamped("scale", adjustment.scale),
    }
    if adjustment.mapping:
        data["map"] = [[float(x), float(y)] for x, y in adjustment.mapping]
    return data


def calibration_to_dict(calibration: Calibration) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for name, fitted in sorted(calibration.models.items()):
        models[name] = {
            "bank": _entry_to_dict(fitted.bank),
            "questions": {
                question: {
                    "shift": clamped("shift", item.shift),
                    "scale": clamped("scale", item.scale),
                }
                for question, item in sorted(fitted.questions.items())
            },
        }
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "bank": calibration.bank_id,
        "fitted": {"answers": calibration.answers, "folds": calibration.folds},
        "models": models,
    }
    if calibration.held_out:
        data["held_out"] = {key: dict(value) for key, value in calibration.held_out.items()}
    if calibration.notes:
        data["notes"] = list(calibration.notes)
    return data


def calibration_to_yaml(calibration: Calibration) -> str:
    import yaml

    header = (
        "# grader calibration: scoring parameters fitted to human scores.\n"
        "# Use with: grader grade BANK SUBMISSIONS --calibration THIS_FILE\n"
    )
    body = yaml.safe_dump(
        calibration_to_dict(calibration), sort_keys=False, allow_unicode=True, width=100
    )
    return header + body


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration file; every mistake names the file, the line and the key."""
    file = Path(path)
    data = load_yaml(file)
    reader = _Reader(file)
    top = reader.mapping(data, None, "the file", TOP_KEYS)
    schema = top.get("schema")
    if schema == "grader.calibration/1":
        reader.fail(
            top,
            "schema",
            "this calibration was fitted for an earlier scoring rule (grader.calibration/1)",
            "fit it again with grader calibrate",
        )
    if schema != SCHEMA:
        reader.fail(top, "schema", f"schema is {schema!r}", f"expected '{SCHEMA}'")
    bank_id = top.get("bank", "")
    if not isinstance(bank_id, str):
        reader.fail(top, "bank", "bank must be the bank's id (a string)")
    models_data = reader.mapping(top.get("models"), top, "models", None, key="models")
    models = {
        str(name): reader.model(value, models_data, f"models.{name}", name)
        for name, value in models_data.items()
    }
    fitted = reader.mapping(top.get("fitted") or {}, top, "fitted", ("answers", "folds"), "fitted")
    return Calibration(
        bank_id=bank_id,
        models=models,
        source=str(file),
        answers=reader.count(fitted, "answers", "fitted"),
        folds=reader.count(fitted, "folds", "fitted"),
        held_out=reader.held_out(top),
        notes=tuple(str(note) for note in reader.notes(top)),
    )


@dataclass
class _Reader:
    file: Path

    def fail(self, container: Any, key: Any, message: str, fix: str = "") -> NoReturn:
        line = None
        if isinstance(container, LineDict):
            line = container.key_lines.get(key, container.line)
        raise GraderError.at(self.file, line, message, fix)

    def mapping(
        self,
        value: Any,
        parent: Any,
        where: str,
        allowed: Sequence[str] | None,
        key: Any = None,
    ) -> dict[Any, Any]:
        if not isinstance(value, dict):
            self.fail(parent, key, f"{where} must be a mapping", "see docs/formats.md, Calibration")
        assert isinstance(value, dict)
        if allowed is not None:
            for name in value:
                if name not in allowed:
                    fix = did_you_mean(name, allowed)
                    self.fail(value, name, f"unknown key '{name}' in {where}", fix)
        return value

    def model(self, value: Any, parent: Any, where: str, key: Any) -> ModelCalibration:
        data = self.mapping(value, parent, where, MODEL_KEYS, key=key)
        bank = self.entry(data.get("bank") or {}, data, f"{where}.bank", "bank")
        questions_data = data.get("questions") or {}
        questions_data = self.mapping(questions_data, data, f"{where}.questions", None, "questions")
        questions = {}
        for question, item in questions_data.items():
            entry_where = f"{where}.questions.{question}"
            entry = self.mapping(item, questions_data, entry_where, QUESTION_KEYS, key=question)
            shift = self.number(entry, "shift", entry_where)
            scale = self.number(entry, "scale", entry_where)
            questions[str(question)] = QuestionFit(
                0.0 if shift is None else shift, 1.0 if scale is None else scale
            )
        return ModelCalibration(bank, questions)

    def entry(self, value: Any, parent: Any, where: str, key: Any) -> Adjustment:
        data = self.mapping(value, parent, where, ENTRY_KEYS, key=key)
        shift = self.number(data, "shift", where)
        scale = self.number(data, "scale", where)
        mapping = self.knots(data, where) if "map" in data else ()
        return Adjustment(0.0 if shift is None else shift, 1.0 if scale is None else scale, mapping)

    def number(self, data: dict[Any, Any], name: str, where: str) -> float | None:
        if name not in data:
            return None
        raw = data[name]
        value = finite_number(raw)
        if value is None:
            numeric = isinstance(raw, int | float) and not isinstance(raw, bool)
            kind = "a finite number" if numeric else "a number"
            self.fail(data, name, f"{where}.{name} must be {kind}, not {describe(raw)}")
        low, high = RANGES[name]
        if not low <= value <= high:
            self.fail(data, name, f"{where}.{name} = {value:g} is outside {low:g}..{high:g}")
        return value

    def count(self, data: dict[Any, Any], name: str, where: str) -> int:
        value = data.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            self.fail(data, name, f"{where}.{name} must be a whole number, not {describe(value)}")
        return int(value)

    def held_out(self, top: dict[Any, Any]) -> dict[str, dict[str, float | None]]:
        """The held-out agreement: {name: {measure: number or null}}, numbers finite."""
        table = self.mapping(top.get("held_out") or {}, top, "held_out", None, "held_out")
        checked: dict[str, dict[str, float | None]] = {}
        for name, row in table.items():
            measures = self.mapping(row, table, f"held_out.{name}", None, name)
            checked[str(name)] = {}
            for measure, value in measures.items():
                number = finite_number(value)
                if value is not None and number is None:
                    shown = describe(value)
                    message = f"held_out.{name}.{measure} must be a finite number, not {shown}"
                    self.fail(measures, measure, message)
                checked[str(name)][str(measure)] = number
        return checked

    def notes(self, top: dict[Any, Any]) -> list[Any]:
        notes = top.get("notes") or []
        if not isinstance(notes, list):
            self.fail(top, "notes", "notes must be a list of text")
        return notes

    def knots(self, data: dict[Any, Any], where: str) -> tuple[tuple[float, float], ...]:
        value = data["map"]
        fix = "a list of [share in, share out] pairs, both rising, within 0..1"
        if not isinstance(value, list) or len(value) < 2:
            self.fail(data, "map", f"{where}.map needs two knots or more", fix)
        knots: list[tuple[float, float]] = []
        for item in value:
            pair = [finite_number(v) for v in item] if isinstance(item, list) else []
            if len(pair) != 2 or not all(v is not None and 0.0 <= v <= 1.0 for v in pair):
                self.fail(data, "map", f"{where}.map has a bad knot {describe(item)}", fix)
            x, y = float(pair[0] or 0.0), float(pair[1] or 0.0)
            if knots and (x <= knots[-1][0] or y < knots[-1][1]):
                self.fail(
                    data, "map", f"{where}.map must rise: {item!r} after {list(knots[-1])}", fix
                )
            knots.append((x, y))
        return tuple(knots)
