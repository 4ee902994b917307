from __future__ import annotations

from pathlib import Path

import pytest

from grader.bank import QuestionType
from grader.errors import ValidationError
from grader.load.loader import load_bank, validate_paths

RUBRIC = """\
id: r1
criteria:
  - id: bidir
    points: 2
    keywords:
      en: [[bidirectional, both directions], [context]]
      ko: [[양방향]]
    concept: {en: BERT reads context in both directions., ko: BERT는 양방향 문맥을 본다.}
    feedback: {met: {en: good}, missed: {en: mention direction}}
misconceptions:
  - id: m1
    statement: {en: BERT generates text left to right}
    penalty: 1
"""

BANK = """\
id: demo
title: Demo
languages: [en, ko]
questions:
  - id: q1
    type: short_answer
    points: 2
    prompt: {en: "What does BERT use?", ko: "BERT는 무엇을 쓰나?"}
    answers:
      en: BERT uses bidirectional context.
      ko: [BERT는 양방향 문맥을 쓴다.]
    rubric: r1
  - id: ch
    type: challenge
    prompt: Challenge
    steps:
      - {id: s1, points: 2, prompt: {en: one, ko: 하나}, answers: {en: a, ko: 가}}
      - {id: s2, points: 1, prompt: {en: two, ko: 둘}, answers: {en: b, ko: 나}}
"""


def make_bank(write, bank: str = BANK, rubric: str = RUBRIC) -> Path:
    write("rubrics/r1.yaml", rubric)
    return write("banks/demo.yaml", bank)


def problems_of(path: Path) -> list[str]:
    return [str(problem) for problem in validate_paths([path])]


def test_valid_bank_loads_into_frozen_dataclasses(write):
    bank = load_bank(make_bank(write))
    assert bank.id == "demo" and bank.languages == ("en", "ko")
    first, challenge = bank.questions
    assert first.type is QuestionType.SHORT_ANSWER
    assert first.answers == {
        "en": ("BERT uses bidirectional context.",),
        "ko": ("BERT는 양방향 문맥을 쓴다.",),
    }
    assert (
        first.rubric is not None
        and first.rubric.criteria[0].keywords.groups("en")[0].terms[1].text == "both directions"
    )
    assert challenge.points == pytest.approx(3) and [g.id for g in challenge.gradables] == [
        "ch/s1",
        "ch/s2",
    ]
    assert list(bank.gradables()) == ["q1", "ch/s1", "ch/s2"]
    with pytest.raises(AttributeError):
        bank.id = "x"  # type: ignore[misc]


def test_every_problem_is_listed_with_line_and_fix(write):
    bank = BANK.replace(
        "    type: short_answer\n", "    type: short_anwser\n    pionts: 3\n"
    ).replace("rubric: r1", "rubric: nope")
    path = make_bank(write, bank)
    found = problems_of(path)
    assert (
        f"{path}:6: unknown type 'short_anwser' in question 'q1' (did you mean 'short_answer'?)"
        in found
    )
    assert f"{path}:7: unknown key 'pionts' in question 'q1' (did you mean 'points'?)" in found
    assert any(p.startswith(f"{path}:13: rubric 'nope' not found (looked for ") for p in found)


def test_yaml_syntax_error_names_line_and_column(write):
    path = write("banks/bad.yaml", "id: x\n  bad: [\n")
    assert problems_of(path) == [
        f"{path}:2:6: invalid YAML: mapping values are not allowed here (check the indentation and quoting there)"
    ]


def test_duplicate_ids_and_missing_fields(write):
    bank = (
        BANK
        + "  - {id: q1, points: 1, prompt: {en: x, ko: y}, answers: {en: a, ko: b}}\n  - {id: q3, prompt: {en: x}}\n"
    )
    path = make_bank(write, bank)
    found = problems_of(path)
    assert (
        f"{path}:19: duplicate question id 'q1' (first defined at line 5; ids must be unique)"
        in found
    )
    assert f"{path}:20: missing 'points' in question 'q3' (add points: a number > 0)" in found
    assert (
        f"{path}:20: question 'q3' has no model answers and no rubric (add answers: the model answer, or a rubric)"
        in found
    )


def test_rubric_problems_are_reported_in_the_rubric_file(write):
    rubric = RUBRIC.replace("    points: 2\n", "    pionts: 2\n").replace(
        "penalty: 1", "penalty: -1"
    )
    path = make_bank(write, rubric=rubric)
    rubric_path = path.parent.parent / "rubrics" / "r1.yaml"
    found = problems_of(path)
    assert (
        f"{rubric_path}:4: unknown key 'pionts' in criterion 'bidir' (did you mean 'points'?)"
        in found
    )
    assert (
        f"{rubric_path}:3: missing 'points' in criterion 'bidir' (add points: a number > 0)"
        in found
    )
    assert (
        f"{rubric_path}:13: 'penalty' in misconception 'm1' must be greater than 0, not -1" in found
    )


def test_bad_regex_is_reported(write):
    rubric = RUBRIC.replace("[[양방향]]", '[["re:(unclosed"]]')
    path = make_bank(write, rubric=rubric)
    found = problems_of(path)
    assert any(
        p.startswith(
            f"{path.parent.parent / 'rubrics' / 'r1.yaml'}:7: bad regular expression 're:(unclosed' in criterion 'bidir' (ko):"
        )
        and p.endswith("(fix the pattern (RE2 syntax: no backreferences or lookaround))")
        for p in found
    ), found


def test_language_with_prompt_but_no_model_answer_or_keywords(write):
    bank = BANK.replace(
        'ko: "BERT는 무엇을 쓰나?"', 'ko: "BERT는 무엇을 쓰나?", ja: "BERTは何を使う？"'
    )
    path = make_bank(write, bank)
    found = problems_of(path)
    assert (
        f"{path}:9: question 'q1' has a prompt in 'ja' but no model answer in 'ja' (add a model answer under answers: ja:)"
        in found
    )
    assert (
        f"{path}:12: question 'q1' has a prompt in 'ja' but criteria without 'ja' keywords: bidir (add ja keywords to those criteria)"
        in found
    )


def test_challenge_points_must_match_steps(write):
    path = make_bank(
        write, BANK.replace("    prompt: Challenge\n", "    prompt: Challenge\n    points: 5\n")
    )
    assert (
        f"{path}:16: points of challenge 'ch' (5) differ from the sum of its steps (3) (set points: 3 or remove it)"
        in problems_of(path)
    )


def test_load_bank_raises_with_all_problems(write):
    path = make_bank(write, BANK.replace("    points: 2\n", "    points: zero\n"))
    with pytest.raises(ValidationError) as caught:
        load_bank(path)
    assert str(caught.value) == f"{path}:7: 'points' in question 'q1' must be a number, not text"


def test_multiple_choice_and_numeric(write):
    bank = (
        BANK
        + """\
  - id: mc
    type: multiple_choice
    points: 2
    prompt: {en: Which is text-to-text, ko: 어느 것}
    options:
      - {id: a, text: BERT, credit: 0, feedback: {en: encoder-only}}
      - {id: b, text: T5, credit: 1}
  - id: num
    type: numeric
    points: 1
    prompt: {en: How many, ko: 몇}
    value: 12.5
    tolerance: 0.5
    units: [GB]
"""
    )
    loaded = load_bank(make_bank(write, bank))
    mc, num = loaded.questions[2:]
    assert (
        mc.type is QuestionType.MULTIPLE_CHOICE
        and mc.closed
        and [o.id for o in mc.closed.options] == ["a", "b"]
    )
    assert num.closed and num.closed.value == pytest.approx(12.5) and num.closed.units == ("GB",)


def test_missing_file_and_empty_folder(tmp_path):
    assert [str(p) for p in validate_paths([tmp_path / "nope.yaml"])] == [
        f"{tmp_path / 'nope.yaml'}: no such file or folder (check the path)"
    ]
    assert [str(p) for p in validate_paths([tmp_path])] == [
        f"{tmp_path}: no .yaml files in this folder"
    ]


def test_shipped_banks_validate():
    root = Path(__file__).resolve().parents[2]
    assert validate_paths([root / "banks", root / "rubrics"]) == []


WRONG_ANSWERS_BANK = """\
id: wrong
title: Wrong answers
languages: [en, ko]
questions:
  - id: q1
    points: 1
    prompt: {en: Which model is text-to-text?, ko: 텍스트-투-텍스트 모델은?}
    answers: {en: T5, ko: T5}
    wrong_answers:
      en:
        - BERT
        - {text: GPT, feedback: GPT has no encoder.}
      ko: [BERT]
  - id: ch
    type: challenge
    prompt: Challenge
    steps:
      - {id: s1, points: 1, prompt: one, answers: a, wrong_answers: [b]}
"""


def test_wrong_answers_load_with_their_feedback(write):
    bank = load_bank(write("banks/wrong.yaml", WRONG_ANSWERS_BANK))
    gradables = bank.gradables()
    assert [(lang, w.text, w.feedback) for lang, w in gradables["q1"].known_wrong()] == [
        ("en", "BERT", ""),
        ("en", "GPT", "GPT has no encoder."),
        ("ko", "BERT", ""),
    ]
    assert [w.text for _, w in gradables["ch/s1"].known_wrong()] == ["b"]


def test_bad_wrong_answers_are_located(write):
    text = WRONG_ANSWERS_BANK.replace("- BERT\n", "- {text: '', feedbak: x}\n", 1)
    path = write("banks/wrong.yaml", text)
    assert problems_of(path) == [
        f"{path}:11: unknown key 'feedbak' in wrong_answers of question 'q1' (en) "
        "(did you mean 'feedback'?)",
        f"{path}:11: wrong_answers of question 'q1' (en): a wrong answer must be non-empty text "
        "(write the wrong answer as text, or as text: and feedback:)",
    ]


def test_display_and_reveal_settings(write):
    bank = BANK.replace(
        "languages: [en, ko]\n", "languages: [en, ko]\nsettings: {display_step: 0.5, reveal: all}\n"
    )
    loaded = load_bank(make_bank(write, bank))
    assert loaded.settings.display_step == 0.5 and loaded.settings.reveal.value == "all"
    assert loaded.settings.display_decimals == 2
    one = load_bank(
        make_bank(
            write,
            BANK.replace(
                "languages: [en, ko]\n", "languages: [en, ko]\nsettings: {display_decimals: 1}\n"
            ),
        )
    )
    assert one.settings.display_decimals == 1 and one.settings.display_step is None


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            "{display_decimals: 7}",
            "settings: display_decimals must be a whole number from 0 to 4 (e.g. display_decimals: 1)",
        ),
        (
            "{display_decimals: 1.5}",
            "settings: display_decimals must be a whole number from 0 to 4 (e.g. display_decimals: 1)",
        ),
        ("{display_step: 0}", "'display_step' in settings must be greater than 0, not 0"),
        (
            "{display_step: 0.33333}",
            "settings: display_step must be at most 100 with at most 4 decimals, not 0.33333 (e.g. display_step: 0.5)",
        ),
        (
            "{display_step: 0.5, display_decimals: 1}",
            "settings: give display_decimals or display_step, not both (keep one of them)",
        ),
        ("{reveal: mised}", "settings: unknown reveal 'mised' (did you mean 'missed'?)"),
        (
            "{dispay_step: 0.5}",
            "unknown key 'dispay_step' in settings (did you mean 'display_step'?)",
        ),
    ],
)
def test_bad_display_and_reveal_settings(write, settings, problem):
    path = make_bank(
        write, BANK.replace("languages: [en, ko]\n", f"languages: [en, ko]\nsettings: {settings}\n")
    )
    assert f"{path}:4: {problem}" in problems_of(path)


def test_hints_on_questions_steps_and_criteria(write):
    bank = BANK.replace(
        "    rubric: r1\n",
        "    rubric: r1\n    hint: {en: Think of the direction., ko: 방향을 생각해 보세요.}\n",
    ).replace("{id: s1, points: 2,", "{id: s1, points: 2, hint: Look again,")
    rubric = RUBRIC.replace(
        "    feedback: {met: {en: good}, missed: {en: mention direction}}\n",
        "    feedback: {met: {en: good}, missed: {en: mention direction}}\n    hint: {en: Which way does BERT read?}\n",
    )
    loaded = load_bank(make_bank(write, bank, rubric))
    question, challenge = loaded.questions
    assert question.hint.get("ko") == "방향을 생각해 보세요."
    assert loaded.gradables()["q1"].hint.get("en") == "Think of the direction."
    assert challenge.steps[0].hint.get("en") == "Look again" and not challenge.steps[1].hint
    assert (
        question.rubric is not None
        and question.rubric.criteria[0].hint.get("en") == "Which way does BERT read?"
    )
    broken = make_bank(write, bank.replace("hint: Look again,", "hint: [a, b],"))
    assert any(
        "hint of step 's1' must be text or a mapping of language to text, not a list" in problem
        for problem in problems_of(broken)
    )
