"""Japanese: SudachiPy with sudachidict_core in split mode B, negation from auxiliaries.

Middle units: ``言語モデル`` is ``言語`` + ``モデル``, but ``東京都`` stays one word; the key is
Sudachi's normalised form (``使わ`` -> ``使う``). Matching joins consecutive tokens (see
``grader.evidence.keywords``), so terms written as mode-C compounds still match. Particles,
auxiliaries and suffixes (助詞, 助動詞, 接尾辞) are affixes, not words. Negators: ない, ぬ/ん
(their clause); ず (its verb phrase, back to the topic or subject particle: 使わずに); なし (the
noun phrase before it: 重み更新なしで). "だけでなく" and "しか...ない" are no negation. A
clause ends before a conjunction and after conjunctive particles (が, けど, のに, ...).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from grader.text.languages.base import (
    AFFIX,
    BOUNDARY_PUNCT,
    BREAK_AFTER,
    BREAK_BEFORE,
    CLAUSE_NEGATOR,
    CONTENT,
    FUNCTION,
    NO_BREAK,
    PHRASE_BEFORE_NEGATOR,
    PUNCT,
    VERB_PHRASE_NEGATOR,
    Context,
    LanguageProfile,
    Negator,
    Raw,
    Script,
    chunks,
    words,
)
from grader.text.languages.words import foreign_word

_JA_FUNCTION_POS = frozenset({"代名詞", "連体詞", "接続詞", "感動詞"})
_JA_AFFIX_POS = frozenset({"助詞", "助動詞", "接尾辞"})
_JA_STOP_FORMS = frozenset({"事", "物", "為", "様", "所", "此れ", "其れ", "為る", "有る", "居る"})
_JA_CLAUSE_PARTICLES = words("が けど けれど けれども のに ながら ものの し")
_JA_NOT_A_NEGATION_AFTER = frozenset({"しか", "だけ", "のみ", "ばかり"})


@lru_cache(maxsize=1)
def sudachi() -> tuple[Any, Any]:
    from sudachipy import Dictionary, SplitMode

    dictionary = Dictionary(dict="core")
    return dictionary, dictionary.tokenizer(mode=SplitMode.B)


@lru_cache(maxsize=4096)
def _japanese_pos(pos_id: int) -> tuple[str, ...]:
    return tuple(sudachi()[0].pos_of(pos_id))


_sudachi_lock = threading.Lock()


def analyse(text: str, context: Context) -> list[Raw]:
    """Japanese text: Sudachi morphemes (mode B); particles, auxiliaries, suffixes are affixes."""
    _, tokenizer = sudachi()
    raws: list[Raw] = []
    infos: list[tuple[tuple[str, ...], str, str]] = []  # (pos, surface, normalised form)
    for offset, piece in chunks(text):
        with _sudachi_lock:
            morphemes = [
                (m.begin(), m.end(), m.surface(), m.normalized_form(), m.part_of_speech_id())
                for m in tokenizer.tokenize(piece)
            ]
        for begin, end, surface, normalized, pos_id in morphemes:
            if begin == end:
                continue
            pos = _japanese_pos(pos_id)
            raws.append(
                _japanese_raw(surface, normalized, pos, offset + begin, offset + end, context)
            )
            infos.append((pos, surface, normalized))
    _mark_japanese_negation(raws, infos)
    return raws


def _japanese_raw(
    surface: str, normalized: str, pos: tuple[str, ...], start: int, end: int, context: Context
) -> Raw:
    if pos[0] in ("補助記号", "空白") or (pos[0] == "記号" and not surface.isalnum()):
        boundary = BREAK_AFTER if surface in BOUNDARY_PUNCT else NO_BREAK
        return Raw(start, end, surface, "ja", PUNCT, boundary=boundary)
    if pos[0] in _JA_AFFIX_POS:  # suffixes stay inside a noun phrase; は/も/が end a topic
        topic = (pos[1] == "係助詞" and surface in ("は", "も")) or (
            pos[1] == "格助詞" and surface == "が"
        )
        in_phrase = pos[0] == "接尾辞"
        return Raw(start, end, normalized, "ja", AFFIX, in_phrase=in_phrase, topic=topic)
    foreign = foreign_word(surface, start, end, context)
    if foreign is not None:
        return foreign
    if pos[0] in _JA_FUNCTION_POS or pos[1] == "非自立可能" or normalized in _JA_STOP_FORMS:
        return Raw(start, end, normalized, "ja", FUNCTION)
    return Raw(start, end, normalized, "ja", CONTENT)


def _mark_japanese_negation(raws: list[Raw], infos: list[tuple[tuple[str, ...], str, str]]) -> None:
    for index, (raw, (pos, surface, normalized)) in enumerate(zip(raws, infos, strict=True)):
        if pos[0] == "接続詞":
            raw.boundary = BREAK_BEFORE
        elif pos[1] == "接続助詞" and surface in _JA_CLAUSE_PARTICLES:
            raw.boundary = BREAK_AFTER
        if not _is_japanese_negator(pos, normalized):
            continue
        before = {info[1] for info in infos[max(0, index - 3) : index]}
        if before & _JA_NOT_A_NEGATION_AFTER:  # しか...ない (only), だけでなく (not only)
            continue
        raw.negator = _japanese_negator_kind(pos, surface)
        if pos[5].startswith("連用形") and index + 1 < len(infos):
            _end_clause_after_negation(raws, infos, index)


def _japanese_negator_kind(pos: tuple[str, ...], surface: str) -> Negator:
    """ず negates its verb phrase (使わずに; not ません, also ず to Sudachi), なし the noun
    phrase before it (重み更新なしで)."""
    if pos[0] == "助動詞" and surface == "ず":
        return VERB_PHRASE_NEGATOR
    if pos[0] == "名詞":
        return PHRASE_BEFORE_NEGATOR
    return CLAUSE_NEGATOR


def _end_clause_after_negation(
    raws: list[Raw], infos: list[tuple[tuple[str, ...], str, str]], index: int
) -> None:
    """A negation in 連用形 ends its clause: 双方向ではなく一方向だ, 使わないで予測する,
    使わずに予測する."""
    following_pos, following_surface, _ = infos[index + 1]
    if _is_japanese_adverbial_particle(following_pos, following_surface):
        raws[index + 1].boundary = BREAK_AFTER
    elif following_pos[0] not in ("補助記号", "助詞", "助動詞"):
        raws[index].boundary = BREAK_AFTER


def _is_japanese_adverbial_particle(pos: tuple[str, ...], surface: str) -> bool:
    """て/で (使わないで) or に (使わずに) after a negation in 連用形."""
    if pos[1] == "接続助詞":
        return surface in ("て", "で")
    return pos[0] == "助詞" and surface == "に"


def _is_japanese_negator(pos: tuple[str, ...], normalized: str) -> bool:
    if pos[0] == "助動詞":
        return normalized in ("ない", "ず", "ぬ")
    if pos[0] == "名詞":
        return normalized in ("無し", "なし")
    return (pos[0] == "形容詞" and normalized in ("無い", "ない")) or normalized == "無し"


PROFILE = LanguageProfile(
    code="ja",
    name="Japanese",
    script=Script.JAPANESE,
    segmenter="SudachiPy (sudachidict_core), split mode B; particles and auxiliaries are not words",
    lemmatiser="Sudachi's normalised forms (使わ -> 使う)",
    negation_cues="ない, ぬ/ん (clause); ず (its verb phrase); なし (the noun phrase before it)",
    compounds="terms match across Sudachi's splits (言語モデル = 言語 + モデル)",
    distributions=("sudachipy", "sudachidict-core"),
    analyser=analyse,
    retractions=(
        "それは間違い",
        "間違いです",
        "実は逆",
        "そうではない",
        "正しくない",
    ),
)
