"""Chinese, simplified and traditional: words from jieba (rjieba), compared in simplified form.

Traditional characters are converted to simplified ones first (OpenCC ``t2s``, character for
character, so offsets stay), then rjieba (the Rust port of jieba) cuts the text into dictionary
words without its HMM guesser (which glues unknown characters to their neighbours: ``栈是``); an
unknown word is left as single characters, which a term still matches, since terms are matched
on consecutive words whose keys join to the term's (``grader.evidence.keywords``). A word's key is
its simplified form, so ``資料結構`` matches ``资料结构``.

Negation: 不, 没(有), 无, 未, 非, 别, 莫, 勿 and the words made of them that negate (不是, 不能,
无法, 并非, ...) negate their clause; 不仅/不只/不但 ("not only") do not, nor do words that
only start with a negator (不同, 非常, 无论). A clause ends at punctuation and before 但(是),
却, 而, 然而, 可是, 不过, 虽然, 因为, 所以, ...; 和, 与, 或 are soft breaks.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from grader.text.languages.base import (
    BOUNDARY_PUNCT,
    BREAK_AFTER,
    BREAK_BEFORE,
    CLAUSE_NEGATOR,
    CONTENT,
    FUNCTION,
    HAN,
    NO_BREAK,
    PUNCT,
    SOFT_BREAK,
    Context,
    LanguageProfile,
    Raw,
    Script,
    words,
)
from grader.text.languages.words import foreign_word

_IS_HAN = re.compile(f"[{HAN}]+")

STOP_WORDS = words(
    """的 了 是 在 和 与 也 就 都 及 或 被 把 这 那 之 着 过 吗 呢 吧 啊 个 种 得 地 所 将 已 还 又
    很 更 最 其 以 对 为 从 等 中 上 下 并 而 则 即 一个 一种 这个 那个 这些 那些 这样 那样 我们
    你们 他们 它们 我 你 他 她 它 自己 可以 能 会 要 有 就是 已经 还是 或者 以及 如果 因为 所以
    但是 然后 时候 什么 怎么 为什么 如何 哪些 这种 那种 通过 进行 使用 由 于 向 与其 之间 之后
    之前 其中 此 该 各 每 些 一些"""
)

NEGATORS = words(
    """不 没 沒 无 無 未 非 别 別 莫 勿 否 没有 沒有 不是 不能 不会 不會 不可 不可以 不可能 不要
    不用 不必 不得 不该 不該 不应 不應 不应该 不需要 不存在 无法 無法 无须 无需 毫无 并非 並非
    并不 並不 并没有 从不 從不 从未 從未 未曾 决不 绝不 絕不 没法 不再 未能 不对 不對 不行
    不包括 不包含 不属于 不具有 不支持 不允许 不一定 不足 不够 不夠 没用 毫不 尚未 未必"""
)
_NOT_A_NEGATION_BEFORE = frozenset("仅僅只但")  # 不 + 仅 / 只 / 但: "not only"
CLAUSE_WORDS = words(
    """但 但是 却 卻 而 而是 然而 可是 不过 不過 虽然 雖然 尽管 儘管 因为 因為 所以 因此 由于
    由於 而且 并且 並且 否则 否則 反而"""
)
SOFT_WORDS = words("和 与 與 或 或者 及 以及 跟")


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import rjieba

    rjieba.cut("准备")  # the first call loads the dictionary
    return rjieba


@lru_cache(maxsize=1)
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


_convert_lock = threading.Lock()


def simplified(text: str) -> str:
    """``text`` in simplified characters, with the same length (character for character)."""
    converter = _converter()
    with _convert_lock:
        converted = str(converter.convert(text))
        if len(converted) == len(text):
            return converted
        return "".join(_one(converter, ch) for ch in text)


def _one(converter: Any, char: str) -> str:
    converted = str(converter.convert(char))
    return converted if len(converted) == 1 else char


def analyse(text: str, context: Context) -> list[Raw]:
    """Chinese text: rjieba words of the simplified text; keys are the simplified words."""
    plain = simplified(text)
    raws: list[Raw] = []
    for word, start, end in _jieba().tokenize(plain, hmm=False):
        if word.isspace():
            continue
        if _IS_HAN.fullmatch(word):
            offset = start
            for part in compound_parts(word):
                raws.append(_han_word(plain, part, offset, offset + len(part)))
                offset += len(part)
        elif not any(ch.isalnum() for ch in word):
            raws.extend(_punctuation(word, start))
        elif word.isdigit():
            raws.append(Raw(start, end, word, "zh", CONTENT))
        else:
            foreign = foreign_word(text[start:end], start, end, context)
            raws.append(foreign or Raw(start, end, word.lower(), "zh", CONTENT))
    return raws


MIN_COMPOUND = 4  # characters


@lru_cache(maxsize=100_000)
def compound_parts(word: str) -> tuple[str, ...]:
    """A dictionary word of four characters or more made of two dictionary words of two or more
    (数据结构 = 数据 + 结构), split again the same way (循环神经网络 = 循环 + 神经 + 网络), so that
    a term matches the parts of a compound, as in a language with spaces; else the word."""
    if len(word) < MIN_COMPOUND or word in NEGATORS or word in STOP_WORDS:
        return (word,)
    jieba = _jieba()
    for cut in range(2, len(word) - 1):
        head, tail = word[:cut], word[cut:]
        if jieba.has_word(head) and jieba.has_word(tail):
            return (*compound_parts(head), *compound_parts(tail))
    return (word,)


def _han_word(plain: str, word: str, start: int, end: int) -> Raw:
    raw = Raw(start, end, word, "zh", FUNCTION if word in STOP_WORDS else CONTENT)
    if word in CLAUSE_WORDS:
        raw.boundary = BREAK_BEFORE
    elif word in SOFT_WORDS:
        raw.boundary = SOFT_BREAK
    if word in NEGATORS and plain[end : end + 1] not in _NOT_A_NEGATION_BEFORE:
        raw.negator = CLAUSE_NEGATOR
    return raw


def _punctuation(piece: str, start: int) -> list[Raw]:
    return [
        Raw(
            start + offset,
            start + offset + 1,
            char,
            "zh",
            PUNCT,
            boundary=BREAK_AFTER if char in BOUNDARY_PUNCT else NO_BREAK,
        )
        for offset, char in enumerate(piece)
    ]


PROFILE = LanguageProfile(
    code="zh",
    name="Chinese (simplified and traditional)",
    script=Script.HAN,
    segmenter="rjieba (jieba-rs) dictionary words, after OpenCC traditional-to-simplified",
    lemmatiser="the simplified word (traditional answers match simplified terms)",
    negation_cues="不, 没(有), 无, 未, 非, 别, 不是, 不能, 无法, 并非, ... (clause); not 不仅",
    stop_words=STOP_WORDS,
    compounds=(
        "a word made of two dictionary words is split (数据结构 = 数据 + 结构); terms match "
        "across word boundaries"
    ),
    distributions=("rjieba", "opencc"),
    analyser=analyse,
    retractions=(
        "这是错的",
        "这不对",
        "不是这样",
        "其实相反",
        "恰恰相反",
        "并非如此",
        "以上都不对",
    ),
)
