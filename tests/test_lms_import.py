from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from grader.errors import GraderError
from grader.grading import GradeOptions, grade
from grader.lms_import import (
    bank_yaml_text,
    detect_format,
    html_to_text,
    import_questions,
    write_bank_yaml,
)
from grader.loader import load_bank
from grader.model import QuestionType
from grader.submissions import Submission

FIXTURES = Path(__file__).parent / "fixtures" / "lms"
MOODLE = FIXTURES / "moodle_quiz.xml"
GIFT = FIXTURES / "quiz.gift"

MOODLE_QUESTIONS = [
    {
        "id": "attention-paper",
        "type": "short_answer",
        "points": 2,
        "prompt": {"en": "Which paper introduced the Transformer?\n\nGive its title."},
        "answers": {"en": ["Attention is all you need"]},
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
        "answers": {"en": ["Decoder-only models scale better & show zero-shot abilities."]},
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


def test_bad_number_in_moodle_names_the_line(write) -> None:
    path = write(
        "num.xml",
        "<quiz>\n<question type='numerical'>\n<name><text>n</text></name>\n"
        "<questiontext format='html'><text>How many?</text></questiontext>\n"
        "<answer fraction='100'>\n<text>twelve</text>\n</answer>\n</question>\n</quiz>\n",
    )
    with pytest.raises(
        GraderError, match=r"num\.xml:5: a numerical answer is not a number: 'twelve'"
    ):
        import_questions(path)


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
    assert result.notes == []


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


def test_gift_unclosed_answer_block_names_its_line(write) -> None:
    path = write("open.gift", "// comment\n::Q1::Fine {=yes}\n\n::Q2::\nBroken {=yes\n")
    with pytest.raises(GraderError) as caught:
        import_questions(path)
    assert str(caught.value) == (
        f"{path}:5: an answer block '{{' is never closed "
        "(add the closing '}', or write \\{ for a brace)"
    )


def test_gift_unknown_answer_block_names_its_line(write) -> None:
    path = write("odd.gift", "::Q::\nWhat?\n{\nmaybe\n}\n")
    with pytest.raises(
        GraderError, match=r"odd\.gift:3: cannot tell the question type from the answers"
    ):
        import_questions(path)


def test_gift_bad_numeric_answer_names_its_line(write) -> None:
    path = write("n.gift", "\n\n::N::How many? {#three}\n")
    with pytest.raises(GraderError, match=r"n\.gift:3: a numeric answer is not a number: 'three'"):
        import_questions(path)


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
    assert text.splitlines()[:3] == [
        f"# Imported from {MOODLE} (moodle-xml) by grader import.",
        "# Not imported:",
        "#   - Match the models (matching) at line 270: matching questions are not supported",
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


@pytest.mark.parametrize("source", [MOODLE, GIFT], ids=["moodle", "gift"])
def test_imported_bank_validates_with_the_loader(source: Path, tmp_path: Path) -> None:
    result = import_questions(source)
    out = tmp_path / "banks" / f"{result.bank['id']}.yaml"
    write_bank_yaml(result, out)
    bank = load_bank(out)
    assert [q.id for q in bank.questions] == [q["id"] for q in result.bank["questions"]]
    kinds = {q.type for q in bank.questions}
    assert kinds == {QuestionType.SHORT_ANSWER, QuestionType.MULTIPLE_CHOICE, QuestionType.NUMERIC}


def test_partial_credit_and_wildcards_grade_like_moodle(tmp_path: Path) -> None:
    """Keyword-only grading of the imported staircase rubric reproduces Moodle's fractions."""
    result = import_questions(MOODLE)
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
