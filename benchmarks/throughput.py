"""Throughput: where the time of grading a class goes, and how it grows with the class.

Synthetic classes are built from the seed bank (banks/transformer-triad.yaml): its model answers
and the example submissions (banks/examples/submissions.csv) in en, ko, ja and ru, cut into
sentences and put together again with small edits, with realistic repetition (a share of the
students write one of a few popular short answers word for word). Each run is a fresh process:

* ``grade``: ``grader grade`` end to end (``grader.pipeline.grade_to_folder``, reports included)
  with an empty embedding cache, split by stage: load, analyse + keywords, embed, score, render;
* ``encode``: the bare model ``encode`` of the same distinct texts (no cache, no grading);
* ``regrade``: ``grade`` again after a rubric edit (a changed concept sentence), cache warm;
* peak memory (max RSS) of each process.

Run from the repository root (the figures in benchmarks/README.md come from this command):

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/throughput.py [--sizes 1000 10000 100000]
        [--model auto] [--write-readme]

``--keywords-only-above N`` grades classes larger than N with ``--model none`` plus a bare
encode measured on a sample (see the README for why).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED_BANK = ROOT / "banks" / "transformer-triad.yaml"
EXAMPLES = ROOT / "banks" / "examples" / "submissions.csv"
README = ROOT / "benchmarks" / "README.md"
LANGUAGE_SHARES = {"en": 0.4, "ko": 0.2, "ja": 0.2, "ru": 0.2}
ANSWERED = 0.95  # share of the questions a student answers
EMPTY = 0.03  # share of answers left blank
POPULAR = 0.35  # share of answers that are one of a few popular answers, word for word
EDITED = 0.8  # share of the other answers with a small edit (a dropped, swapped or misspelt word)
SECTION_START = "<!-- throughput:start -->"
SECTION_END = "<!-- throughput:end -->"
_SENTENCE = re.compile(r"[^.!?。！？]+[.!?。！？]*")
_FILLERS = {
    "en": ["I think", "Basically,", "In short,", "As far as I know,"],
    "ko": ["제 생각에는", "간단히 말하면", "요약하면", "아마도"],
    "ja": ["私の考えでは、", "簡単に言うと、", "要するに、", "たぶん"],
    "ru": ["Я думаю,", "Короче говоря,", "Если кратко,", "Насколько я знаю,"],
}


# ---------------------------------------------------------------- synthetic classes


@dataclass
class _Pools:
    """What answers to one question in one language are made from."""

    sentences: list[str]  # sentences of model answers and example answers
    popular: list[str]  # whole short answers that many students write word for word


def _detect(text: str) -> str:
    from grader.analysis import detect_language

    return detect_language(text, tuple(LANGUAGE_SHARES)) or "en"


def _pools() -> dict[tuple[str, str], _Pools]:
    from grader.loader import load_bank

    bank = load_bank(SEED_BANK)
    examples: dict[tuple[str, str], list[str]] = {}
    with EXAMPLES.open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            text = row["answer"].strip()
            if text:
                language = row.get("language") or _detect(text)
                examples.setdefault((row["question"], language), []).append(text)
    pools = {}
    for gradable_id, gradable in bank.gradables().items():
        if gradable.closed is not None:
            continue
        for language in LANGUAGE_SHARES:
            wholes = [*gradable.answers.get(language, ()), *examples.get((gradable_id, language), [])]
            if not wholes:
                continue
            sentences = [s.strip() for whole in wholes for s in _SENTENCE.findall(whole) if s.strip()]
            popular = sorted({*sentences[:4], *(w for w in wholes if len(w) < 120)}, key=len)[:6]
            pools[(gradable_id, language)] = _Pools(sentences, popular)
    return pools


def _edit(text: str, language: str, rng: random.Random) -> str:
    """A small, student-like change: a word dropped or swapped, a typo, or a filler in front."""
    words = text.split(" ")
    choice = rng.randrange(4)
    if choice == 0 and len(words) > 3:
        del words[rng.randrange(len(words))]
    elif choice == 1 and len(words) > 3:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif choice == 2:
        i = rng.randrange(len(words))
        word = words[i]
        if len(word) > 3:
            j = rng.randrange(1, len(word) - 1)
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    else:
        return f"{rng.choice(_FILLERS[language])} {text}"
    return " ".join(words)


def _answer(pools: _Pools, language: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < EMPTY:
        return ""
    if roll < EMPTY + POPULAR:
        weights = [1.0 / (rank + 1) for rank in range(len(pools.popular))]  # Zipf
        return rng.choices(pools.popular, weights)[0]
    count = min(len(pools.sentences), rng.choice((1, 2, 2, 3, 3, 4)))
    text = " ".join(rng.sample(pools.sentences, count))
    return _edit(text, language, rng) if rng.random() < EDITED else text


def synthetic_rows(size: int, seed: int = 7) -> list[dict[str, str]]:
    """``size`` submission rows: whole students (one language each) until there are enough."""
    rng = random.Random(seed)
    pools = _pools()
    questions = sorted({question for question, _ in pools})
    languages, shares = list(LANGUAGE_SHARES), list(LANGUAGE_SHARES.values())
    rows: list[dict[str, str]] = []
    student = 0
    while len(rows) < size:
        student += 1
        language = rng.choices(languages, shares)[0]
        declared = language if rng.random() < 0.5 else ""
        for question in questions:
            if len(rows) == size:
                break
            if rng.random() > ANSWERED or (question, language) not in pools:
                continue
            text = _answer(pools[(question, language)], language, rng)
            rows.append(
                {"student": f"s{student:06d}", "question": question, "answer": text,
                 "language": declared}
            )  # fmt: skip
    return rows


def write_class(size: int, folder: Path) -> Path:
    path = folder / f"class-{size}.csv"
    rows = synthetic_rows(size)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["student", "question", "answer", "language"])
        writer.writeheader()
        writer.writerows(rows)
    return path
