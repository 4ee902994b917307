"""Language profiles with their real analysers: inflection, compounds, segmentation, negation,
misspellings, retraction cues and detection, one block per language (grader.text.languages)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader.bank import Term
from grader.evidence.keywords import TermMatch, match_term
from grader.evidence.language_support import describe
from grader.evidence.models import USE_LANGUAGES
from grader.grading import GradeOptions, check_answer
from grader.load.loader import load_bank
from grader.text.analysis import analyze, retractions
from grader.text.languages import PROFILED_LANGUAGES, profile
from grader.text.scripts import detect_language
from tests.conftest import ROOT

GERMAN_BANK = ROOT / "tests" / "data" / "languages" / "atmung-de.yaml"


def _match(term: str, language: str, answer: str) -> TermMatch | None:
    return match_term(Term(term), language, analyze(answer, language))


def _matches(term: str, language: str, answer: str) -> bool:
    """The term is found in the answer, outside a negated clause."""
    found = _match(term, language, answer)
    return found is not None and not found.negated


def _negated(term: str, language: str, answer: str) -> bool:
    """The term is found in the answer, inside a negated clause."""
    found = _match(term, language, answer)
    assert found is not None, f"{term!r} not found in {answer!r}"
    return found.negated


# --- every profile -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", PROFILED_LANGUAGES)
def test_every_profile_is_complete(code: str) -> None:
    found = profile(code)
    assert found is not None and found.code == code
    assert (found.word is None) != (found.analyser is None)  # exactly one way to analyse
    assert found.negation_cues and found.retractions and found.distributions
    described = describe(code)
    assert described["language"] == code
    assert ("not made for" in described["encoder"]) == (code not in USE_LANGUAGES)


def test_a_regional_code_gets_its_languages_profile() -> None:
    assert describe("zh-TW")["name"] == "Chinese (simplified and traditional)"
    assert describe("pt-BR")["name"] == "Portuguese"


def test_a_language_without_a_profile_is_described() -> None:
    assert profile("da") is None
    assert describe("da")["analyser"].startswith("no profile: words at spaces, Snowball danish")
    assert describe("xx")["analyser"] == "no profile: only exact matching of lower-case words"
    assert "not made for 'xx'" in describe("xx")["encoder"]


# --- German ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_german_cases_and_inflection_share_a_key() -> None:
    analysis = analyze("Das Modell, des Modells, den Modellen; ging, gehen; Häuser, Haus", "de")
    norms = {token.surface: token.norm for token in analysis.tokens}
    assert norms["Modell"] == norms["Modells"] == norms["Modellen"]
    assert norms["ging"] == norms["gehen"]
    assert norms["Häuser"] == norms["Haus"]


@pytest.mark.slow
def test_german_compounds_match_their_parts() -> None:
    assert _matches("Sauerstoff", "de", "Die Sauerstoffbläschen platzen.")
    assert _matches("Bläschen", "de", "In den Lungenbläschen.")
    assert _matches("Sauerstoffbläschen", "de", "Die Sauerstoffbläschen platzen.")
    found = _match("Sauerstoff", "de", "Die Sauerstoffbläschen platzen.")
    assert found is not None and found.text == "Sauerstoff"  # the part, inside the compound
    parts = [t.surface for t in analyze("Aufmerksamkeitsmechanismus", "de").tokens]
    assert parts == ["Aufmerksamkeits", "mechanismus"]
    assert [t.surface for t in analyze("Haus", "de").tokens] == ["Haus"]  # too short to split


@pytest.mark.slow
def test_german_negation_has_clause_scope() -> None:
    assert _negated("Diffusion", "de", "Der Sauerstoff gelangt nicht durch Diffusion ins Blut.")
    assert _negated("Encoder", "de", "GPT hat keinen Encoder.")
    assert _negated("Rekurrenz", "de", "Das Modell arbeitet ohne Rekurrenz.")
    assert not _negated("Encoder", "de", "BERT hat nicht nur einen Encoder.")
    assert not _negated("Decoder", "de", "BERT hat keinen Decoder, aber GPT hat einen Decoder.")
    # the clause ends at "aber": the second "Decoder" is the one credited
    found = _match("Decoder", "de", "BERT hat keinen Decoder, aber GPT hat einen Decoder.")
    assert found is not None and found.start > 30


@pytest.mark.slow
def test_german_misspelling_matches() -> None:
    assert _matches("Diffusion", "de", "Der Sauerstoff kommt durch Difusion ins Blut.")


@pytest.mark.slow
def test_german_retraction_takes_the_sentence_back() -> None:
    bank = load_bank(GERMAN_BANK)
    honest = "In den Lungenbläschen diffundiert der Sauerstoff ins Blut."
    options = GradeOptions(model="none")
    plain = check_answer(bank, "gasaustausch", honest, None, options)
    taken_back = check_answer(
        bank,
        "gasaustausch",
        honest + " Das stimmt aber nicht, eigentlich ist es umgekehrt.",
        None,
        options,
    )
    assert plain.score == pytest.approx(3.0)
    assert taken_back.score == pytest.approx(0.0)
    assert {criterion.status for criterion in taken_back.criteria} == {"negated"}
    assert "self-contradiction" not in {flag.code for flag in plain.flags}


# --- Spanish, French, Portuguese, Italian, Dutch, Polish, Turkish -------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "forms"),
    [
        ("es", ["aprendieron", "aprende", "aprender", "aprendió"]),
        ("fr", ["apprennent", "appris", "apprendre", "apprend"]),
        ("pt", ["aprenderam", "aprende", "aprender"]),
        ("it", ["imparano", "imparare", "imparato"]),
        ("nl", ["leerden", "leren", "geleerd"]),
        ("pl", ["modele", "modelami", "modelu", "model"]),
        ("tr", ["modeller", "modellerin", "model"]),
    ],
)
def test_verb_and_noun_forms_share_a_key(language: str, forms: list[str]) -> None:
    keys = {token.norm for token in analyze(" ".join(forms), language).tokens}
    assert len(keys) == 1, keys


@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "term", "negated", "plain"),
    [
        ("es", "atención", "El modelo no usa atención.", "El modelo no solo usa atención."),
        ("es", "recurrencia", "Funciona sin recurrencia.", "Funciona con recurrencia."),
        (
            "fr",
            "attention",
            "Le modèle n'utilise pas l'attention.",
            "Il n'utilise que l'attention.",
        ),
        ("fr", "attention", "C'est pas l'attention.", "Le modèle utilise l'attention."),
        ("fr", "attention", "Il n'utilise plus l'attention.", "Il utilise plus d'attention."),
        ("fr", "récurrence", "Il fonctionne sans récurrence.", "Il utilise la récurrence."),
        ("pt", "atenção", "O modelo não usa atenção.", "O modelo não só usa atenção."),
        ("pt", "recorrência", "Funciona sem recorrência.", "Funciona com recorrência."),
        ("it", "attenzione", "Il modello non usa l'attenzione.", "Non solo usa l'attenzione."),
        (
            "nl",
            "aandacht",
            "Het model gebruikt geen aandacht.",
            "Het gebruikt niet alleen aandacht.",
        ),
        ("pl", "uwaga", "Model nie używa uwagi.", "Model używa uwagi."),
        ("tr", "dikkat", "Model dikkat mekanizması değil.", "Model dikkat kullanır."),
    ],
)
def test_negation_in_each_language(language: str, term: str, negated: str, plain: str) -> None:
    assert _negated(term, language, negated)
    assert _matches(term, language, plain)


@pytest.mark.slow
def test_french_and_italian_elided_articles_are_set_apart() -> None:
    assert _matches("attention", "fr", "Le rôle de l'attention est central.")
    assert _matches("attenzione", "it", "Il ruolo dell'attenzione è centrale.")


@pytest.mark.slow
def test_swedish_the_worked_example_of_the_docs() -> None:
    assert _matches("syre", "sv", "Syrebubblorna går till blodet.")
    assert _negated("syre", "sv", "Syrebubblorna går inte till blodet.")
    assert _matches("modell", "sv", "Modellerna lär sig.")


@pytest.mark.slow
def test_dutch_compounds_match_their_parts() -> None:
    assert _matches("zuurstof", "nl", "De zuurstofbelletjes gaan naar het bloed.")


@pytest.mark.slow
def test_spanish_misspelling_matches() -> None:
    assert _matches("fotosíntesis", "es", "La fotosintesis ocurre en las hojas.")
    assert _matches("cloroplasto", "es", "Ocurre en el clorolasto.")


# --- Chinese -----------------------------------------------------------------------------------


def test_chinese_words_without_spaces() -> None:
    analysis = analyze("栈是一种后进先出的数据结构", "zh")
    words = [token.surface for token in analysis.tokens]
    assert words == ["栈", "是", "一种", "后进先出", "的", "数据", "结构"]  # 数据结构: a compound
    assert _matches("数据结构", "zh", "栈是一种后进先出的数据结构")
    assert _matches("数据 结构", "zh", "栈是一种后进先出的数据结构")  # a spaced term as one unit
    assert _match("先出的数", "zh", "栈是一种后进先出的数据结构") is None  # not across words


def test_traditional_chinese_matches_simplified_terms() -> None:
    assert _matches("神经网络", "zh", "這個模型使用循環神經網絡")
    assert _matches("資料結構", "zh", "资料结构很重要")


def test_chinese_negation() -> None:
    assert _negated("循环", "zh", "这个模型没有使用循环神经网络")
    assert _negated("解码器", "zh", "BERT不是解码器")
    # the clause ends at 而: the second 解码器 is credited
    found = _match("解码器", "zh", "BERT不是解码器，而GPT是解码器")
    assert found is not None and not found.negated
    assert not _negated("注意力", "zh", "模型不仅使用注意力")  # not only
    assert not _negated("注意力", "zh", "模型非常依赖注意力")  # 非常: very
    assert not _negated("结构", "zh", "两种结构不同")  # 不同: different


def test_chinese_retraction() -> None:
    assert retractions(analyze("栈是后进先出的数据结构。其实相反，这是错的。", "zh")) == (1,)
    assert retractions(analyze("栈是后进先出的数据结构。队列是先进先出的。", "zh")) == ()


# --- Arabic ------------------------------------------------------------------------------------


def test_arabic_article_diacritics_and_letter_forms() -> None:
    assert _matches("كتاب", "ar", "قرأت الكِتَابَ أمس")
    assert _matches("الكتاب", "ar", "قرأت كتابا")
    assert _matches("والكتاب", "ar", "بالكتاب")
    assert _matches("مدرسة", "ar", "ذهبت إلى المدرسه")  # ta marbuta written as ha
    assert _matches("أكسجين", "ar", "ينتقل الاكسجين إلى الدم")  # alef with hamza or without
    assert _matches("الخلية", "ar", "في خلية واحدة")
    assert _matches("ولد", "ar", "الولد")  # و of ولد is no conjunction


def test_arabic_negation() -> None:
    assert _negated("الأكسجين", "ar", "لا ينتقل الأكسجين إلى الدم")
    assert _negated("الأكسجين", "ar", "الدم ليس فيه الأكسجين")
    assert _negated("الأكسجين", "ar", "لم ينتقل الأكسجين")
    assert _negated("تكرار", "ar", "يعمل النموذج بدون تكرار")
    assert not _negated("الأكسجين", "ar", "ينتقل الأكسجين إلى الدم")


# --- Thai --------------------------------------------------------------------------------------


def test_thai_words_and_negation() -> None:
    analysis = analyze("ออกซิเจนถูกดูดซึมในถุงลม", "th")
    assert [token.surface for token in analysis.tokens if token.content] == [
        "ออกซิเจน",
        "ถูก",
        "ดูดซึม",
        "ถุงลม",
    ]
    assert _matches("ถุงลม", "th", "ออกซิเจนถูกดูดซึมในถุงลม")
    assert _matches("ดูดซึมในถุงลม", "th", "ออกซิเจนถูกดูดซึมในถุงลม")  # one unit, three words
    assert _negated("ถุงลม", "th", "ออกซิเจนไม่ได้ถูกดูดซึมในถุงลม")
    assert not _negated("ถุงลม", "th", "ออกซิเจนไม่ได้อยู่ในเลือด แต่อยู่ในถุงลม")


# --- detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "candidates", "expected"),
    [
        ("In the alveoli oxygen diffuses into the blood through a thin wall.", ("de",), "en"),
        ("Der Sauerstoff diffundiert in den Lungenbläschen ins Blut.", ("en",), "de"),
        ("O oxigênio passa dos alvéolos para o sangue por difusão.", ("en", "es"), "pt"),
        ("Le modèle utilise l'attention pour lire la phrase entière.", ("en",), "fr"),
        ("Nonconstant pointer to nonconstant data, constant pointer to data", ("en",), "en"),
        ("BERT uses encoders", ("de",), "de"),  # too short: the bank's first language
        ("Diffusion", ("en", "de"), "en"),
        ("Diffusion", ("de", "en"), "de"),
        ("هذا غير صحيح", ("en",), "ar"),  # the script decides
        ("ออกซิเจนถูกดูดซึม", ("en",), "th"),
        ("這個模型沒有使用循環神經網絡", ("en",), "zh"),
        ("O oxigênio passa dos alvéolos para o sangue por difusão.", ("pt-BR",), "pt-br"),
        ("The oxygen passes from the alveoli into the blood by diffusion.", ("pt-BR",), "en"),
        ("The oxygen passes from the alveoli into the blood by diffusion.", ("zh-TW",), "en"),
    ],
)
def test_detection(text: str, candidates: tuple[str, ...], expected: str) -> None:
    assert detect_language(text, candidates) == expected


@pytest.mark.parametrize("model", ["none", pytest.param("auto", marks=pytest.mark.slow)])
def test_english_answer_in_a_german_bank_is_graded_alike_given_or_detected(model: str) -> None:
    bank = load_bank(GERMAN_BANK)
    answer = "In the alveoli oxygen diffuses into the blood through a thin wall."
    options = GradeOptions(model=model)
    detected = check_answer(bank, "gasaustausch", answer, None, options)
    given = check_answer(bank, "gasaustausch", answer, "en", options)
    assert detected.language == given.language == "en"
    assert detected.score == pytest.approx(given.score)
    assert [flag.code for flag in detected.flags] == [flag.code for flag in given.flags]
    assert "unexpected-language" in {flag.code for flag in detected.flags}


# --- lazy loading ------------------------------------------------------------------------------

_OTHER_ANALYSERS = (
    "kiwipiepy", "sudachipy", "pymorphy3", "simplemma", "rjieba", "opencc", "pyarabic",
    "pythainlp",
)  # fmt: skip


def _loaded_after(code: str) -> list[str]:
    script = (
        "import sys\n" + code + "\nprint(' '.join(m for m in "
        f"{(*_OTHER_ANALYSERS, 'lingua', 'torch')!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return result.stdout.split()


def test_validate_and_languages_load_no_analyser() -> None:
    loaded = _loaded_after(
        "from grader.load.loader import validate_paths, bank_languages\n"
        "from grader.text.languages import PROFILED_LANGUAGES\nfrom grader.evidence.language_support import describe\n"
        "validate_paths(['banks', 'tests/data/languages'])\n"
        "[describe(c) for c in bank_languages(['banks', 'tests/data/languages'])]\n"
        "[describe(c) for c in PROFILED_LANGUAGES]"
    )
    assert loaded == []


def test_an_english_class_loads_no_other_analyser() -> None:
    loaded = _loaded_after(
        "from grader.grading import GradeOptions, grade\n"
        "from grader.load.loader import load_bank\n"
        "from grader.load.submissions import Submission\n"
        "bank = load_bank('banks/transformer-triad.yaml')\n"
        "rows = [Submission('s1', 'text-to-text', 'T5 is an encoder-decoder model that reads "
        "text and writes text.', None, None, 1)]\n"
        "grade(bank, rows, GradeOptions(model='none'))"
    )
    assert loaded == ["lingua"]  # the detector, to find answers in another language
