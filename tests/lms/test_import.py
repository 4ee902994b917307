from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from grader.bank import QuestionType
from grader.errors import GraderError
from grader.grading import GradeOptions, grade
from grader.lms.html_text import html_to_text
from grader.lms.import_ import bank_yaml_text, detect_format, import_questions, write_bank_yaml
from grader.load.loader import load_bank, validate_paths
from grader.load.submissions import Submission

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lms"
MOODLE = FIXTURES / "moodle_quiz.xml"
GIFT = FIXTURES / "quiz.gift"
# Our own files, each question reproducing a quirk of Moodle's XML and GIFT import fixtures
# (moodle/moodle question/format/*/tests) or of quiz exports in public repositories; beside each,
# the exact bank it must become (without the first comment line, which names the source path).
DATA = Path(__file__).parents[1] / "data" / "lms"
MOODLE_QUIRKS = DATA / "moodle_quirks.xml"
GIFT_QUIRKS = DATA / "quirks.gift"

MOODLE_QUESTIONS = [
    {
        "id": "attention-paper",
        "type": "short_answer",
        "points": 2,
        "prompt": {"en": "Which paper introduced the Transformer?\n\nGive its title."},
        "answers": {"en": ["Attention is all you need"]},
        "wrong_answers": {"en": [{"text": "BERT", "feedback": "BERT came later."}]},
        "rubric": {
            "criteria": [
                {
                    "id": "answer-100",
                    "points": 1,
                    "keywords": {"en": [["Attention is all you need", "re:Attention.*need"]]},
                },
                {
                    "id": "answer-50",
                    "points": 1,
                    "keywords": {
                        "en": [["Attention is all you need", "re:Attention.*need", "Vaswani 2017"]]
                    },
                },
            ]
        },
        "feedback": {"en": "Vaswani et al., 2017."},
    },
    {
        "id": "attention-paper-2",
        "type": "short_answer",
        "points": 1,
        "prompt": {"en": "Name the mechanism that lets a token look at other tokens."},
        "answers": {"en": ["self-attention", "attention"]},
    },
    {
        "id": "why-decoders-won",
        "type": "short_answer",
        "points": 4,
        "prompt": {
            "en": "Why did the industry move to decoder-only models?\nAnswer in two sentences."
        },
        # Moodle's information for graders: notes, never a model answer a student could copy
        "grader_notes": {"en": "Decoder-only models scale better & show zero-shot abilities."},
    },
    {
        "id": "text-to-text-model",
        "type": "multiple_choice",
        "points": 1,
        "prompt": {"en": "Which model is text-to-text?"},
        "multiple": False,
        "options": [
            {
                "id": "a",
                "text": {"en": "BERT"},
                "credit": 0,
                "feedback": {"en": "BERT is encoder-only."},
            },
            {"id": "b", "text": {"en": "T5"}, "credit": 1},
            {"id": "c", "text": {"en": "GPT-2"}, "credit": 0},
        ],
    },
    {
        "id": "encoder-models",
        "type": "multiple_choice",
        "points": 2,
        "prompt": {"en": "Which models are encoder-only? Choose all that apply."},
        "multiple": True,
        "options": [
            {"id": "a", "text": {"en": "BERT"}, "credit": 0.5},
            {"id": "b", "text": {"en": "RoBERTa"}, "credit": 0.5},
            {
                "id": "c",
                "text": {"en": "GPT-3"},
                "credit": -1,
                "feedback": {"en": "GPT-3 is a decoder."},
            },
        ],
        "feedback": {"en": "BERT and RoBERTa read in both directions."},
    },
    {
        "id": "kv-cache-size",
        "type": "numeric",
        "points": 1,
        "prompt": {"en": "How many GB does the KV cache need?"},
        "value": 12.5,
        "tolerance": 0.5,
        "units": ["GB"],
        "feedback": {"en": "2 x layers x heads x dim x tokens x 2 bytes."},
    },
    {
        "id": "gpt-is-causal",
        "type": "multiple_choice",
        "points": 1,
        "prompt": {"en": "GPT reads each token only with the tokens before it."},
        "multiple": False,
        "options": [
            {
                "id": "true",
                "text": {"en": "True"},
                "credit": 1,
                "feedback": {"en": "Yes: causal masking."},
            },
            {
                "id": "false",
                "text": {"en": "False"},
                "credit": 0,
                "feedback": {"en": "It is causal."},
            },
        ],
    },
]

GIFT_QUESTIONS = [
    {
        "id": "attention-paper",
        "type": "short_answer",
        "points": 1,
        "prompt": {"en": "Which paper introduced the Transformer?"},
        "answers": {"en": ["Attention is all you need"]},
        "rubric": {
            "criteria": [
                {
                    "id": "answer-100",
                    "points": 0.5,
                    "keywords": {"en": [["Attention is all you need"]]},
                },
                {
                    "id": "answer-50",
                    "points": 0.5,
                    "keywords": {"en": [["Attention is all you need", "Vaswani 2017"]]},
                },
            ]
        },
    },
    {
        "id": "text-to-text",
        "type": "multiple_choice",
        "points": 1,
        "prompt": {"en": "Which model is text-to-text?"},
        "multiple": False,
        "options": [
            {
                "id": "a",
                "text": {"en": "T5"},
                "credit": 1,
                "feedback": {"en": "Right: everything is text in, text out."},
            },
            {
                "id": "b",
                "text": {"en": "BERT"},
                "credit": 0,
                "feedback": {"en": "BERT is encoder-only."},
            },
            {
                "id": "c",
                "text": {"en": "BART"},
                "credit": 0.25,
                "feedback": {"en": "BART is close, but T5 was designed for it."},
            },
        ],
    },
    {
        "id": "encoders",
        "type": "multiple_choice",
        "points": 1,
        "prompt": {"en": "Which models are encoder-only?"},
        "multiple": True,
        "options": [
            {"id": "a", "text": {"en": "BERT"}, "credit": 0.5},
            {"id": "b", "text": {"en": "RoBERTa"}, "credit": 0.5},
            {
                "id": "c",
                "text": {"en": "GPT-3"},
                "credit": -1,
                "feedback": {"en": "GPT-3 is a decoder."},
            },
        ],
    },
    {
        "id": "causal-gpt",
        "type": "multiple_choice",
        "points": 1,
        "prompt": {"en": "GPT sees only earlier tokens."},
        "multiple": False,
        "options": [
            {
                "id": "true",
                "text": {"en": "True"},
                "credit": 1,
                "feedback": {"en": "Yes, causal masking."},
            },
            {
                "id": "false",
                "text": {"en": "False"},
                "credit": 0,
                "feedback": {"en": "No, it is causal."},
            },
        ],
    },
    {
        "id": "bidirectional-gpt",
        "type": "multiple_choice",
        "points": 1,
        "prompt": {"en": "GPT reads in both directions."},
        "multiple": False,
        "options": [
            {"id": "true", "text": {"en": "True"}, "credit": 0},
            {"id": "false", "text": {"en": "False"}, "credit": 1},
        ],
    },
    {
        "id": "pi",
        "type": "numeric",
        "points": 1,
        "prompt": {"en": "What is pi to two decimals?"},
        "value": 3.14,
        "tolerance": 0.01,
    },
    {
        "id": "layers",
        "type": "numeric",
        "points": 1,
        "prompt": {"en": "How many layers does a small BERT have (between 1 and 5)?"},
        "value": 3,
        "tolerance": 2,
    },
    {
        "id": "escapes",
        "type": "short_answer",
        "points": 1,
        "prompt": {"en": "Which symbols does GIFT escape: ~ = # { }?"},
        "answers": {"en": ["all of them { } ~"]},
    },
    {
        "id": "decoder-essay",
        "type": "short_answer",
        "points": 1,
        "prompt": {"en": "Why did the industry move to decoder-only models?"},
        "answers": {"en": ["Decoder-only models scale better and show zero-shot abilities."]},
        "feedback": {"en": "Decoder-only models scale better and show zero-shot abilities."},
    },
    {
        "id": "transformers-were-introduced-in-by",
        "type": "multiple_choice",
        "points": 1,
        "prompt": {"en": "Transformers were introduced in _____ by Vaswani et al."},
        "multiple": False,
        "options": [
            {"id": "a", "text": {"en": "2015"}, "credit": 0},
            {"id": "b", "text": {"en": "2017"}, "credit": 1},
            {"id": "c", "text": {"en": "2019"}, "credit": 0},
        ],
    },
]


# ---------------------------------------------------------------- Moodle XML


def test_moodle_xml_becomes_the_documented_bank() -> None:
    result = import_questions(MOODLE)
    assert result.format == "moodle-xml"
    assert result.bank == {
        "id": "moodle-quiz",
        "title": {"en": "moodle_quiz"},
        "languages": ["en"],
        "questions": MOODLE_QUESTIONS,
    }


def test_moodle_unsupported_and_unusable_questions_are_listed() -> None:
    result = import_questions(MOODLE)
    assert result.skipped == [
        "Match the models (matching) at line 270: matching questions are not supported",
        "Reflection (essay) at line 300: it has no model answer "
        "(fill in the information for graders, or a general feedback)",
    ]
    assert result.notes == [
        "$course$/top/Transformers (category) at line 4: not kept (a bank has no categories)",
        "Attention paper (shortanswer) at line 14: feedback dropped from answer(s) "
        "'Attention is all you need', 'Vaswani 2017': only wrong answers keep their feedback",
        "Why decoders won (essay) at line 83: the response template dropped: "
        "'Decoders won because ...'",
        "Why decoders won (essay) at line 83: the information for graders became grader_notes, "
        "not a model answer: write the model answer under answers (validate asks for it)",
        "Text-to-text model (multichoice) at line 111: the combined feedback for any correct, "
        "partially correct, incorrect response dropped (the options keep their own feedback)",
        "KV cache size (numerical) at line 196: unit 'MB' (multiplier 1000) dropped: "
        "units are not converted",
        "KV cache size (numerical) at line 196: 1 other accepted answer(s) dropped: "
        "only the first full-mark answer is kept",
    ]


def test_language_option_sets_the_text_language() -> None:
    result = import_questions(MOODLE, lang="ko", bank_id="quiz-1")
    assert result.bank["id"] == "quiz-1"
    assert result.bank["languages"] == ["ko"]
    first = result.bank["questions"][0]
    assert first["prompt"] == {"ko": "Which paper introduced the Transformer?\n\nGive its title."}
    assert set(first["rubric"]["criteria"][0]["keywords"]) == {"ko"}


def test_doctype_is_refused_before_entities_expand(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    levels = "\n".join(
        f'  <!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    )
    bomb.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE quiz [\n  <!ENTITY lol0 "lol">\n'
        f'{levels}\n]>\n<quiz><question type="essay"><name><text>&lol9;</text></name>'
        "</question></quiz>\n",
        encoding="utf-8",
    )
    started = time.perf_counter()
    with pytest.raises(GraderError) as caught:
        import_questions(bomb)
    assert time.perf_counter() - started < 1.0
    message = str(caught.value)
    assert message.startswith(f"{bomb}:2: a DOCTYPE or entity declaration is refused")
    assert "remove the <!DOCTYPE ...> part" in message


def test_undeclared_entity_is_a_located_xml_error(write) -> None:
    path = write(
        "bad.xml",
        '<?xml version="1.0"?>\n<quiz>\n  <question type="essay">&evil;</question>\n</quiz>\n',
    )
    with pytest.raises(GraderError, match=r"bad\.xml:3:\d+: not well-formed XML: undefined entity"):
        import_questions(path)


def test_broken_xml_names_the_line(write) -> None:
    path = write("broken.xml", "<quiz>\n<question type='essay'>\n<name><text>x</name>\n</quiz>\n")
    with pytest.raises(
        GraderError, match=r"broken\.xml:3:\d+: not well-formed XML: mismatched tag"
    ):
        import_questions(path)


def test_xml_that_is_not_a_quiz_is_refused(write) -> None:
    path = write("other.xml", "<?xml version='1.0'?>\n<rss><channel/></rss>\n")
    with pytest.raises(
        GraderError, match=r"other\.xml:2: not a Moodle XML quiz: the root element is <rss>"
    ):
        import_questions(path)


def test_bad_number_in_moodle_skips_the_question_with_its_line(write) -> None:
    question = (
        "<question type='numerical'>\n<name><text>{name}</text></name>\n"
        "<questiontext format='html'><text>How many?</text></questiontext>\n"
        "<answer fraction='{fraction}'>\n<text>{value}</text>\n</answer>\n</question>\n"
    )
    path = write(
        "num.xml",
        "<quiz>\n"
        + question.format(name="words", fraction="100", value="twelve")
        + question.format(name="grade", fraction="1OO", value="12")
        + question.format(name="fine", fraction="100", value="12")
        + "</quiz>\n",
    )
    result = import_questions(path)
    assert [q["id"] for q in result.bank["questions"]] == ["fine"]
    assert result.skipped == [
        "words (numerical) at line 5: a numerical answer is not a number: 'twelve' "
        "(write a number like 2 or 0.5)",
        "grade (numerical) at line 12: the fraction of an answer is not a number: '1OO' "
        "(write a number like 2 or 0.5)",
    ]


def test_moodle_file_of_only_unsupported_questions_is_an_error(write) -> None:
    path = write(
        "cloze.xml",
        "<quiz>\n<question type='multianswer'>\n<name><text>Cloze</text></name>\n"
        "<questiontext format='html'><text>{1:SHORTANSWER:=x}</text></questiontext>\n"
        "</question>\n</quiz>\n",
    )
    with pytest.raises(
        GraderError, match=r"no question could be imported \(Cloze \(multianswer\) at line 2: "
    ):
        import_questions(path)


# ---------------------------------------------------------------- GIFT


def test_gift_becomes_the_documented_bank() -> None:
    result = import_questions(GIFT)
    assert result.format == "gift"
    assert result.bank == {
        "id": "quiz",
        "title": {"en": "quiz"},
        "languages": ["en"],
        "questions": GIFT_QUESTIONS,
    }
    assert result.notes == [
        "$course$/top/Transformers (category) at line 2: not kept (a bank has no categories)",
        "Attention paper (shortanswer) at line 5: feedback dropped from answer(s) "
        "'Attention Is All You Need', 'Vaswani 2017': only wrong answers keep their feedback",
    ]


def test_gift_unsupported_questions_are_listed() -> None:
    assert import_questions(GIFT).skipped == [
        "Reflection (essay) at line 36: it has no model answer "
        "(fill in the information for graders, or a general feedback)",
        "Match (matching) at line 40: matching questions are not supported",
        "Note (description) at line 45: a description has no answer to grade",
    ]


def test_gift_wildcards_and_weights_without_titles(write) -> None:
    path = write(
        "w.gift",
        "Who painted the Mona Lisa? {=Leonardo da * =%50%*Vinci* =C\\*\\* =%25%a*}\n",
    )
    result = import_questions(path)
    (question,) = result.bank["questions"]
    assert question["id"] == "who-painted-the-mona-lisa"
    assert question["answers"] == {"en": ["C**"]}
    assert question["rubric"]["criteria"] == [
        {"id": "answer-100", "points": 0.5, "keywords": {"en": [["re:Leonardo da", "C**"]]}},
        {
            "id": "answer-50",
            "points": 0.5,
            "keywords": {"en": [["re:Leonardo da", "re:Vinci", "C**"]]},
        },
    ]
    assert result.notes == [
        "Who painted the Mona Lisa? (shortanswer) at line 1: answer 'a*' would match almost "
        "anything; dropped"
    ]


def test_gift_unclosed_answer_block_skips_that_question(write) -> None:
    path = write("open.gift", "// comment\n::Q1::Fine {=yes}\n\n::Q2::\nBroken {=yes\n")
    result = import_questions(path)
    assert [q["id"] for q in result.bank["questions"]] == ["q1"]
    assert result.skipped == [
        "Q2 at line 5: an answer block '{' is never closed "
        "(add the closing '}', or write \\{ for a brace)"
    ]


def test_gift_unknown_answer_block_names_its_line(write) -> None:
    path = write("odd.gift", "::Q::\nWhat?\n{\nmaybe\n}\n")
    with pytest.raises(GraderError) as caught:
        import_questions(path)
    assert str(caught.value) == (
        f"{path}: no question could be imported (Q at line 3: cannot tell the question type "
        "from the answers '{maybe}' (start answers with = (right) or ~ (wrong); or write {T}, "
        "{F}, {#number}, {} (essay))) (see docs/lms.md for the supported types)"
    )


def test_gift_bad_numeric_answer_names_its_line(write) -> None:
    path = write("n.gift", "\n\n::N::How many? {#three}\n\n::M::How many? {#3}\n")
    result = import_questions(path)
    assert [q["id"] for q in result.bank["questions"]] == ["m"]
    assert result.skipped == [
        "N at line 3: a numeric answer is not a number: 'three' (write a number like 2 or 0.5)"
    ]


def test_moodles_own_numeric_fixture_question_imports(write) -> None:
    """Moodle's GIFT fixture has {#3:2~#Completely wrong}: '~' starts the feedback for any other
    answer (Moodle's parser), so the tolerance is 2, not '2~'."""
    path = write("q5.gift", '::Q5:: What is a number from 1 to 5? {#3:2~#Completely wrong}";\n')
    result = import_questions(path)
    assert result.bank["questions"] == [
        {
            "id": "q5",
            "type": "numeric",
            "points": 1,
            "prompt": {"en": 'What is a number from 1 to 5? _____";'},
            "value": 3,
            "tolerance": 2,
        }
    ]
    assert result.notes == [
        "Q5 (numerical) at line 1: the feedback for any other answer dropped: 'Completely wrong'"
    ]


def test_gift_duplicate_titles_get_unique_ids(write) -> None:
    path = write("d.gift", "::Same::One? {=a}\n\n::Same::Two? {=b}\n\n::???::Three? {=c}\n")
    ids = [q["id"] for q in import_questions(path).bank["questions"]]
    assert ids == ["same", "same-2", "q3"]


# ---------------------------------------------------------------- helpers and output


def test_html_to_text_keeps_line_breaks_and_decodes_entities() -> None:
    markup = (
        "<p>Tom &amp; Jerry&nbsp;&lt;3</p><p>Line one<br/>line   two\n continues</p>"
        "<ul><li>first</li><li>second</li></ul><script>alert(1)</script>&#x41C;ир"
    )
    assert (
        html_to_text(markup)
        == "Tom & Jerry <3\n\nLine one\nline two continues\n\nfirst\nsecond\n\nМир"
    )


def test_format_is_detected_from_content_then_extension(tmp_path: Path) -> None:
    assert (
        detect_format(tmp_path / "a.txt", b'\xef\xbb\xbf<?xml version="1.0"?><quiz/>')
        == "moodle-xml"
    )
    assert detect_format(tmp_path / "a.gift", b"Q {=a}") == "gift"
    assert detect_format(tmp_path / "a.questions", b"Q {=a}") == "gift"
    with pytest.raises(GraderError, match="not a Moodle XML or GIFT file"):
        detect_format(tmp_path / "a.csv", b"student,answer\n")


def test_missing_file_and_bad_language(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="no such file"):
        import_questions(tmp_path / "none.xml")
    with pytest.raises(GraderError, match="'English' is not a language code"):
        import_questions(MOODLE, lang="English")
    with pytest.raises(GraderError, match="'my quiz' is not a valid bank id"):
        import_questions(MOODLE, bank_id="my quiz")


def test_written_yaml_round_trips_and_lists_what_was_left_out(tmp_path: Path) -> None:
    result = import_questions(MOODLE)
    out = tmp_path / "banks" / "moodle-quiz.yaml"
    write_bank_yaml(result, out)
    text = out.read_text(encoding="utf-8")
    assert text == bank_yaml_text(result)
    assert yaml.safe_load(text) == result.bank
    assert text.splitlines()[:6] == [
        f"# Imported from {MOODLE} (moodle-xml) by grader import.",
        "# Not imported:",
        "#   - Match the models (matching) at line 270: matching questions are not supported",
        "#   - Reflection (essay) at line 300: it has no model answer "
        "(fill in the information for graders, or a general feedback)",
        "# Dropped or changed while importing:",
        "#   - $course$/top/Transformers (category) at line 4: not kept (a bank has no categories)",
    ]
    assert (
        "      en: |-\n        Which paper introduced the Transformer?\n\n        Give its title.\n"
        in text
    )


def test_non_ascii_text_is_written_as_is(write, tmp_path: Path) -> None:
    path = write("ko.gift", "::디코더::왜 디코더인가? {=확장 법칙 때문이다}\n")
    result = import_questions(path, lang="ko")
    out = tmp_path / "ko.yaml"
    write_bank_yaml(result, out)
    text = out.read_text(encoding="utf-8")
    assert "왜 디코더인가?" in text
    assert result.bank["questions"][0]["id"] == "q1"


@pytest.mark.parametrize("source", [GIFT, GIFT_QUIRKS], ids=["gift", "gift-quirks"])
def test_imported_bank_validates_with_the_loader(source: Path, tmp_path: Path) -> None:
    result = import_questions(source)
    out = tmp_path / "banks" / f"{result.bank['id']}.yaml"
    write_bank_yaml(result, out)
    bank = load_bank(out)
    assert [q.id for q in bank.questions] == [q["id"] for q in result.bank["questions"]]
    kinds = {q.type for q in bank.questions}
    assert kinds == {QuestionType.SHORT_ANSWER, QuestionType.MULTIPLE_CHOICE, QuestionType.NUMERIC}


@pytest.mark.parametrize(
    ("source", "essays"),
    [(MOODLE, ["why-decoders-won"]), (MOODLE_QUIRKS, ["why-decoders"])],
    ids=["moodle", "moodle-quirks"],
)
def test_validate_asks_for_the_model_answer_of_each_essay_with_grader_notes(
    source: Path, essays: list[str], tmp_path: Path
) -> None:
    """One clear error per essay; everything else in the bank is valid."""
    result = import_questions(source)
    out = tmp_path / "banks" / f"{result.bank['id']}.yaml"
    write_bank_yaml(result, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    problems = [str(problem) for problem in validate_paths([out])]
    assert problems == [
        f"{out}:{lines.index(f'  - id: {essay}') + 1}: question '{essay}' has grader notes but "
        "no model answer (add answers: with the model answer; grader notes are never graded "
        "against)"
        for essay in essays
    ]
    for question in result.bank["questions"]:
        if question["id"] in essays:
            question["answers"] = {"en": ["Decoders scale better."]}
    write_bank_yaml(result, out)
    notes = {q.id: q.grader_notes.get("en") for q in load_bank(out).questions if q.grader_notes}
    assert list(notes) == essays


def test_partial_credit_and_wildcards_grade_like_moodle(tmp_path: Path) -> None:
    """Keyword-only grading of the imported staircase rubric reproduces Moodle's fractions."""
    result = import_questions(MOODLE)
    result.bank["questions"][2]["answers"] = {"en": ["Decoders scale better."]}  # the essay
    out = tmp_path / "moodle-quiz.yaml"
    write_bank_yaml(result, out)
    bank = load_bank(out)
    rows = [
        Submission("full", "attention-paper", "Attention is all you need", "en"),
        Submission("wild", "attention-paper", "attention is what you need", "en"),
        Submission("half", "attention-paper", "Vaswani 2017", "en"),
        Submission("none", "attention-paper", "BERT", "en"),
        Submission("full", "encoder-models", "a,b"),
        Submission("full", "gpt-is-causal", "true"),
        Submission("full", "kv-cache-size", "12.8 GB"),
    ]
    graded = grade(bank, rows, GradeOptions(model="none"))
    scores = {
        (student.id, answer.id): answer.score
        for student in graded.students
        for question in student.questions
        for answer in question.answers
        if answer.answered
    }
    assert scores == {
        ("full", "attention-paper"): 2.0,
        ("wild", "attention-paper"): 2.0,
        ("half", "attention-paper"): 1.0,
        ("none", "attention-paper"): 0.0,
        ("full", "encoder-models"): 2.0,
        ("full", "gpt-is-causal"): 1.0,
        ("full", "kv-cache-size"): 1.0,
    }


# ---------------------------------------------------------------- quirks of real exports


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (MOODLE_QUIRKS, DATA / "moodle_quirks.bank.yaml"),
        (GIFT_QUIRKS, DATA / "quirks.bank.yaml"),
    ],
    ids=["moodle-xml", "gift"],
)
def test_quirky_files_become_the_expected_banks(source: Path, expected: Path) -> None:
    """The whole bank file, comments included: what was skipped and every dropped part."""
    text = bank_yaml_text(import_questions(source))
    first, rest = text.split("\n", 1)
    assert first == f"# Imported from {source} ({detect_format(source, b'')}) by grader import."
    assert rest == expected.read_text(encoding="utf-8")


def _by_id(source: Path) -> dict[str, dict]:
    return {q["id"]: q for q in import_questions(source).bank["questions"]}


def test_zero_percent_short_answers_become_wrong_answers_with_their_feedback() -> None:
    assert _by_id(MOODLE_QUIRKS)["attention-paper"]["wrong_answers"] == {
        "en": [
            {"text": "BERT", "feedback": "BERT came a year later."},  # HTML feedback as text
            "GPT",
            {"text": "ELMo", "feedback": "ELMo uses LSTMs."},  # -50 %: its penalty is noted
        ]
    }
    assert _by_id(GIFT_QUIRKS)["paper"]["wrong_answers"] == {
        "en": [{"text": "BERT", "feedback": "BERT came a year later."}, "ELMo"]
    }
    assert "wrong_answers" not in _by_id(GIFT_QUIRKS)["tokenizer"]  # only a '*' catch-all


def test_essay_grader_information_is_notes_never_a_model_answer() -> None:
    essay = _by_id(MOODLE_QUIRKS)["why-decoders"]
    assert essay["grader_notes"] == {
        "en": "Full marks for scaling and in-context learning; half for one."
    }
    assert "answers" not in essay
    assert essay["feedback"] == {"en": "Scaling and in-context learning."}


def test_gift_format_markers_are_stripped_everywhere() -> None:
    questions = _by_id(GIFT_QUIRKS)
    causal = questions["causal"]["options"]
    assert [(o["text"]["en"], o["feedback"]["en"]) for o in causal] == [
        ("GPT-2", "right; causal masking"),
        ("BERT", "wrong, it reads both ways"),  # [html] feedback: tags removed
        ("T5", "wrong, its encoder reads both ways"),  # [plain] before the answer text
    ]
    encoders = questions["encoders"]["options"]
    assert [o["text"]["en"] for o in encoders] == ["BERT", "GPT-2", "RoBERTa", "T5"]
    assert encoders[1]["feedback"] == {"en": "a decoder"}
    assert questions["why-decoders"]["answers"] == {"en": ["They scale better."]}
    assert questions["acronym"]["prompt"] == {
        "en": "BERT stands for Bidirectional Encoder Representations from Transformers."
    }
    text = bank_yaml_text(import_questions(GIFT_QUIRKS))
    assert not [
        marker for marker in ("[html]", "[plain]", "[moodle]", "[markdown]") if marker in text
    ]


@pytest.mark.parametrize(
    ("fraction", "note"),
    [
        ("100", None),
        ("33.33333", None),
        ("33.3333", None),  # within Moodle's 0.00001 of 0.3333333
        ("-83.33333", None),
        ("14.28571", None),
        (
            "33.33",
            "33.33 % is not one of Moodle's grades (Moodle refuses such a file; the nearest "
            "is 33.33333 %); kept as 33.33 %",
        ),
        (
            "33",
            "33 % is not one of Moodle's grades (Moodle refuses such a file; the nearest is "
            "33.33333 %); kept as 33 %",
        ),
        (
            "-12",
            "-12 % is not one of Moodle's grades (Moodle refuses such a file; the nearest is "
            "-12.5 %); kept as -12 %",
        ),
        ("150", "150 % is outside Moodle's -100..100 %; counted as 100 %"),
    ],
)
def test_fractions_moodle_refuses_are_named(write, fraction: str, note: str | None) -> None:
    path = write(
        "f.xml",
        "<quiz><question type='multichoice'><name><text>F</text></name>"
        "<questiontext><text>Which?</text></questiontext>"
        f"<answer fraction='{fraction}'><text>yes</text></answer>"
        "<answer fraction='100'><text>no</text></answer></question></quiz>\n",
    )
    notes = import_questions(path).notes
    assert notes == ([f"F (multichoice) at line 1: answer 'yes': {note}"] if note else [])


def test_media_in_html_is_listed_as_dropped(write) -> None:
    path = write(
        "m.xml",
        "<quiz><question type='truefalse'><name><text>M</text></name>\n"
        "<questiontext format='html'><text><![CDATA[<p>Watch <video src='clip.mp4'></video>"
        "<iframe src='https://example.org/embed'></iframe><img src='data:image/png;base64,AA'>"
        " then answer.</p>]]></text>\n<file name='clip.mp4' encoding='base64'>AA</file>"
        "<file name='notes.pdf' encoding='base64'>AA</file></questiontext>\n"
        "<answer fraction='100'><text>true</text></answer>"
        "<answer fraction='0'><text>false</text></answer></question></quiz>\n",
    )
    result = import_questions(path)
    assert result.bank["questions"][0]["prompt"] == {"en": "Watch then answer."}
    assert result.notes == [
        "M (truefalse) at line 1: video 'clip.mp4' dropped from the prompt",
        "M (truefalse) at line 1: embedded page 'https://example.org/embed' dropped from the prompt",
        "M (truefalse) at line 1: image 'inline data' dropped from the prompt",
        "M (truefalse) at line 1: attached file 'notes.pdf' dropped from the prompt",
    ]


def test_gift_with_bom_and_windows_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "win.gift"
    path.write_bytes("\ufeff// c\r\n::A::One? {=yes}\r\n\r\n::B::Two? {=no}\r\n".encode())
    result = import_questions(path)
    assert [q["id"] for q in result.bank["questions"]] == ["a", "b"]
    assert result.bank["questions"][1]["answers"] == {"en": ["no"]}


def test_cli_import_lists_what_was_skipped_and_dropped_then_validate_asks(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from grader.cli import cli

    out = tmp_path / "banks" / "quirks.yaml"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["import", str(MOODLE_QUIRKS), "--out", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert result.stdout == f"Imported 7 questions from {MOODLE_QUIRKS} (moodle-xml) into {out}\n"
    imported = import_questions(MOODLE_QUIRKS)
    assert result.stderr.splitlines() == [
        *(f"Skipped: {item}" for item in imported.skipped),
        *(f"Note: {note}" for note in imported.notes),
    ]
    assert "Broken grade (shortanswer) at line 314: <defaultgrade> is not a number" in (
        result.stderr
    )
    checked = runner.invoke(cli, ["validate", str(out)], catch_exceptions=False)
    assert checked.exit_code == 1
    line = out.read_text(encoding="utf-8").splitlines().index("  - id: why-decoders") + 1
    assert checked.output == (
        f"Error: {out}:{line}: question 'why-decoders' has grader notes but no model answer "
        "(add answers: with the model answer; grader notes are never graded against)\n"
        "1 problem found.\n"
    )
