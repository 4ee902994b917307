from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grader.text.normalize import normalize_text, normalize_with_offsets, normalize_with_spans


def test_full_width_and_case_are_folded() -> None:
    assert normalize_text("ＢＥＲＴ　Ｕｓｅｓ Encoders") == "bert uses encoders"
    assert normalize_text("Straße") == "strasse"


def test_half_width_katakana_becomes_full_width() -> None:
    assert normalize_text("ｶﾞｰﾄﾞ") == "ガード"


def test_zero_width_and_bidi_characters_are_removed() -> None:
    assert normalize_text("enc\u200bo\u200dder\u00ad") == "encoder"
    assert normalize_text("\ufeff\u202edecoder\u202c\u2066x\u2069") == "decoderx"


def test_whitespace_is_collapsed_and_trimmed() -> None:
    assert normalize_text("  a\t\tb \n\n c\u3000d\u00a0 ") == "a b c d"
    assert normalize_text(" \u200b ") == ""
    assert normalize_text("") == ""


def test_quotes_and_dashes_are_unified() -> None:
    assert normalize_text("“decoder” – ‘only’ — «x» −1") == '"decoder" - \'only\' - "x" -1'


def test_combining_marks_are_composed() -> None:
    assert normalize_text("e\u0301cole") == "école"
    assert normalize_with_offsets("e\u0301cole")[1] == [0, 2, 3, 4, 5]


def test_hangul_compatibility_jamo_are_kept() -> None:
    assert normalize_text("ㅋㅋ 좋다") == "ㅋㅋ 좋다"


def test_look_alikes_are_mapped_only_inside_mixed_words() -> None:
    assert normalize_text("trаnsformer") == "transformer"  # Cyrillic а in a Latin word
    assert normalize_text("кодирoвщик") == "кодировщик"  # Latin o in a Cyrillic word
    assert normalize_text("сор") == "сор"  # all Cyrillic: left alone
    assert normalize_text("GPTмодель") == "gptмодель"  # g has no look-alike: left alone


def test_offsets_point_into_the_original() -> None:
    original = "  ＧＰＴ\u200b is\n\n ＮＯＴ bidirectional"
    text, offsets = normalize_with_offsets(original)
    assert text == "gpt is not bidirectional"
    assert len(offsets) == len(text)
    start = text.index("not")
    normalized = normalize_with_spans(original)
    begin, end = normalized.to_original_span(start, start + 3)
    assert original[begin:end] == "ＮＯＴ"


def test_expansions_map_every_character_to_its_source() -> None:
    original = "ﬁne … ok"
    text, offsets = normalize_with_offsets(original)
    assert text == "fine ... ok"
    assert offsets == [0, 0, 1, 2, 3, 4, 4, 4, 5, 6, 7]


_ALPHABET = st.sampled_from(
    [
        *"abcXYZ éİßﬁ 디코더 ＢＥＲＴ ｶﾞ 双方向 кодирoвщик а",
        "\u200b",
        "\u0301",
        "\n",
        "\t",
        "\u3000",
        "\u202e",
        "…",
        "’",
        "—",
        "\u1161",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_offsets_are_consistent(original: str) -> None:
    normalized = normalize_with_spans(original)
    text, offsets = normalize_with_offsets(original)
    assert text == normalized.text == normalize_text(original)
    assert len(offsets) == len(text) == len(normalized.ends)
    assert offsets == sorted(offsets)
    assert all(0 <= s < e <= len(original) for s, e in zip(offsets, normalized.ends, strict=True))
    assert text == text.strip() and "  " not in text
    for word_start, word in _words(text):
        begin, end = normalized.to_original_span(word_start, word_start + len(word))
        assert normalize_text(original[begin:end]) == word


def _words(text: str) -> list[tuple[int, str]]:
    words = []
    position = 0
    for word in text.split(" "):
        if word:
            words.append((position, word))
        position += len(word) + 1
    return words


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_normalisation_is_idempotent(original: str) -> None:
    once = normalize_text(original)
    assert normalize_text(once) == once
