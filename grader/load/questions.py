"""Questions and challenge steps of a bank: open, multiple choice, numeric."""

from __future__ import annotations

from dataclasses import replace

from grader.bank import (
    EMPTY_TEXT,
    Closed,
    Gradable,
    LocalText,
    Option,
    Question,
    QuestionType,
    Rubric,
)
from grader.load.fields import (
    INLINE_RUBRIC_KEYS,
    MULTIPLE_CHOICE_KEYS,
    NUMERIC_KEYS,
    OPTION_KEYS,
    QUESTION_KEYS,
    STEP_KEYS,
    Checker,
    _answers,
    _identifier,
    _kind,
    _number,
    check_keys,
    choice,
    field_text,
    line_of,
    list_of_mappings,
    raw_ids,
    unique,
    wrong_answers,
)
from grader.load.rubric import RubricFinder, rubric_body
from grader.load.yamlread import LineDict, LineList
from grader.values import MAX_MAGNITUDE


def _question_type(check: Checker, mapping: LineDict, where: str) -> QuestionType | None:
    message = "unknown type '{value}' in " + where
    return choice(check, mapping, "type", QuestionType, QuestionType.SHORT_ANSWER, message)


def _question(
    check: Checker, mapping: LineDict, line: int | None, default: str, finder: RubricFinder
) -> Question | None:
    question = _question_fields(check, mapping, line, default, finder)
    notes = field_text(check, mapping, "grader_notes", "grader notes of a question", default)
    return replace(question, grader_notes=notes) if question and notes else question


def _question_fields(
    check: Checker, mapping: LineDict, line: int | None, default: str, finder: RubricFinder
) -> Question | None:
    identifier = _identifier(check, mapping, "a question")
    where = f"question '{identifier}'"
    kind = _question_type(check, mapping, where)
    allowed = (
        {
            QuestionType.MULTIPLE_CHOICE: MULTIPLE_CHOICE_KEYS,
            QuestionType.NUMERIC: NUMERIC_KEYS,
        }.get(kind, QUESTION_KEYS)
        if kind
        else QUESTION_KEYS
    )
    check_keys(check, mapping, allowed, where)
    prompt = field_text(check, mapping, "prompt", f"prompt of {where}", default)
    if not prompt:
        check.add(line, f"missing 'prompt' in {where}", "add prompt: the question text")
    feedback = field_text(check, mapping, "feedback", f"feedback of {where}", default)
    hint = field_text(check, mapping, "hint", f"hint of {where}", default)
    if kind is QuestionType.CHALLENGE:
        question = _challenge(check, mapping, identifier, prompt, feedback, default, finder)
        return replace(question, hint=hint) if question else None
    if kind is not None and kind.closed:
        question = _closed_question(check, mapping, identifier, kind, prompt, feedback, default)
        return replace(question, hint=hint) if question else None
    if "steps" in mapping:
        check.add(
            line_of(mapping, "steps"),
            f"{where} has steps but is not a challenge",
            "add type: challenge",
        )
    gradable = _gradable(check, mapping, identifier, prompt, default, finder, where)
    if kind is None or gradable is None:
        return None
    return Question(
        identifier,
        kind,
        gradable.points,
        prompt,
        gradable.answers,
        gradable.rubric,
        (),
        feedback,
        wrong_answers=gradable.wrong_answers,
        hint=hint,
    )


def _closed_question(
    check: Checker,
    mapping: LineDict,
    identifier: str,
    kind: QuestionType,
    prompt: LocalText,
    feedback: LocalText,
    default: str,
) -> Question | None:
    where = f"question '{identifier}'"
    points = _number(check, mapping, "points", where, required=True, positive=True)
    if kind is QuestionType.MULTIPLE_CHOICE:
        closed = _choices(check, mapping, where, default)
    else:
        closed = _numeric(check, mapping, where)
    if points is None or closed is None:
        return None
    return Question(identifier, kind, points, prompt, feedback=feedback, closed=closed)


def _choices(check: Checker, mapping: LineDict, where: str, default: str) -> Closed | None:
    multiple = mapping.get("multiple", False)
    if not isinstance(multiple, bool):
        check.add(line_of(mapping, "multiple"), f"'multiple' in {where} must be true or false")
        multiple = False
    items = list_of_mappings(check, mapping, "options", where, required=True)
    options = []
    for item, line in items:
        option_id = _identifier(check, item, f"an option of {where}")
        option_where = f"option '{option_id}' of {where}"
        check_keys(check, item, OPTION_KEYS, option_where)
        text = field_text(check, item, "text", f"text of {option_where}", default)
        if not text:
            check.add(line, f"missing 'text' in {option_where}", "add text: what the student sees")
        credit = _number(check, item, "credit", option_where, required=False, positive=False)
        if credit is not None and not -1 <= credit <= 1:
            check.add(line_of(item, "credit"), f"credit of {option_where} must be between -1 and 1")
            credit = None
        option_feedback = field_text(
            check, item, "feedback", f"feedback of {option_where}", default
        )
        options.append(Option(option_id, text, credit or 0.0, option_feedback))
    unique(check, raw_ids(items), "option")
    if isinstance(mapping.get("options"), LineList) and not mapping["options"]:
        check.add(line_of(mapping, "options"), f"{where} has no options", "add the options")
    if items and not any(option.credit > 0 for option in options):
        check.add(
            line_of(mapping, "options"),
            f"no option of {where} earns credit",
            "give the right option credit: 1",
        )
    return Closed(options=tuple(options), multiple=multiple) if options else None


def _numeric(check: Checker, mapping: LineDict, where: str) -> Closed | None:
    value = _number(
        check, mapping, "value", where, required=True, positive=False, limit=MAX_MAGNITUDE
    )
    tolerance = (
        _number(
            check, mapping, "tolerance", where, required=False, positive=False, limit=MAX_MAGNITUDE
        )
        or 0.0
    )
    if tolerance < 0:
        check.add(line_of(mapping, "tolerance"), f"tolerance of {where} must not be negative")
    units_value = mapping.get("units", [])
    if isinstance(units_value, str):
        units_value = [units_value]
    if not isinstance(units_value, list) or not all(
        isinstance(u, str) and u.strip() for u in units_value
    ):
        check.add(
            line_of(mapping, "units"),
            f"units of {where} must be a list of unit names",
            "e.g. [GB, GiB]",
        )
        units_value = []
    if value is None:
        return None
    return Closed(
        value=value, tolerance=abs(tolerance), units=tuple(u.strip() for u in units_value)
    )


def _challenge(
    check: Checker,
    mapping: LineDict,
    identifier: str,
    prompt: LocalText,
    feedback: LocalText,
    default: str,
    finder: RubricFinder,
) -> Question | None:
    where = f"challenge '{identifier}'"
    for key in ("answers", "wrong_answers", "rubric"):
        if key in mapping:
            check.add(line_of(mapping, key), f"{where} has '{key}'", f"move {key} into its steps")
    steps = []
    items = list_of_mappings(check, mapping, "steps", where, required=True)
    for item, line in items:
        step_id = _identifier(check, item, f"a step of {where}")
        check_keys(check, item, STEP_KEYS, f"step '{step_id}' of {where}")
        step_prompt = field_text(check, item, "prompt", f"prompt of step '{step_id}'", default)
        if not step_prompt:
            check.add(line, f"missing 'prompt' in step '{step_id}' of {where}", "add prompt")
        step_feedback = field_text(
            check, item, "feedback", f"feedback of step '{step_id}'", default
        )
        step_hint = field_text(check, item, "hint", f"hint of step '{step_id}'", default)
        step = _gradable(
            check,
            item,
            f"{identifier}/{step_id}",
            step_prompt,
            default,
            finder,
            f"step '{step_id}' of {where}",
            step_feedback,
        )
        if step is not None:
            steps.append((replace(step, hint=step_hint), line))
    unique(check, raw_ids(items), "step")
    if "steps" in mapping and not items and isinstance(mapping.get("steps"), list):
        check.add(line_of(mapping, "steps"), f"{where} has no steps", "add a step")
    total = sum(step.points for step, _ in steps)
    points = _number(check, mapping, "points", where, required=False, positive=True)
    if points is not None and steps and abs(points - total) > 1e-9:
        check.add(
            line_of(mapping, "points"),
            f"points of {where} ({points:g}) differ from the sum of its steps ({total:g})",
            f"set points: {total:g} or remove it",
        )
    return Question(
        identifier,
        QuestionType.CHALLENGE,
        total,
        prompt,
        {},
        None,
        tuple(step for step, _ in steps),
        feedback,
    )


def _gradable(
    check: Checker,
    mapping: LineDict,
    identifier: str,
    prompt: LocalText,
    default: str,
    finder: RubricFinder,
    where: str,
    feedback: LocalText = EMPTY_TEXT,
) -> Gradable | None:
    points = _number(check, mapping, "points", where, required=True, positive=True)
    answers = _answers(
        check, mapping.get("answers"), line_of(mapping, "answers"), f"answers of {where}", default
    )
    rubric = _rubric_reference(check, mapping, where, default, finder)
    rubric_points = rubric.points if rubric else 0.0
    if rubric and points is not None and rubric.criteria and rubric_points <= 0:
        check.add(line_of(mapping, "rubric"), f"the rubric of {where} gives no points")
    if not answers and not (rubric and rubric.criteria) and "grader_notes" in mapping:
        check.add(
            mapping.line,
            f"{where} has grader notes but no model answer",
            "add answers: with the model answer; grader notes are never graded against",
        )
    elif not answers and not (rubric and rubric.criteria):
        check.add(
            mapping.line,
            f"{where} has no model answers and no rubric",
            "add answers: the model answer, or a rubric",
        )
    _check_language_coverage(check, mapping, prompt, answers, rubric, where)
    wrong = wrong_answers(
        check,
        mapping.get("wrong_answers"),
        line_of(mapping, "wrong_answers"),
        f"wrong_answers of {where}",
        default,
    )
    if points is None:
        return None
    return Gradable(identifier, points, prompt, answers, rubric, feedback, wrong_answers=wrong)


def _check_language_coverage(
    check: Checker,
    mapping: LineDict,
    prompt: LocalText,
    answers: dict[str, tuple[str, ...]],
    rubric: Rubric | None,
    where: str,
) -> None:
    keyword_criteria = [c for c in rubric.criteria if c.keywords] if rubric else []
    for language in prompt.languages:
        if answers and language not in answers:
            check.add(
                line_of(mapping, "answers"),
                f"{where} has a prompt in '{language}' but no model answer in '{language}'",
                f"add a model answer under answers: {language}:",
            )
        missing = [c.id for c in keyword_criteria if language not in c.keywords.by_language]
        if missing:
            check.add(
                line_of(mapping, "rubric"),
                f"{where} has a prompt in '{language}' but criteria without '{language}' keywords: "
                + ", ".join(missing),
                f"add {language} keywords to those criteria",
            )


def _rubric_reference(
    check: Checker, mapping: LineDict, where: str, default: str, finder: RubricFinder
) -> Rubric | None:
    value = mapping.get("rubric")
    line = line_of(mapping, "rubric")
    if value is None:
        return None
    if isinstance(value, str):
        return finder.find(check, value, line)
    if isinstance(value, LineDict):
        check_keys(check, value, INLINE_RUBRIC_KEYS, f"the inline rubric of {where}")
        return rubric_body(check, value, "", default, finder.regex_check, None)
    check.add(
        line, f"rubric of {where} must be a rubric id or an inline rubric, not {_kind(value)}"
    )
    return None
