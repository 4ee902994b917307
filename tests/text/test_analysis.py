from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.text.analysis import Analysis, Token, analyze, clear_cache, content_words
from grader.text.scripts import detect_language
from grader.text.sentences import split_sentences


def _token(analysis: Analysis, surface: str) -> Token:
    return next(token for token in analysis.tokens if token.surface == surface)


def _negated(analysis: Analysis) -> dict[str, bool]:
    return {token.surface: token.negated for token in analysis.tokens}


def _assert_spans(analysis: Analysis) -> None:
    for token in analysis.tokens:
        assert analysis.text[token.start : token.end] == token.surface
        assert token.surface.strip() == token.surface and token.surface


# --- language detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "candidates", "expected"),
    [
        ("디코더는 자기회귀 모델이다", (), "ko"),
        ("BERT는 encoder를 사용하고 GPT는 decoder를 사용한다", (), "ko"),
        ("BERTは双方向の文脈を使う", (), "ja"),
        ("双方向注意力", (), "zh"),
        ("双方向", ("ja", "en"), "ja"),
        ("双方向", ("zh", "ja"), "zh"),
        ("Кодировщик читает текст", (), "ru"),
        ("Кодировщик читает текст", ("uk",), "uk"),
        ("The encoder reads the text", (), "en"),
        ("Der Kodierer liest den Text", ("ko", "de", "en"), "de"),
        ("The decoder (디코더) predicts the next token", (), "en"),
        ("Ο κωδικοποιητής", (), "el"),
    ],
)
def test_detect_language(text: str, candidates: tuple[str, ...], expected: str) -> None:
    assert detect_language(text, candidates) == expected


@pytest.mark.parametrize("text", ["", "   ", "123 + 456 = 579", "!!! ???"])
def test_detect_language_without_letters(text: str) -> None:
    assert detect_language(text) is None


def test_analyze_uses_the_declared_or_detected_language() -> None:
    assert analyze("디코더").language == "ko"
    assert analyze("双方向", "ja").language == "ja"
    assert analyze("双方向", "JA").language == "ja"
    assert analyze("디코더", "ko-KR").language == "ko"
    assert analyze("123").language == "und"


# --- analysers ---------------------------------------------------------------------------------


def test_korean_particles_are_split_off() -> None:
    analysis = analyze("디코더는 다음 토큰을 예측하고 디코더가 빠르다")
    decoders = [token for token in analysis.tokens if token.norm == "디코더"]
    assert [token.surface for token in decoders] == ["디코더", "디코더"]
    assert all(token.language == "ko" and token.content for token in decoders)
    assert "는" not in {token.norm for token in analysis.tokens}
    assert "을" not in {token.norm for token in analysis.tokens}
    _assert_spans(analysis)


def test_korean_word_keys_do_not_depend_on_kiwis_split() -> None:
    # Kiwi reads 양방향이 as 양 (determiner) + 방향, but 양방향 alone as one noun.
    assert content_words(analyze("양방향이다")) == content_words(analyze("양방향")) == {"양방향"}
    assert _token(analyze("GPT는 양방향이 아니다"), "양방향").negated


def test_korean_verbs_use_the_morpheme_form() -> None:
    analysis = analyze("규모를 키울수록 좋아진다")
    grow = next(token for token in analysis.tokens if token.norm == "키우")
    assert grow.surface == "키울" and grow.content


def test_russian_inflections_share_a_lemma() -> None:
    analysis = analyze("кодировщик кодировщика кодировщиками кодировщику")
    assert {token.norm for token in analysis.tokens} == {"кодировщик"}
    assert all(token.language == "ru" for token in analysis.tokens)


def test_russian_unknown_words_share_a_stem() -> None:
    analysis = analyze("трансформер трансформеры трансформером")
    assert len({token.norm for token in analysis.tokens}) == 1


def test_russian_verb_forms_share_a_key() -> None:
    # None of these is in pymorphy3's dictionary, and their own Snowball stems differ
    # (масштабир, масштабирова): the stem of the guessed lemma is the same for all.
    analysis = analyze("масштабируются масштабироваться масштабируется", "ru")
    assert len({token.norm for token in analysis.tokens}) == 1
    # A dictionary verb keeps its lemma; its Snowball stem is the unknown forms' key.
    known = analyze("масштабировать", "ru").tokens[0]
    assert known.norm == "масштабировать"
    assert known.stem == analysis.tokens[0].stem == analysis.tokens[0].norm


def test_russian_tokens_have_a_stem_and_others_none() -> None:
    analysis = analyze("кодировщика encoder", "ru")
    assert _token(analysis, "кодировщика").stem == "кодировщик"
    assert _token(analysis, "encoder").stem == ""


def test_russian_function_words_are_not_content() -> None:
    analysis = analyze("Модель работает без рекуррентности и с вниманием")
    assert not _token(analysis, "без").content
    assert not _token(analysis, "и").content
    assert _token(analysis, "рекуррентности").content


def test_japanese_without_spaces_is_segmented() -> None:
    analysis = analyze("BERTは双方向の文脈を使う")
    assert [token.surface for token in analysis.tokens] == ["BERT", "双方向", "文脈", "使う"]
    assert _token(analysis, "BERT").language == "en"
    assert _token(analysis, "双方向").language == "ja"
    _assert_spans(analysis)


def test_japanese_keys_are_dictionary_forms() -> None:
    analysis = analyze("文脈を使わない", "ja")
    assert _token(analysis, "使わ").norm == "使う"


def test_english_words_are_stemmed() -> None:
    analysis = analyze("Encoders encode; the encoder is encoding")
    assert {token.norm for token in analysis.tokens if token.content} == {"encod"}
    assert not _token(analysis, "the").content


def test_chinese_is_cut_into_words() -> None:
    analysis = analyze("双向注意力", "zh")
    assert [token.norm for token in analysis.tokens] == ["双向", "注意力"]


def test_other_latin_languages_use_their_snowball_stemmer() -> None:
    analysis = analyze("Die Kodierer lesen Kodierern vor", "de")
    assert _token(analysis, "Kodierer").norm == _token(analysis, "Kodierern").norm
    assert _token(analysis, "Kodierer").norm != "kodierer"
    assert _token(analysis, "Kodierer").language == "de"


def test_mixed_korean_and_english_answer() -> None:
    analysis = analyze("BERT는 encoder를 사용하고 GPT는 decoders를 쓴다")
    assert analysis.language == "ko"
    assert set(analysis.languages_present) == {"ko", "en"}
    encoder = _token(analysis, "encoder")
    assert (encoder.norm, encoder.language) == ("encod", "en")
    assert _token(analysis, "decoders").norm == "decod"
    assert _token(analysis, "사용").language == "ko"
    _assert_spans(analysis)


def test_zero_width_and_full_width_answers_keep_original_spans() -> None:
    answer = "ＢＥＲＴ uses enc\u200boders and 디코\u200b더는"
    analysis = analyze(answer)
    encoders = next(token for token in analysis.tokens if token.norm == "encod")
    assert encoders.surface == "enc\u200boders"
    assert _token(analysis, "ＢＥＲＴ").norm == "bert"
    assert any(token.surface == "디코\u200b더" for token in analysis.tokens)
    _assert_spans(analysis)


def test_content_words() -> None:
    assert content_words(analyze("The encoders are not bidirectional")) == frozenset(
        {"encod", "bidirect"}
    )
    assert content_words(analyze("디코더는 다음 토큰을 예측한다")) >= {"디코더", "토큰", "예측"}
    assert content_words(analyze("")) == frozenset()


def test_analysis_is_cached() -> None:
    clear_cache()
    first = analyze("Decoders scale well.", "en")
    assert analyze("Decoders scale well.", "en") is first
    assert analyze("Decoders scale well.", "ko") is not first


@pytest.mark.parametrize(
    ("text", "surface"),
    [("T5입니다", "T5"), ("T5는 인코더-디코더다", "T5"), ("T5は速い", "T5"), ("T5模型", "T5")],
)
def test_latin_letters_and_digits_in_cjk_text_are_one_word(text: str, surface: str) -> None:
    # Kiwi and Sudachi cut "T5" into "T" + "5"; an English text has one word "t5".
    token = _token(analyze(text), surface)
    assert (token.norm, token.language) == ("t5", "en")
    _assert_spans(analyze(text))


@pytest.mark.parametrize("text", ["GPT-4는 크다", "GPT-4は大きい", "GPT-4 is big"])
def test_latin_words_in_cjk_text_get_the_keys_of_a_latin_text(text: str) -> None:
    # Sudachi keeps "GPT-4" whole, Kiwi and the English analyser read "GPT" + "4".
    keys = [token.norm for token in analyze(text).tokens if token.language == "en"]
    assert keys[:2] == ["gpt", "4"]


# --- sentences ---------------------------------------------------------------------------------


def test_split_sentences() -> None:
    text = "First one, e.g. still first! Second?\nThird line。次の文です。  Last"
    spans = split_sentences(text)
    assert [text[start:end] for start, end in spans] == [
        "First one, e.g. still first!",
        "Second?",
        "Third line。",
        "次の文です。",
        "Last",
    ]
    assert split_sentences("   ") == []
    assert split_sentences("Pi is 3.14 today. Yes") == [(0, 17), (18, 21)]
    assert split_sentences("See Fig. 3 and A. Vaswani. Done") == [(0, 26), (27, 31)]


def test_analysis_sentences_cover_the_answer() -> None:
    analysis = analyze("디코더는 빠르다. 인코더는 느리다.")
    assert [analysis.text[s:e] for s, e in analysis.sentences] == [
        "디코더는 빠르다.",
        "인코더는 느리다.",
    ]


# --- negation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "GPT is not bidirectional.",
        "GPT isn't bidirectional.",
        "GPT is never bidirectional.",
        "GPT is no longer bidirectional.",
        "GPT works without bidirectional attention.",
        "GPT has no bidirectional attention.",
    ],
)
def test_english_negation(answer: str) -> None:
    assert _token(analyze(answer), "bidirectional").negated


def test_english_negation_controls() -> None:
    negated = _negated(analyze("GPT is not causal only, but BERT is bidirectional."))
    assert negated["causal"] and not negated["bidirectional"] and not negated["BERT"]
    negated = _negated(analyze("It is not only bidirectional but also deep."))
    assert not negated["bidirectional"] and not negated["deep"]
    negated = _negated(analyze("Without doubt, BERT is bidirectional."))
    assert not negated["bidirectional"]
    assert not _negated(analyze("GPT is unidirectional. BERT is bidirectional."))["bidirectional"]


@pytest.mark.parametrize(
    "answer",
    [
        "GPT는 양방향이 아니다.",
        "GPT는 양방향이 아님",
        "GPT는 양방향이지 않다",
        "GPT는 양방향 아닌 모델이다",
        "GPT는 양방향 문맥을 안 본다",
        "GPT는 양방향 문맥을 못 본다",
        "GPT는 양방향 문맥을 보지 않는다",
    ],
)
def test_korean_negation(answer: str) -> None:
    analysis = analyze(answer)
    words = [token for token in analysis.tokens if token.norm in ("방향", "양방향")]
    assert words and all(token.negated for token in words)


def test_korean_negation_controls() -> None:
    analysis = analyze("BERT는 양방향이지만 GPT는 양방향이 아니다")
    directions = [token.negated for token in analysis.tokens if token.norm == "양방향"]
    assert directions == [False, True]
    negated = _negated(analyze("양방향이 아니라 단방향이다"))
    assert negated["양방향"] and not negated["단방향"]
    analysis = analyze("양방향일 뿐만 아니라 빠르다")
    assert not any(token.negated for token in analysis.tokens)
    assert not any(token.negated for token in analyze("BERT는 양방향 모델이다").tokens)


@pytest.mark.parametrize(
    "answer",
    [
        "GPTは双方向ではない。",
        "GPTは双方向じゃない",
        "GPTは双方向ではありません",
        "GPTは双方向の文脈を使わない",
        "GPTは双方向の文脈を使わず",
        "GPTは双方向の文脈を使いません",
    ],
)
def test_japanese_negation(answer: str) -> None:
    assert _token(analyze(answer), "双方向").negated


def test_japanese_negation_controls() -> None:
    analysis = analyze("BERTは双方向だが、GPTは双方向ではない")
    assert [token.negated for token in analysis.tokens if token.norm == "双方向"] == [False, True]
    analysis = analyze("双方向ではなく一方向だ")
    assert _token(analysis, "双方向").negated and not _token(analysis, "方向").negated
    assert not _token(analyze("双方向だけでなく高速だ"), "双方向").negated
    assert not _token(analyze("BERTは双方向の文脈を使う"), "双方向").negated


@pytest.mark.parametrize(
    "answer",
    [
        "GPT не двунаправленный.",
        "GPT не является двунаправленной моделью.",
        "У GPT нет двунаправленного внимания.",
        "GPT работает без двунаправленного внимания.",
    ],
)
def test_russian_negation(answer: str) -> None:
    analysis = analyze(answer)
    assert next(
        token for token in analysis.tokens if token.surface.startswith("двунаправл")
    ).negated


def test_russian_negation_controls() -> None:
    analysis = analyze("GPT не двунаправленный, а BERT двунаправленный")
    flags = [token.negated for token in analysis.tokens if token.surface.startswith("двунаправл")]
    assert flags == [True, False]
    analysis = analyze("BERT не только двунаправленный, но и глубокий")
    assert not any(token.negated for token in analysis.tokens)


def test_english_negation_does_not_reach_back_over_and() -> None:
    negated = _negated(analyze("GPT can generate text and BERT can't"))
    assert not negated["generate"] and not negated["text"]
    assert negated["BERT"] and negated["can't"]
    negated = _negated(analyze("GPT is not bidirectional and BERT is"))
    assert negated["bidirectional"] and not negated["BERT"]
    negated = _negated(analyze("BERT reads both sides whereas GPT does not"))
    assert not negated["reads"] and negated["GPT"]


def test_a_negator_right_before_a_clause_word_denies_that_clause() -> None:
    """ "It was not because X": X is denied; "X, but not because Y" leaves X standing."""
    negated = _negated(analyze("It was not because decoders generate text"))
    assert negated["generate"] and negated["text"]
    negated = _negated(analyze("Decoders won, not because they generate text"))
    assert not negated["won"] and negated["generate"]
    negated = _negated(analyze("GPT is not small because it has many layers"))
    assert negated["small"] and not negated["layers"]


def test_english_negation_reaches_forward_over_or_but_not_back() -> None:
    negated = _negated(analyze("It does not use recurrence or convolution"))
    assert negated["recurrence"] and negated["convolution"]
    negated = _negated(analyze("GPT predicts text or it cannot work"))
    assert not negated["predicts"] and negated["work"]


def test_korean_eopsi_negates_only_the_noun_phrase_before_it() -> None:
    negated = _negated(analyze("프롬프트에 예시를 넣어 가중치 변경 없이 학습한다"))
    assert negated["가중"] and negated["변경"]
    assert not negated["프롬프트"] and not negated["예시"] and not negated["학습"]
    negated = _negated(analyze("BERT 없이 학습한다"))
    assert negated["BERT"] and not negated["학습"]
    negated = _negated(analyze("GPT는 예시도 없이 새로운 과제를 푼다"))  # one particle between
    assert negated["예시"] and not negated["과제"] and not negated["GPT"]


def test_japanese_nashi_negates_only_the_noun_phrase_before_it() -> None:
    negated = _negated(analyze("プロンプトに例を入れ、重みの更新なしで学習する"))
    assert negated["更新"] and not negated["例"] and not negated["重み"] and not negated["学習"]
    negated = _negated(analyze("微調整なしに使える"))
    assert negated["微調整"] and not negated["使える"]
    assert _negated(analyze("重み更新はなし"))["更新"]  # no noun phrase right before: the clause


def test_japanese_zu_negates_its_verb_phrase() -> None:
    negated = _negated(analyze("BERTは文脈を使わずに予測する"))
    assert negated["文脈"] and negated["使わ"]
    assert not negated["BERT"] and not negated["予測"]
    negated = _negated(analyze("プロンプトに例を入れて、重みを更新せずに学習する"))
    assert negated["更新"] and not negated["例"] and not negated["学習"]


def test_russian_bez_negates_only_the_noun_phrase_after_it() -> None:
    analysis = analyze("GPT работает без двунаправленного внимания и предсказывает следующий токен")
    negated = _negated(analysis)
    assert negated["двунаправленного"] and negated["внимания"]
    assert not negated["работает"] and not negated["предсказывает"] and not negated["следующий"]
    negated = _negated(analyze("Модель работает без рекуррентности и свёрток."))
    assert negated["рекуррентности"] and negated["свёрток"] and not negated["работает"]


def test_negation_covers_english_words_inside_a_korean_clause() -> None:
    analysis = analyze("GPT는 bidirectional attention을 쓰지 않는다. BERT는 bidirectional이다")
    flags = [token.negated for token in analysis.tokens if token.surface == "bidirectional"]
    assert flags == [True, False]


# --- size ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_megabyte_answer_is_analysed_quickly() -> None:
    sentence = "Decoder-only models scale better, and GPT is not bidirectional; BERT is. "
    answer = sentence * (1_000_000 // len(sentence) + 1)
    analyze("warm up", "en")
    started, cpu_started = time.perf_counter(), time.process_time()
    analysis = analyze(answer, "en")
    cpu = time.process_time() - cpu_started
    print(f"1 MB English answer: {time.perf_counter() - started:.2f}s wall, {cpu:.2f}s CPU")
    assert len(analysis.tokens) > 100_000
    assert cpu < 8  # CPU time: the wall clock depends on what else the machine runs
    last = analysis.tokens[-1]
    assert answer[last.start : last.end] == last.surface


@pytest.mark.slow
def test_one_megabyte_korean_answer_is_analysed() -> None:
    sentence = "디코더 전용 모델은 규모를 키울수록 좋아지며 GPT는 양방향이 아니다. "
    answer = sentence * (1_000_000 // len(sentence.encode()) + 1)
    analyze("준비", "ko")
    started, cpu_started = time.perf_counter(), time.process_time()
    analysis = analyze(answer, "ko")
    cpu = time.process_time() - cpu_started
    print(f"1 MB Korean answer: {time.perf_counter() - started:.2f}s wall, {cpu:.2f}s CPU")
    assert len(analysis.tokens) > 50_000
    assert cpu < 20


_PIECES = st.sampled_from(
    [
        "GPT",
        "는",
        "양방향이",
        "아니다",
        " ",
        ".",
        "\n",
        "双方向",
        "ではない",
        "。",
        "не",
        "кодировщика",
        "isn't",
        "encoders",
        "\u200b",
        "ＢＥＲＴ",
        "e\u0301",
        "…",
        "3.5",
        ",",
        "ㅋㅋ",
        "ｶﾞ",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, max_size=25).map("".join), st.sampled_from([None, "en", "ko", "ja"]))
def test_any_text_is_analysed_with_valid_spans(text: str, language: str | None) -> None:
    analysis = analyze(text, language)
    _assert_spans(analysis)
    starts = [token.start for token in analysis.tokens]
    assert starts == sorted(starts)
    for start, end in analysis.sentences:
        assert 0 <= start < end <= len(text) and text[start:end].strip() == text[start:end]
