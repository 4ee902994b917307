"""Answers built to fool the grader get little credit and a review flag; honest answers do not.

Each gaming answer is graded beside an honest answer to the same question, so a test fails both
when the trick earns credit and when the check starts punishing honest work. Keyword-only grading
(fast) covers the checks that need no model; the slow tests add the real default model, which the
'another question's model answer' check needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import grader.grading.embed
from grader.bank import Bank
from grader.grading import GradeOptions, grade
from grader.grading.embed import MAX_EMBED_CHARS, MAX_SENTENCES
from grader.load.loader import load_bank
from grader.load.submissions import Submission, read_submissions
from grader.results import AnswerResult, Results
from tests.conftest import EXAMPLE_SUBMISSIONS, ROOT, SEED_BANK

GAMING_CODES = frozenset(
    {
        "keyword-salad",
        "copied-question",
        "answers-another-question",
        "self-contradiction",
        "padded",
        "unexpected-language",
    }
)
LITTLE = 0.3  # "little credit": at most this share of the points (the mildest factor is 0.3)
FULL = 0.75  # the honest answer beside it earns at least this share

HONEST = {
    ("decoder-shift", "en"): "Decoders are trained on next-token prediction, so the same model can "
    "generate an answer for any task instead of needing a task-specific head like BERT. They also "
    "scale well: by the scaling laws the loss keeps dropping as you add parameters and data, and "
    "big decoders show emergent zero-shot and few-shot abilities.",
    (
        "decoder-shift",
        "ko",
    ): "GPT 같은 디코더는 다음 토큰 예측으로 학습해서 그대로 텍스트를 생성할 수 "
    "있다. 그리고 확장 법칙에 따라 파라미터와 데이터를 늘릴수록 성능이 좋아지고, 큰 모델에서는 "
    "제로샷 같은 창발적 능력이 나타난다.",
    ("text-to-text", "en"): "T5, the Text-to-Text Transfer Transformer: an encoder-decoder model.",
    ("causal-mask", "en"): "It masks out future positions in the attention scores, so each token "
    "can only attend to the previous tokens. Without it the model would see the token it has to "
    "predict during training, which would not match generation.",
    (
        "causal-mask",
        "ko",
    ): "인과 마스크는 미래 토큰을 가려서 각 토큰이 이전 토큰만 보게 한다. 그래야 "
    "학습 때 정답을 엿보지 않고 생성할 수 있다.",
    ("kv-cache-vram", "en"): "The KV cache stores keys and values for every previous token, so it "
    "grows linearly with the context length and 100K tokens need far more VRAM than 8K. "
    "Quantizing the weights and the cache to 8-bit or 4-bit makes it fit locally.",
}

FILLER = (
    "Last summer my family drove to the coast and stayed in a small blue house near the harbour. "
    "Every morning we bought bread from the bakery on the corner and walked along the beach. "
    "The weather was warm, the gulls were loud and the ferry left for the islands at noon. "
)


@dataclass(frozen=True)
class Trick:
    name: str
    question: str
    language: str  # the honest answer it is compared with
    code: str
    answer: str


def _padded() -> str:
    honest = HONEST[("decoder-shift", "en")]
    return honest + " " + FILLER * 60  # about 3,000 irrelevant words


KEYWORD_TRICKS = (
    Trick(
        "salad-en",
        "decoder-shift",
        "en",
        "keyword-salad",
        "scaling law scale scaling larger bigger generate generation next token autoregressive "
        "zero-shot few-shot emergent in-context prompt",
    ),
    Trick(
        "salad-ko",
        "decoder-shift",
        "ko",
        "keyword-salad",
        "확장 법칙 스케일링 제로샷 퓨샷 창발 생성 다음 토큰 자기회귀 프롬프트",
    ),
    Trick(
        "question-copied",
        "text-to-text",
        "en",
        "copied-question",
        'Which Transformer architecture treats every NLP task as a "text-to-text" problem? '
        "Name the model and say what kind of architecture it uses.",
    ),
    Trick(
        "negated-en",
        "causal-mask",
        "en",
        "self-contradiction",
        "The causal mask hides future tokens so each token attends only to previous ones, which "
        "is needed for generation. Actually no, that is wrong: the mask does not hide future "
        "tokens and it has nothing to do with generation.",
    ),
    Trick(
        "negated-kv",
        "kv-cache-vram",
        "en",
        "self-contradiction",
        "The KV cache grows linearly with the sequence length, so a 100K context needs far more "
        "VRAM than 8K, and 4-bit quantization helps. But none of this is true: the cache does not "
        "grow linearly and quantization does not help.",
    ),
    Trick(
        "negated-ko",
        "causal-mask",
        "ko",
        "self-contradiction",
        "인과 마스크는 미래 토큰을 가려서 각 토큰이 이전 토큰만 보게 한다. 아니, 사실 인과 마스크는 "
        "미래 토큰을 가리지 않고 각 토큰이 이전 토큰만 보게 하지도 않는다.",
    ),
    Trick("padded", "decoder-shift", "en", "padded", _padded()),
    Trick(
        "foreign-language",
        "text-to-text",
        "en",
        "unexpected-language",
        "T5, ein Encoder-Decoder-Modell: Der Encoder liest den Eingabetext und der Decoder "
        "erzeugt den Ausgabetext.",
    ),
)


def answers_by_row(results: Results) -> dict[tuple[str, str], AnswerResult]:
    return {
        (student.id, answer.id): answer
        for student in results.students
        for question in student.questions
        for answer in question.answers
        if answer.answered
    }


def gaming_codes(answer: AnswerResult) -> set[str]:
    return {flag.code for flag in answer.flags} & GAMING_CODES


def honest_rows(keys: set[tuple[str, str]]) -> list[Submission]:
    return [
        Submission(f"honest-{language}", question, HONEST[(question, language)], language)
        for question, language in sorted(keys)
    ]


def trick_rows(tricks: tuple[Trick, ...]) -> list[Submission]:
    return [Submission(trick.name, trick.question, trick.answer) for trick in tricks]


def check_trick(answers: dict[tuple[str, str], AnswerResult], trick: Trick) -> None:
    gamed = answers[(trick.name, trick.question)]
    honest = answers[(f"honest-{trick.language}", trick.question)]
    assert trick.code in gaming_codes(gamed), (trick.name, gamed.flags)
    if trick.code == "unexpected-language":
        # A right answer in the learner's own language: flagged for the teacher, not halved.
        assert gamed.score >= FULL * gamed.points, (trick.name, gamed.score)
    else:
        assert gamed.score <= LITTLE * gamed.points, (trick.name, gamed.score)
    assert gaming_codes(honest) == set(), (trick.name, honest.flags)
    assert honest.score >= FULL * honest.points, (trick.name, honest.score)


# ---------------------------------------------------------------- keyword-only (fast)


@pytest.fixture(scope="module")
def seed_bank() -> Bank:
    return load_bank(SEED_BANK)


@pytest.fixture(scope="module")
def keyword_answers(seed_bank: Bank) -> dict[tuple[str, str], AnswerResult]:
    keys = {(trick.question, trick.language) for trick in KEYWORD_TRICKS}
    rows = honest_rows(keys) + trick_rows(KEYWORD_TRICKS)
    return answers_by_row(grade(seed_bank, rows, GradeOptions(model="none")))


@pytest.mark.parametrize("trick", KEYWORD_TRICKS, ids=lambda trick: trick.name)
def test_trick_gets_little_credit_and_a_flag(keyword_answers, trick: Trick) -> None:
    check_trick(keyword_answers, trick)


def test_model_answers_are_never_taken_for_gaming(seed_bank: Bank) -> None:
    """Every model answer, graded as a student's answer to its own question, is not flagged."""
    rows = [
        Submission(f"model-{language}-{index}", gradable.id, text, language)
        for gradable in seed_bank.gradables().values()
        for index, (language, text) in enumerate(gradable.model_answers())
    ]
    answers = answers_by_row(grade(seed_bank, rows, GradeOptions(model="none")))
    flagged = {key: gaming_codes(answer) for key, answer in answers.items() if gaming_codes(answer)}
    assert len(answers) == len(rows) and flagged == {}


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("text-to-text", "T5입니다. 인코더-디코더 구조예요."),
        ("text-to-text", "T5。エンコーダー・デコーダー型のモデル。"),
        ("text-to-text", "T5 — модель «кодировщик-декодировщик»."),
        ("text-to-text", "T5! encoder-decoder 구조임"),
        ("mlm-vs-ntp", "BERT uses masked language modelling and GPT uses next token prediction."),
        ("mlm-vs-ntp", "BERTはマスクされた単語を予測する(MLM)。GPTは次のトークンを予測する。"),
        ("cross-attention", "Это внимание декодировщика к кодировщику."),
        ("causal-mask", "GPT does not see future tokens; each token attends only to earlier ones."),
    ],
)
def test_concise_honest_answers_are_not_taken_for_gaming(seed_bank: Bank, question, answer):
    """Short answers reuse the question's and the rubric's words: that is not a trick."""
    result = answers_by_row(
        grade(seed_bank, [Submission("s", question, answer)], GradeOptions(model="none"))
    )[("s", question)]
    assert gaming_codes(result) == set(), result.flags


def test_example_submissions_hold_every_trick_the_keywords_can_see(seed_bank: Bank) -> None:
    """banks/examples/submissions.csv shows each gaming answer; keyword-only grading flags them."""
    read = read_submissions(EXAMPLE_SUBMISSIONS)
    answers = answers_by_row(grade(seed_bank, read.rows, GradeOptions(model="none")))
    found = set().union(*(gaming_codes(answer) for answer in answers.values()))
    assert found >= GAMING_CODES - {"answers-another-question"}
    for answer in answers.values():
        if gaming_codes(answer) - {"unexpected-language"}:
            assert answer.score <= LITTLE * answer.points, (answer.id, answer.answer[:60])


# ---------------------------------------------------------------- the real default model (slow)

ANOTHER_QUESTION = (
    ("other-kv", "causal-mask", "kv-cache-vram"),  # (student, asked, whose model answer)
    ("other-mask", "text-to-text", "causal-mask"),
)
COMPACT_QUESTIONS = ("decoder-shift", "text-to-text", "causal-mask", "kv-cache-vram")
ONE_MEGABYTE = 1_000_000


def write_compact_bank(folder: Path) -> Path:
    """The seed bank's English questions (and its real rubrics), fewer texts to embed.

    positional-encoding is kept without its rubric: the model-answer-only path.
    """
    seed = load_bank(SEED_BANK)
    questions = []
    for question_id in (*COMPACT_QUESTIONS, "positional-encoding"):
        question = seed.question(question_id)
        assert question is not None and question.rubric is not None
        entry = {
            "id": question.id,
            "type": "short_answer",
            "points": question.points,
            "prompt": {"en": question.prompt.get("en")},
            "answers": {"en": list(question.answers["en"])},
        }
        if question_id != "positional-encoding":
            entry["rubric"] = question.rubric.id
        questions.append(entry)
    bank = {"id": "compact", "title": "Compact", "languages": ["en"], "questions": questions}
    path = folder / "compact.yaml"
    path.write_text(yaml.safe_dump(bank, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def one_megabyte_answer() -> str:
    """Half a right answer, a megabyte of distinct irrelevant sentences, the other half at the end."""
    head = "The KV cache stores keys and values for every previous token, so it grows linearly. "
    tail = " Finally: quantisation to 4-bit makes it fit."
    lines, size, index = [head], len(head) + len(tail), 0
    while size < ONE_MEGABYTE:
        line = f"Appendix line {index}: the harbour ferry left at noon with {index} passengers. "
        lines.append(line)
        size += len(line)
        index += 1
    return "".join(lines)[: ONE_MEGABYTE - len(tail)] + tail


@dataclass(frozen=True)
class ModelRun:
    answers: dict[tuple[str, str], AnswerResult]
    embedded: list[str]  # every text sent to the embedder
    seconds: float


@pytest.fixture(scope="module")
def model_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelRun]:
    """One grading pass with the default model ('auto'); records what was embedded."""
    folder = tmp_path_factory.mktemp("gaming")
    bank = load_bank(write_compact_bank(folder), [ROOT / "rubrics"])
    seed = load_bank(SEED_BANK)
    tricks = tuple(trick for trick in KEYWORD_TRICKS if trick.language == "en")
    rows = honest_rows({(q, "en") for q in COMPACT_QUESTIONS}) + trick_rows(tricks)
    for student, asked, source in ANOTHER_QUESTION:
        rows.append(Submission(student, asked, seed.gradables()[source].answers["en"][0]))
    rows.append(Submission("megabyte", "kv-cache-vram", one_megabyte_answer()))
    embedded: list[str] = []
    real_embed = grader.grading.embed.embed_texts

    def recording_embed(embedder, texts, cache):  # type: ignore[no-untyped-def]
        embedded.extend(texts)
        return real_embed(embedder, texts, cache)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grader.grading.embed, "embed_texts", recording_embed)
        started = time.perf_counter()
        results = grade(bank, rows, GradeOptions(cache_dir=folder / "cache"))
        seconds = time.perf_counter() - started
    yield ModelRun(answers_by_row(results), embedded, seconds)


@pytest.mark.slow
@pytest.mark.parametrize(
    "trick",
    [trick for trick in KEYWORD_TRICKS if trick.language == "en"],
    ids=lambda trick: trick.name,
)
def test_trick_with_the_default_model(model_run: ModelRun, trick: Trick) -> None:
    check_trick(model_run.answers, trick)
    assert model_run.answers[(trick.name, trick.question)].model is not None


@pytest.mark.slow
@pytest.mark.parametrize(("student", "asked", "source"), ANOTHER_QUESTION)
def test_another_questions_model_answer(model_run: ModelRun, student, asked, source) -> None:
    gamed = model_run.answers[(student, asked)]
    honest = model_run.answers[("honest-en", asked)]
    assert "answers-another-question" in gaming_codes(gamed), gamed.flags
    assert f"'{source}'" in next(f.reason for f in gamed.flags if f.code.startswith("answers-"))
    assert gamed.score <= LITTLE * gamed.points
    assert gaming_codes(honest) == set() and honest.score >= FULL * honest.points


@pytest.mark.slow
def test_one_megabyte_answer_is_analysed_in_full_and_embedded_in_bounded_pieces(
    model_run: ModelRun,
) -> None:
    answer = model_run.answers[("megabyte", "kv-cache-vram")]
    assert len(answer.answer) == ONE_MEGABYTE
    assert {"padded", "long-answer"} <= {flag.code for flag in answer.flags}
    assert answer.score <= LITTLE * answer.points
    # analysed in full: the quantisation term in the last characters was found
    matches = [group.match for c in answer.criteria for group in c.groups if group.match]
    assert any(match.start > ONE_MEGABYTE - 40 for match in matches), matches
    # embedded in bounded pieces: the whole answer's start and its first sentences, each capped
    pieces = {text for text in model_run.embedded if "Appendix line" in text}
    assert 2 <= len(pieces) <= MAX_SENTENCES + 1
    assert max(len(text) for text in model_run.embedded) <= MAX_EMBED_CHARS
    assert model_run.seconds < 180
