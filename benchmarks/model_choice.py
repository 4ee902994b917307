"""Which embedding model agrees best with human graders, and where its cosines sit.

For every human-graded data set in ../shared/datasets (Mohler: en, 0-5; SemEval-2013 2-way:
en, correct/incorrect; SAS ADS: zh, 0-10) this computes the plain cosine between each student
answer and its reference answer(s) (the best-matching one where there are several) with
``minilm``, ``use-multilingual`` and their average, and prints:

* Pearson r between the human score (its share of the maximum) and the cosine;
* the cosine distribution (25th / 50th / 75th percentile) of answers humans gave 0, a low
  score (at most 30 %), or full marks - the basis of each model's similarity floor / ceiling;
* Pearson r of the semantic credit once cosines are clipped to the model's floor and ceiling;
* a cross-lingual sanity check on Korean, Japanese and Russian sentences.

Run from the repository root:  python benchmarks/model_choice.py [--semeval-limit N]
A data set that is not there is skipped with a message.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.evidence.embed_cache import EmbeddingCache  # noqa: E402
from grader.evidence.embedding import embed_texts, load_embedder  # noqa: E402
from grader.evidence.models import PACKAGED, Embedder  # noqa: E402

DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
MODELS = ("minilm", "use-multilingual")
AVERAGE = "average"
LOW_SHARE = 0.3


@dataclass(frozen=True)
class Graded:
    """One student answer, its reference answers, and the human score as a share of the maximum."""

    answer: str
    references: tuple[str, ...]
    share: float


@dataclass(frozen=True)
class DataSet:
    name: str
    language: str
    items: tuple[Graded, ...]


# ---------------------------------------------------------------- data sets


def load_mohler(root: Path) -> DataSet | None:
    path = root / "mohler" / "mohler_dataset_edited.csv"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        rows = list(csv.DictReader(handle))
    items = tuple(
        Graded(row["student_answer"], (row["desired_answer"],), float(row["score_avg"]) / 5.0)
        for row in rows
    )
    return DataSet("mohler", "en", items)


def load_semeval(root: Path, corpus: str, limit: int | None, seed: int) -> DataSet | None:
    folder = root / "semeval2013-2way-train" / corpus
    files = sorted(folder.glob("*.xml"))
    if not files:
        return None
    items: list[Graded] = []
    for file in files:
        question = ET.parse(file).getroot()
        references = tuple(
            (node.text or "").strip() for node in question.iter("referenceAnswer") if node.text
        )
        for node in question.iter("studentAnswer"):
            share = 1.0 if node.get("accuracy") == "correct" else 0.0
            items.append(Graded((node.text or "").strip(), references, share))
    if limit is not None and limit < len(items):
        items = random.Random(seed).sample(items, limit)
    return DataSet(f"semeval-{corpus}", "en", tuple(items))


def load_sas_zh(root: Path) -> DataSet | None:
    path = root / "sas-ads-zh-train" / "train.jsonl"
    if not path.is_file():
        return None
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        references = tuple(
            str(row[key]).strip() for key in ("reference1", "reference2", "reference3")
            if row.get(key) and str(row[key]).strip()
        )  # fmt: skip
        items.append(Graded(str(row["answer"]).strip(), references, float(row["score"]) / 10.0))
    return DataSet("sas-ads-zh", "zh", tuple(items))


def load_all(root: Path, semeval_limit: int | None, seed: int) -> list[DataSet]:
    found = []
    loaders = {
        "mohler": lambda: load_mohler(root),
        "semeval-sciEntsBank": lambda: load_semeval(root, "sciEntsBank", semeval_limit, seed),
        "semeval-beetle": lambda: load_semeval(root, "beetle", semeval_limit, seed),
        "sas-ads-zh": lambda: load_sas_zh(root),
    }
    for name, loader in loaders.items():
        data_set = loader()
        if data_set is None:
            print(f"skipped {name}: not found under {root}", file=sys.stderr)
        else:
            found.append(data_set)
    return found


# ---------------------------------------------------------------- measuring


def best_cosines(embedder: Embedder, data_set: DataSet, cache: EmbeddingCache | None) -> np.ndarray:
    """For each answer, its cosine with the closest of its reference answers."""
    texts = sorted({text for item in data_set.items for text in (item.answer, *item.references)})
    vectors = embed_texts(embedder, texts, cache)
    row_of = {text: row for row, text in enumerate(texts)}
    cosines = np.empty(len(data_set.items), dtype=np.float64)
    for index, item in enumerate(data_set.items):
        answer = vectors[row_of[item.answer]]
        references = vectors[[row_of[text] for text in item.references]]
        cosines[index] = float(np.max(references @ answer))
    return cosines


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


def credit(cosines: np.ndarray, floor: float, ceiling: float) -> np.ndarray:
    return np.clip((cosines - floor) / (ceiling - floor), 0.0, 1.0)


def quartiles(values: np.ndarray) -> str:
    if values.size == 0:
        return "     -            "
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return f"{q2:.3f} [{q1:.2f}-{q3:.2f}]"


def thresholds(model: str) -> tuple[float, float]:
    if model == AVERAGE:
        floors, ceilings = zip(*(thresholds(name) for name in MODELS), strict=True)
        return sum(floors) / len(floors), sum(ceilings) / len(ceilings)
    spec = PACKAGED[model]
    return spec.floor, spec.ceiling


def suggest_thresholds(
    data_sets: Sequence[DataSet], cosines: dict[tuple[str, str], np.ndarray]
) -> None:
    """Per model: the mean over data sets of the median cosine at score 0 and at full marks."""
    print("suggested thresholds (mean over the data sets in the model's languages)")
    for model in (*MODELS, AVERAGE):
        suited = [d for d in data_sets if model == "use-multilingual" or d.language == "en"]
        zeros, fulls = [], []
        for data_set in suited:
            shares = np.array([item.share for item in data_set.items])
            values = cosines[data_set.name, model]
            zeros.append(float(np.median(values[shares == 0])))
            fulls.append(float(np.median(values[shares == 1])))
        print(
            f"  {model:<17} floor {np.mean(zeros):.3f} (median cos at score 0)  "
            f"ceiling {np.mean(fulls):.3f} (median cos at full marks)"
        )
    print()


def report(data_sets: Sequence[DataSet], cosines: dict[tuple[str, str], np.ndarray]) -> None:
    header = (
        f"{'data set':<20} {'lang':<4} {'n':>5}  {'model':<17} {'r':>6} {'r(credit)':>9}  "
        f"{'cos | score 0':<19} {'cos | <=30%':<19} {'cos | full':<19}"
    )
    print(header)
    print("-" * len(header))
    for data_set in data_sets:
        shares = np.array([item.share for item in data_set.items])
        for model in (*MODELS, AVERAGE):
            values = cosines[data_set.name, model]
            floor, ceiling = thresholds(model)
            clipped = credit(values, floor, ceiling)
            print(
                f"{data_set.name:<20} {data_set.language:<4} {len(shares):>5}  {model:<17} "
                f"{pearson(shares, values):>6.3f} {pearson(shares, clipped):>9.3f}  "
                f"{quartiles(values[shares == 0]):<19} "
                f"{quartiles(values[shares <= LOW_SHARE]):<19} "
                f"{quartiles(values[shares == 1]):<19}"
            )
        print()


# ---------------------------------------------------------------- cross-lingual sanity check

# (reference, correct paraphrase, fluent wrong answer, near-copy of the reference with one fact
# flipped), in the answer's language. The flipped copies are what rubric keywords and negation
# handling are for: a sentence embedding alone is expected to rate them close to the reference.
SANITY = {
    "ko": (
        ("물을 증발시키면 소금이 남는다.", "물이 다 증발하고 나면 소금만 남게 된다.",
         "소금을 물에 넣고 오래 저으면 설탕이 된다.", "물을 증발시키면 소금도 함께 사라진다."),
        ("스택은 마지막에 넣은 원소를 가장 먼저 꺼낸다.",
         "스택에서는 가장 나중에 들어간 데이터가 제일 먼저 나온다.",
         "스택은 원소들을 크기 순서대로 정렬해서 저장한다.",
         "스택은 처음에 넣은 원소를 가장 먼저 꺼낸다."),
        ("디코더 전용 모델은 규모를 키울수록 계속 좋아진다.",
         "디코더만 쓰는 모델은 크기를 늘리면 성능이 꾸준히 향상된다.",
         "인코더 모델은 문장 전체를 양방향으로 읽어서 번역에 더 적합하다.",
         "디코더 전용 모델은 규모를 키워도 전혀 좋아지지 않는다."),
    ),
    "ja": (
        ("水を蒸発させると、塩が残る。", "水分を蒸発させれば、あとに塩が残ります。",
         "塩を水に入れてよくかき混ぜると砂糖になる。",
         "水を蒸発させると、塩も一緒に消えてしまう。"),
        ("スタックは最後に入れた要素を最初に取り出す。",
         "スタックでは一番最後に追加したデータが一番先に出てくる。",
         "スタックは要素を大きさの順に並べて保存する。",
         "スタックは最初に入れた要素を最初に取り出す。"),
    ),
    "ru": (
        ("Если выпарить воду, останется соль.", "После испарения воды на дне остаётся соль.",
         "Если долго размешивать соль в воде, она превратится в сахар.",
         "Если выпарить воду, соль тоже исчезнет."),
        ("Из стека первым извлекается элемент, добавленный последним.",
         "Последний добавленный в стек элемент извлекается первым.",
         "Стек хранит элементы, отсортированные по размеру.",
         "Из стека первым извлекается элемент, добавленный первым."),
    ),
}  # fmt: skip
CROSS_LINGUAL = (
    ("ko", "디코더 전용 모델은 규모를 키울수록 계속 좋아진다.",
     "Decoder-only models keep improving as they are scaled up."),
    ("ko", "물을 증발시키면 소금이 남는다.", "When the water evaporates, the salt is left behind."),
    ("ja", "水を蒸発させると、塩が残る。", "When the water evaporates, the salt is left behind."),
    ("ru", "Последний добавленный в стек элемент извлекается первым.",
     "The last element pushed onto a stack is the first one popped."),
)  # fmt: skip
UNRELATED_EN = "The French Revolution began in 1789."


def sanity_check(embedder: Embedder) -> None:
    print(f"sanity check ({embedder.info.name}): cosine with the reference")
    print(f"  {'lang':<4} {'paraphrase':>10} {'wrong':>7} {'flipped':>8}  paraphrase ranked first?")
    for language, triples in SANITY.items():
        for reference, paraphrase, wrong, flipped in triples:
            vectors = embedder.encode([reference, paraphrase, wrong, flipped])
            right, mistaken, copy = (float(vectors[0] @ vectors[row]) for row in (1, 2, 3))
            verdict = (
                f"{'yes' if right > mistaken else 'NO'} over the wrong answer, "
                f"{'yes' if right > copy else 'no'} over the flipped copy"
            )
            print(f"  {language:<4} {right:>10.3f} {mistaken:>7.3f} {copy:>8.3f}  {verdict}")
    for language, answer, english in CROSS_LINGUAL:
        vectors = embedder.encode([answer, english, UNRELATED_EN])
        same, other = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
        print(f"  {language} answer vs its en reference {same:.3f}  (vs unrelated en {other:.3f})")


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--semeval-limit", type=int, default=None,
                        help="subsample each SemEval corpus to this many answers")  # fmt: skip
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    data_sets = load_all(args.datasets, args.semeval_limit, args.seed)
    cache = EmbeddingCache(args.cache) if args.cache else None
    cosines: dict[tuple[str, str], np.ndarray] = {}
    embedders = {}
    for model in MODELS:
        started = time.perf_counter()
        embedder = load_embedder(model, device=args.device)
        embedders[model] = embedder
        for data_set in data_sets:
            cosines[data_set.name, model] = best_cosines(embedder, data_set, cache)
        print(f"{model}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
    for data_set in data_sets:
        pair = [cosines[data_set.name, model] for model in MODELS]
        cosines[data_set.name, AVERAGE] = np.mean(np.stack(pair), axis=0)
    if data_sets:
        report(data_sets, cosines)
        suggest_thresholds(data_sets, cosines)
    sanity_check(embedders["use-multilingual"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
