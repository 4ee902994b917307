from __future__ import annotations

import pytest

from grader.bank import KeywordGroup, Keywords, Term
from grader.evidence.keywords import (
    GroupResult,
    KeywordResult,
    TermMatch,
    match_group,
    match_keywords,
    match_term,
)
from grader.text.analysis import analyze
from grader.text.regex import compile_regex


def _term(text: str, **options: object) -> Term:
    if text.startswith("re:"):
        return Term(text[3:], is_regex=True, **options)  # type: ignore[arg-type]
    return Term(text, **options)  # type: ignore[arg-type]


def _match(term: str, language: str, answer: str, **options: object) -> TermMatch | None:
    found = match_term(_term(term, **options), language, analyze(answer))
    if found is not None:
        assert answer[found.start : found.end] == found.text
    return found


def _matched_text(term: str, language: str, answer: str, **options: object) -> str | None:
    found = _match(term, language, answer, **options)
    return None if found is None or found.negated else found.text


def _group(language: str, *terms: str) -> KeywordGroup:
    return KeywordGroup(language, tuple(_term(term) for term in terms))


# --- per-language matching ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("디코더는 다음 토큰을 예측한다", "디코더"),
        ("이 모델은 디코더가 핵심이다", "디코더"),
        ("디코더를 쌓았다", "디코더"),
        ("인코더만 사용한다", None),
    ],
)
def test_korean_term_matches_with_particles(answer: str, expected: str | None) -> None:
    assert _matched_text("디코더", "ko", answer) == expected


def test_korean_term_matches_however_kiwi_splits_it() -> None:
    # Alone, 양방향 is one morpheme; in 양방향이 Kiwi splits it into 양 + 방향.
    assert _matched_text("양방향", "ko", "BERT는 양방향이다") == "양방향"
    assert _matched_text("양방향 모델", "ko", "양방향인 모델") == "양방향인 모델"


def test_korean_phrase_skips_particles() -> None:
    assert _matched_text("확장 법칙", "ko", "확장의 법칙이 중요하다") == "확장의 법칙"
    assert _matched_text("확장법칙", "ko", "확장의 법칙이 중요하다") == "확장의 법칙"
    assert _matched_text("확장 법칙", "ko", "확장법칙이 중요하다") == "확장법칙"


@pytest.mark.parametrize(
    ("term", "answer", "expected"),
    [
        ("双方向", "BERTは双方向の文脈を使う", "双方向"),
        ("文脈を使う", "BERTは双方向の文脈を使う", "文脈を使う"),
        ("使う", "GPTは左の文脈だけを使います", "使い"),
        ("言語モデル", "言語モデルは自然言語処理に使われる", "言語モデル"),
        ("京都", "東京都に住んでいる", None),  # inside a longer word: no match
        ("方向", "BERTは双方向の文脈を使う", None),
    ],
)
def test_japanese_terms_match_on_token_boundaries(
    term: str, answer: str, expected: str | None
) -> None:
    assert _matched_text(term, "ja", answer) == expected


@pytest.mark.parametrize(
    "answer",
    ["Нужен кодировщик.", "Без кодировщика нельзя.", "Работаем с кодировщиками.", "Кодировщику"],
)
def test_russian_lemmas_match_inflections(answer: str) -> None:
    found = _match("кодировщик", "ru", answer)
    assert found is not None and found.text.lower().startswith("кодировщик")


def test_russian_unknown_words_match_by_stem() -> None:
    assert _matched_text("трансформер", "ru", "Трансформеры работают") == "Трансформеры"


@pytest.mark.parametrize(
    ("term", "answer", "expected"),
    [
        ("масштабироваться", "Модели хорошо масштабируются.", "масштабируются"),
        ("масштабироваться", "Модель масштабируется.", "масштабируется"),
        ("масштабируются", "Модель умеет масштабироваться.", "масштабироваться"),
        ("масштабировать", "Модели масштабируются.", "масштабируются"),  # lemma vs stem
        ("кодировщик", "Без кодировщика нельзя.", "кодировщика"),
    ],
)
def test_russian_verb_forms_match_each_other(term: str, answer: str, expected: str) -> None:
    found = _match(term, "ru", answer)
    assert found is not None and not found.fuzzy and found.text == expected


def test_short_russian_stems_are_not_keys() -> None:
    # статья (article) and стать (become) share the Snowball stem "стат".
    assert _match("статья", "ru", "Он хочет стать учёным.") is None


@pytest.mark.parametrize(
    ("language", "answer"),
    [
        ("ko", "T5입니다"),
        ("ko", "구글의 T5는 인코더-디코더 모델이다"),
        ("ja", "T5は速い"),
        ("ja", "GoogleのT5はエンコーダ・デコーダだ"),
        ("en", "It is T5."),
    ],
)
def test_latin_term_with_digits_matches_inside_cjk_text(language: str, answer: str) -> None:
    assert _matched_text("T5", language, answer) == "T5"


@pytest.mark.parametrize("answer", ["GPT-4는 크다", "GPT-4は大きい", "GPT-4 is big"])
def test_hyphenated_model_names_match_inside_cjk_text(answer: str) -> None:
    assert _matched_text("GPT-4", "en", answer) == "GPT-4"


@pytest.mark.parametrize(
    ("term", "answer", "expected"),
    [
        ("encoder", "Two encoders are stacked", "encoders"),
        ("encoders", "An encoder reads it", "encoder"),
        ("scaling", "decoders scale better", "scale"),
        ("encoder", "it encrypts every token", None),
        ("decoder", "an encoder-only model", None),
    ],
)
def test_english_terms_match_stems(term: str, answer: str, expected: str | None) -> None:
    assert _matched_text(term, "en", answer) == expected


def test_terms_are_stemmed_like_the_answer() -> None:
    # English "attention" stems to "attent", German to "attention": the term follows the answer.
    found = match_term(_term("attention"), "en", analyze("Die Attention ist wichtig", "de"))
    assert found is not None and not found.fuzzy and found.text == "Attention"
    found = match_term(_term("Kodierer"), "de", analyze("Two Kodierers", "en"))
    assert found is not None and found.text == "Kodierers"


# --- phrases and gaps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Scaling laws favour decoders", "Scaling laws"),
        ("scaling follows a law", "scaling follows a law"),  # 2 words between: allowed
        ("scaling follows a simple law", None),  # 3 words between: too many
        ("law scaling", None),  # wrong order
        ("It is scaling. Law matters.", None),  # not across sentences
    ],
)
def test_phrase_gap(answer: str, expected: str | None) -> None:
    assert _matched_text("scaling law", "en", answer) == expected


def test_phrase_gap_zero() -> None:
    assert _matched_text("next token", "en", "predict the next token", gap=0) == "next token"
    assert _matched_text("next token", "en", "the next big token", gap=0) is None
    assert _matched_text("next token", "en", "the next big token", gap=1) == "next big token"


def test_hyphenated_term_matches_spaced_words() -> None:
    assert _matched_text("zero-shot", "en", "good zero shot abilities") == "zero shot"
    assert _matched_text("zero shot", "en", "good zero-shot abilities") == "zero-shot"


# --- regex terms -------------------------------------------------------------------------------


def test_regex_term_spans_point_into_the_original() -> None:
    answer = "It shows ＦＥＷ－Shot and\u200b few shot learning"
    found = _match("re:few[- ]shot", "en", answer)
    assert found is not None and found.text == "ＦＥＷ－Shot"
    assert (found.start, found.end) == (9, 17)
    assert not found.fuzzy


def test_regex_is_case_insensitive_and_sees_normalised_text() -> None:
    assert _matched_text("re:GPT-?[34]", "en", "we used gpt‑4 here") == "gpt‑4"
    assert _matched_text("re:디코더(는|가)", "ko", "디코더가 빠르다") == "디코더가"
    assert _matched_text("re:scal(e|ing)", "en", "nothing relevant") is None


def test_regex_in_a_negated_clause() -> None:
    found = _match("re:scal(e|ing)", "en", "It doesn't scale.")
    assert found is not None and found.negated


def test_bad_regex_raises_value_error() -> None:
    with pytest.raises(ValueError, match="missing"):
        compile_regex("scal(e|ing")
    with pytest.raises(ValueError):
        compile_regex("(a)\\1")  # backreferences are not RE2
    with pytest.raises(ValueError):
        compile_regex("")
    assert compile_regex("few[- ]shot") is compile_regex("few[- ]shot")


# --- misspellings ------------------------------------------------------------------------------


def test_long_term_matches_one_typo() -> None:
    found = _match("bidirectional", "en", "BERT is bidirectinal")
    assert found is not None and found.fuzzy and found.text == "bidirectinal"
    found = _match("attention", "en", "self atention")
    assert found is not None and found.fuzzy


def test_exact_match_is_preferred_to_fuzzy() -> None:
    found = _match("bidirectional", "en", "bidirectinal or bidirectional")
    assert found is not None and not found.fuzzy and found.start == 16


def test_two_typos_only_for_long_terms() -> None:
    assert _match("transformers", "en", "tranformmers") is not None  # 12 letters: 2 edits
    assert _match("decoder", "en", "dekoderr") is None  # 7 letters: 1 edit only


def test_short_term_is_not_fuzzy() -> None:
    assert _match("BERT", "en", "BART is different") is None
    assert _match("GPT", "en", "GTP") is None


def test_fuzzy_needs_the_same_first_letter() -> None:
    assert _match("encoder", "en", "a decoder") is None


def test_fuzzy_can_be_switched_off() -> None:
    assert _match("bidirectional", "en", "bidirectinal", fuzzy=False) is None
    assert _match("re:bidirectional", "en", "bidirectinal") is None


@pytest.mark.parametrize(
    ("term", "answer"),
    [
        ("inference", "infinity"),
        ("infinity", "inference"),
        ("and", "added"),
        ("added", "and"),
        ("attention", "they attend"),
        ("attend", "attention"),
        ("Large", "a larger model"),
        ("larger", "Large models"),
        ("production", "predictable"),
        ("predictable", "production"),
        ("llama", "llama3"),
    ],
)
def test_different_words_are_not_misspellings(term: str, answer: str) -> None:
    assert _match(term, "en", answer) is None


@pytest.mark.parametrize(
    ("term", "language", "answer", "expected"),
    [
        ("bidirectional", "en", "BERT is bidirectinal", "bidirectinal"),
        ("transformer", "en", "a transfomer model", "transfomer"),
        ("transformers", "en", "two transfomers", "transfomers"),
        ("autoregressive", "en", "GPT is autoregresive", "autoregresive"),
        ("кодировщик", "ru", "Нужен кодировшик.", "кодировшик"),
        ("кодировщик", "ru", "С кодировшиками.", "кодировшиками"),  # misspelt and inflected
        ("자기회귀모델", "ko", "GPT는 자기회기모델이다", "자기회기모델"),
        ("어텐션메커니즘", "ko", "어텐션매커니즘을 쓴다", "어텐션매커니즘"),
    ],
)
def test_real_typos_still_match(term: str, language: str, answer: str, expected: str) -> None:
    found = _match(term, language, answer)
    assert found is not None and found.fuzzy and found.text == expected


def test_short_cjk_words_are_exact_only() -> None:
    assert _match("양방향", "ko", "BERT는 양뱡향이다") is None  # 3 syllables: no typo allowed


def test_korean_long_term_matches_one_typo() -> None:
    found = _match("트랜스포머", "ko", "트렌스포머는 좋다")
    assert found is not None and found.fuzzy and found.text == "트렌스포머"
    assert _match("디코더", "ko", "디코드는") is None  # short CJK words: exact only


# --- negation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "language", "negated_answer", "control_answer"),
    [
        ("bidirectional", "en", "GPT is not bidirectional.", "BERT is bidirectional."),
        (
            "bidirectional",
            "en",
            "GPT isn't bidirectional.",
            "BERT isn't causal, it is bidirectional.",
        ),
        ("양방향", "ko", "GPT는 양방향이 아니다.", "BERT는 양방향이다."),
        ("양방향", "ko", "GPT는 양방향 문맥을 보지 않는다.", "BERT는 양방향 문맥을 본다."),
        ("双方向", "ja", "GPTは双方向ではない。", "BERTは双方向だ。"),
        ("双方向", "ja", "GPTは双方向の文脈を使いません。", "BERTは双方向の文脈を使います。"),
        ("двунаправленный", "ru", "GPT не двунаправленный.", "BERT двунаправленный."),
        (
            "двунаправленный",
            "ru",
            "GPT не является двунаправленным.",
            "BERT является двунаправленным.",
        ),
    ],
)
def test_negation_in_each_language(
    term: str, language: str, negated_answer: str, control_answer: str
) -> None:
    negated = _match(term, language, negated_answer)
    assert negated is not None and negated.negated
    control = _match(term, language, control_answer)
    assert control is not None and not control.negated


def test_negation_after_and_does_not_reach_back() -> None:
    found = _match("generate", "en", "GPT can generate text and BERT can't")
    assert found is not None and not found.negated
    found = _match("BERT", "en", "GPT can generate text and BERT can't")
    assert found is not None and found.negated


@pytest.mark.parametrize(
    ("term", "language", "answer", "negated"),
    [
        ("프롬프트", "ko", "프롬프트에 예시를 넣어 가중치 변경 없이 학습한다", False),
        ("예시", "ko", "프롬프트에 예시를 넣어 가중치 변경 없이 학습한다", False),
        ("가중치 변경", "ko", "프롬프트에 예시를 넣어 가중치 변경 없이 학습한다", True),
        ("例", "ja", "プロンプトに例を入れ、重みの更新なしで学習する", False),
        ("更新", "ja", "プロンプトに例を入れ、重みの更新なしで学習する", True),
        ("学習", "ja", "プロンプトに例を入れ、重みを更新せずに学習する", False),
        ("更新", "ja", "プロンプトに例を入れ、重みを更新せずに学習する", True),
        ("внимание", "ru", "Работает без внимания и предсказывает токены", True),
        ("предсказывать", "ru", "Работает без внимания и предсказывает токены", False),
    ],
)
def test_local_negators_negate_only_their_phrase(
    term: str, language: str, answer: str, negated: bool
) -> None:
    found = _match(term, language, answer)
    assert found is not None and found.negated is negated


def test_negated_and_credited_occurrences() -> None:
    found = _match("bidirectional", "en", "GPT is not bidirectional. BERT is bidirectional.")
    assert found is not None and not found.negated and found.start == 34


def test_not_only_does_not_negate() -> None:
    found = _match("decoder", "en", "Not only encoders but also decoders scale.")
    assert found is not None and not found.negated
    found = _match("encoder", "en", "Not only encoders but also decoders scale.")
    assert found is not None and not found.negated


def test_non_negatable_term_is_credited_in_a_negated_clause() -> None:
    found = _match("bidirectional", "en", "GPT is not bidirectional.", negatable=False)
    assert found is not None and not found.negated


def test_a_term_stating_a_negation_is_not_cancelled_by_it() -> None:
    found = _match("not bidirectional", "en", "GPT is not bidirectional.")
    assert found is not None and not found.negated and found.text == "not bidirectional"
    found = _match("양방향이 아니다", "ko", "GPT는 양방향이 아니다")
    assert found is not None and not found.negated


# --- groups and keyword sets ---------------------------------------------------------------------


def test_group_result_keeps_the_negated_match_to_explain_a_miss() -> None:
    group = _group("en", "bidirectional", "both directions")
    result = match_group(group, analyze("GPT is not bidirectional."))
    assert isinstance(result, GroupResult)
    assert not result.met and result.match is None
    assert result.negated is not None and result.negated.text == "bidirectional"
    result = match_group(group, analyze("It reads in both directions."))
    assert result.met and result.match is not None and result.match.text == "both directions"
    assert result.negated is None


def test_group_prefers_exact_to_fuzzy_matches() -> None:
    group = _group("en", "bidirectional", "attention")
    result = match_group(group, analyze("bidirectinal attention"))
    assert result.match is not None and result.match.text == "attention"


def test_mixed_korean_and_english_answer_meets_both_kinds_of_terms() -> None:
    answer = "BERT는 encoder만 쓰고 GPT는 디코더를 쓴다. Scaling law 덕분에 커졌다."
    keywords = Keywords(
        {
            "ko": (
                _group("ko", "인코더", "encoder"),
                _group("ko", "디코더"),
                _group("ko", "확장 법칙", "scaling law"),
            ),
            "en": (_group("en", "encoder"), _group("en", "decoder")),
        }
    )
    result = match_keywords(keywords, analyze(answer))
    assert isinstance(result, KeywordResult)
    assert result.language == "ko" and result.credit == pytest.approx(1.0)
    texts = [group.match.text for group in result.groups if group.match is not None]
    assert texts == ["encoder", "디코더", "Scaling law"]


def test_english_keywords_apply_to_an_english_answer() -> None:
    keywords = Keywords(
        {
            "ko": (_group("ko", "디코더"), _group("ko", "확장 법칙")),
            "en": (_group("en", "decoder"), _group("en", "scaling law")),
        }
    )
    result = match_keywords(keywords, analyze("Decoders follow a scaling law."))
    assert result.language == "en" and result.credit == pytest.approx(1.0)


def test_keyword_language_ties_go_to_the_answers_language_then_the_first() -> None:
    keywords = Keywords({"en": (_group("en", "GPT"),), "ko": (_group("ko", "GPT"),)})
    assert match_keywords(keywords, analyze("GPT는 디코더이다")).language == "ko"
    assert match_keywords(keywords, analyze("GPT est un décodeur", "fr")).language == "en"


def test_keyword_credit_is_the_share_of_groups_met() -> None:
    keywords = Keywords({"en": (_group("en", "decoder"), _group("en", "zero-shot"))})
    result = match_keywords(keywords, analyze("Decoders are great."))
    assert result.credit == pytest.approx(0.5)
    assert [group.met for group in result.groups] == [True, False]
    assert match_keywords(Keywords({}), analyze("anything")).credit == pytest.approx(0.0)
    assert KeywordResult("en", ()).credit == pytest.approx(0.0)


def test_zero_width_and_full_width_answers_match() -> None:
    answer = "ＢＥＲＴ uses enc\u200boders; ｄｅｃｏｄｅｒ too"
    found = _match("encoder", "en", answer)
    assert found is not None and found.text == "enc\u200boders"
    found = _match("decoder", "en", answer)
    assert found is not None and found.text == "ｄｅｃｏｄｅｒ"


def test_term_without_words_is_matched_as_text() -> None:
    assert _matched_text("+=", "en", "use a += b") == "+="
