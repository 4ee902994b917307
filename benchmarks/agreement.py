"""Agreement with human graders on public data sets: zero-shot and calibrated.

Each data set in ../shared/datasets (see its README) is converted into a bank YAML and a graded
submissions CSV in a temporary folder (nothing is copied into the repository), graded once with
``grader.grading.grade``, and compared with the human scores:

* Mohler (en, 0-5): ``score_avg`` (the mean of two graders); each question's ``desired_answer`` is
  its model answer; no rubric.
* SAS-ADS zh (zh, 0-10): reference1..3 are the model answers.
* SemEval-2013 2-way, SciEntsBank and Beetle (en): the reference answers are the model answers;
  correct = 1, incorrect = 0 on a 1-point question; accuracy counts an answer correct at 0.5 points
  or more.

"calibrated" is the held-out agreement of ``grader.quality.calibration``: an outer k-fold over the
answers (spread over every question), where each answer is scored by a calibration fitted on the
other folds only. With ``--per-question K`` the calibration is instead fitted on K graded answers
per question and scored on the rest (the "grade a few, calibrate, grade the rest" workflow).

"zero-shot" scores each data set with the shipped defaults as fitted WITHOUT that data set
(benchmarks/fit_defaults.py keeps those fits in grader/scoring/defaults.yaml under ``held_out``), so
no row is scored by a fit that saw its own answers; ``--shipped`` uses the shipped (all-data) fit.

Run from the repository root:

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/agreement.py [--limit N] [--model NAME]

A data set that is not there is skipped with a message.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.bank import Bank  # noqa: E402
from grader.cache_file import default_cache_dir  # noqa: E402
from grader.fsutil import atomic_write  # noqa: E402
from grader.grading import GradeOptions, grade  # noqa: E402
from grader.load.loader import load_bank  # noqa: E402
from grader.load.submissions import read_submissions  # noqa: E402
from grader.output.results_json import load_results, results_to_json  # noqa: E402
from grader.quality.calibration import fit_from_results, fit_on, rescore  # noqa: E402
from grader.quality.evaluation import Agreement, Evaluation, evaluate_pairs, evaluate_results  # noqa: E402
from grader.quality.fit_search import FitOptions  # noqa: E402
from grader.results import Results  # noqa: E402
from grader.scoring.defaults import Defaults, defaults  # noqa: E402

DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Item:
    """One human-scored answer."""

    question: str
    student: str
    answer: str
    score: float


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    answers: tuple[str, ...]  # model answers


@dataclass(frozen=True)
class DataSet:
    name: str
    language: str
    points: float
    questions: tuple[Question, ...]
    items: tuple[Item, ...]


# ---------------------------------------------------------------- reading the data sets


def _question_id(raw: str) -> str:
    cleaned = _UNSAFE_ID.sub("-", raw.strip()).strip("-._")
    return cleaned if cleaned and cleaned[0].isalnum() else f"q{cleaned}"


def read_mohler(root: Path) -> DataSet | None:
    path = root / "mohler" / "mohler_dataset_edited.csv"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        rows = list(csv.DictReader(handle))
    questions: dict[str, Question] = {}
    items = []
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        question = _question_id(row["id"])
        questions.setdefault(
            question, Question(question, row["question"].strip(), (row["desired_answer"].strip(),))
        )
        counts[question] += 1
        student = f"s{counts[question]:03d}"
        items.append(
            Item(question, student, row["student_answer"].strip(), float(row["score_avg"]))
        )
    return DataSet("mohler", "en", 5.0, tuple(questions.values()), tuple(items))


def read_semeval(root: Path, corpus: str) -> DataSet | None:
    files = sorted((root / "semeval2013-2way-train" / corpus).glob("*.xml"))
    if not files:
        return None
    questions, items = [], []
    for file in files:
        node = ET.parse(file).getroot()
        question = _question_id(node.get("id") or file.stem)
        prompt = (node.findtext("questionText") or "").strip()
        references = tuple(
            (child.text or "").strip()
            for child in node.iter("referenceAnswer")
            if (child.text or "").strip()
        )
        questions.append(Question(question, prompt, references))
        for position, answer in enumerate(node.iter("studentAnswer"), start=1):
            score = 1.0 if answer.get("accuracy") == "correct" else 0.0
            student = answer.get("id") or f"s{position:03d}"
            items.append(Item(question, student, (answer.text or "").strip(), score))
    return DataSet(f"semeval-{corpus}", "en", 1.0, tuple(questions), tuple(items))


def read_sas_zh(root: Path) -> DataSet | None:
    path = root / "sas-ads-zh-train" / "train.jsonl"
    if not path.is_file():
        return None
    questions: dict[str, Question] = {}
    items = []
    counts: dict[str, int] = defaultdict(int)
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        question = _question_id(f"q{row['q_id']}")
        references = tuple(
            str(row[key]).strip()
            for key in ("reference1", "reference2", "reference3")
            if row.get(key) and str(row[key]).strip()
        )
        questions.setdefault(question, Question(question, str(row["question"]).strip(), references))
        counts[question] += 1
        student = f"s{counts[question]:04d}"
        items.append(Item(question, student, str(row["answer"]).strip(), float(row["score"])))
    return DataSet("sas-ads-zh", "zh", 10.0, tuple(questions.values()), tuple(items))


def read_saf(root: Path, language: str) -> DataSet | None:
    """SAF (Filighera et al. 2022): one XML file per question, scores 0..1."""
    folder = {"de": "german", "en": "english"}[language]
    files = sorted((root / "saf-train" / folder).glob("*.xml"))
    if not files:
        return None
    questions, items = [], []
    for file in files:
        node = ET.parse(file).getroot()
        question = _question_id(f"q{file.stem}")
        prompt = (node.findtext("questionText") or "").strip()
        references = tuple(
            _SAF_POINTS.sub("", child.text or "").strip()
            for child in node.iter("referenceAnswer")
            if (child.text or "").strip()
        )
        questions.append(Question(question, prompt, references))
        for position, answer in enumerate(node.iter("studentAnswer"), start=1):
            text = (answer.findtext("response") or "").strip()
            score = float(answer.findtext("score") or 0.0)
            items.append(Item(question, f"s{position:04d}", text, min(1.0, max(0.0, score))))
    return DataSet(f"saf-{language}", language, 1.0, tuple(questions), tuple(items))


_SAF_POINTS = re.compile(
    r"\s*\(\s*[0-9.,]+\s*P\.?\s*\)"
)  # "(0.25 P)" marks in the German references


def read_pt_asag(root: Path) -> DataSet | None:
    """PT-ASAG 2018 v2 (Galhardi et al.): Portuguese school science, grades 0..3."""
    folder = root / "pt-asag-2018"
    if not (folder / "student_answers_and_grades_v2.csv").is_file():
        return None

    def rows(name: str) -> list[dict[str, str]]:
        with (folder / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    prompts = {row["question_id"]: row["question_text"].strip() for row in rows("questions.csv")}
    references: dict[str, list[str]] = defaultdict(list)
    for row in rows("reference_answers.csv"):
        if row["refans_text"].strip():
            references[row["question_id"]].append(row["refans_text"].strip())
    items = []
    counts: dict[str, int] = defaultdict(int)
    for row in rows("student_answers_and_grades_v2.csv"):
        raw = row["question_id"]
        counts[raw] += 1
        grade = float(row["grade"])
        items.append(Item(f"q{raw}", f"s{counts[raw]:04d}", row["answer_text"].strip(), grade))
    questions = tuple(
        Question(f"q{raw}", prompts.get(raw, ""), tuple(references[raw]))
        for raw in sorted(counts, key=lambda value: int(value) if value.isdigit() else 0)
        if references.get(raw)
    )
    known = {question.id for question in questions}
    kept = tuple(item for item in items if item.question in known)
    return DataSet("pt-asag", "pt", 3.0, questions, kept)


READERS: dict[str, Callable[[Path], DataSet | None]] = {
    "mohler": read_mohler,
    "sas-ads-zh": read_sas_zh,
    "semeval-sciEntsBank": lambda root: read_semeval(root, "sciEntsBank"),
    "semeval-beetle": lambda root: read_semeval(root, "beetle"),
    "saf-de": lambda root: read_saf(root, "de"),
    "saf-en": lambda root: read_saf(root, "en"),
    "pt-asag": read_pt_asag,
}


def limited(data_set: DataSet, limit: int | None, seed: int) -> DataSet:
    """A seeded random sample of ``limit`` answers (all of them without a limit)."""
    if limit is None or limit >= len(data_set.items):
        return data_set
    items = random.Random(seed).sample(list(data_set.items), limit)
    used = {item.question for item in items}
    questions = tuple(q for q in data_set.questions if q.id in used)
    return replace(data_set, questions=questions, items=tuple(items))


# ---------------------------------------------------------------- writing bank + submissions


def write_files(data_set: DataSet, folder: Path) -> tuple[Path, Path]:
    """The data set as a bank YAML and a submissions CSV (with the human score) in ``folder``."""
    bank = {
        "id": data_set.name.lower(),
        "title": f"{data_set.name} (converted for benchmarks/agreement.py)",
        "languages": [data_set.language],
        "questions": [
            {
                "id": question.id,
                "type": "short_answer",
                "points": data_set.points,
                "prompt": question.prompt or question.id,
                "answers": {data_set.language: list(question.answers)},
            }
            for question in data_set.questions
        ],
    }
    bank_path = folder / f"{data_set.name}.yaml"
    bank_path.write_text(yaml.safe_dump(bank, allow_unicode=True, sort_keys=False), "utf-8")
    submissions_path = folder / f"{data_set.name}.csv"
    with submissions_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "question", "answer", "language", "score"])
        for item in data_set.items:
            writer.writerow(
                [item.student, item.question, item.answer, data_set.language, f"{item.score:g}"]
            )
    return bank_path, submissions_path


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Row:
    data_set: str
    language: str
    variant: str  # "zero-shot" | "calibrated" | "calibrated K/question"
    model: str
    agreement: Agreement
    seconds: float


def few_per_question(bank: Bank, results: Results, count: int, seed: int) -> list[bool]:
    """Per human-scored answer (in results order): True for the ``count`` picked per question."""
    from grader.quality.signal_table import collect_signals

    answers = collect_signals(bank, results)
    by_question: dict[str, list[int]] = defaultdict(list)
    for index, answer in enumerate(answers):
        by_question[answer.question].append(index)
    chosen = [False] * len(answers)
    generator = random.Random(seed)
    for members in by_question.values():
        for index in generator.sample(members, min(count, len(members) - 1)):
            chosen[index] = True
    return chosen


def held_out_defaults(name: str) -> Defaults | None:
    """The shipped defaults with the meaning map and review estimate fitted without ``name``
    (benchmarks/fit_defaults.py); None (the shipped ones) for a data set they were not fitted on."""
    shipped = defaults()
    fit = shipped.held_out.get(name)
    return shipped.with_fit(fit) if fit else None


def run_one(data_set: DataSet, folder: Path, args: argparse.Namespace) -> list[Row]:
    bank_path, submissions_path = write_files(data_set, folder)
    bank = load_bank(bank_path)
    submissions = read_submissions(submissions_path)
    cache = args.cache or default_cache_dir()
    scoring = None if args.shipped else held_out_defaults(data_set.name)
    options = GradeOptions(model=args.model, device=args.device, cache_dir=cache, defaults=scoring)
    started = time.perf_counter()
    saved = args.load / f"{data_set.name}.results.json" if args.load else None
    if saved is not None and saved.is_file():
        results = load_results(saved)  # graded before (by --save): nothing is graded again
    else:
        results = grade(
            bank, submissions.rows, options, submissions.problems, str(submissions_path)
        )
    graded = time.perf_counter() - started
    if args.save:
        atomic_write(args.save / f"{data_set.name}.results.json", results_to_json(results))
    zero = evaluate_results(results)
    model = "+".join(sorted(results.models)) or "none"
    rows = [Row(data_set.name, data_set.language, "zero-shot", model, zero.overall, graded)]
    started = time.perf_counter()
    fit_options = FitOptions(folds=args.folds, seed=args.seed, defaults=scoring)
    fit = fit_from_results(bank, results, fit_options)
    calibrated = time.perf_counter() - started
    rows.append(
        Row(data_set.name, data_set.language, "calibrated", model, fit.after.overall, calibrated)
    )
    if args.verbose:
        _describe(data_set.name, zero, fit.after)
    for count in args.per_question:
        started = time.perf_counter()
        train = few_per_question(bank, results, count, args.seed)
        calibration = fit_on(bank, results, train, fit_options)
        pairs = [
            p
            for p, used in zip(rescore(calibration, bank, results, scoring), train, strict=True)
            if not used
        ]
        held_out = evaluate_pairs(bank.id, pairs)
        seconds = time.perf_counter() - started
        variant = f"calibrated {count}/question"
        rows.append(
            Row(data_set.name, data_set.language, variant, model, held_out.overall, seconds)
        )
        before = [
            p
            for p, used in zip(rescore(None, bank, results, scoring), train, strict=True)
            if not used
        ]
        reference = evaluate_pairs(bank.id, before).overall
        rows.append(
            Row(
                data_set.name,
                data_set.language,
                f"zero-shot, same {len(pairs)}",
                model,
                reference,
                0.0,
            )
        )
    return rows


def _describe(name: str, zero: Evaluation, after: Evaluation) -> None:
    print(f"# {name}: per question (zero-shot r -> calibrated r)", file=sys.stderr)
    for question, item in sorted(zero.questions.items()):
        calibrated = after.questions.get(question)
        later = f"{calibrated.headline:.3f}" if calibrated else "-"
        print(f"  {question:<16} n={item.n:<4} {item.headline:.3f} -> {later}", file=sys.stderr)


def _fmt(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


def print_table(rows: Sequence[Row]) -> None:
    header = (
        f"| {'data set':<20} | {'lang':<4} | {'variant':<24} | {'model':<24} | {'n':>5} | "
        f"{'Pearson r':>9} | {'QWK / acc':>9} | {'RMSE':>6} | {'time s':>7} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(part) + 0) for part in header.split("|")[1:-1]) + "|")
    for row in rows:
        item = row.agreement
        second = f"acc {_fmt(item.accuracy)}" if item.binary else _fmt(item.qwk)
        print(
            f"| {row.data_set:<20} | {row.language:<4} | {row.variant:<24} | {row.model:<24} | "
            f"{item.n:>5} | {_fmt(item.pearson):>9} | {second:>9} | {_fmt(item.rmse):>6} | "
            f"{row.seconds:>7.1f} |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--only", nargs="*", default=None, choices=sorted(READERS))
    parser.add_argument("--limit", type=int, default=None, help="answers per data set (sampled)")
    parser.add_argument("--model", default=None, help="embedding model (default: the bank's auto)")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--cache", type=Path, default=None, help="embedding cache folder (default: the user's)"
    )
    parser.add_argument("--save", type=Path, default=None, help="write each results.json here")
    parser.add_argument(
        "--load", type=Path, default=None, help="read results.json saved by --save (no grading)"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--per-question", type=int, nargs="*", default=[], metavar="K",
        help="also fit on K graded answers per question and score the rest",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="per-question numbers on stderr")
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="score with the shipped defaults (fitted on every data set, this one included) "
        "instead of the fit that left this data set out",
    )
    args = parser.parse_args(argv)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="grader-agreement-") as temporary:
        for name, reader in READERS.items():
            if args.only and name not in args.only:
                continue
            data_set = reader(args.datasets)
            if data_set is None:
                print(f"skipped {name}: not found under {args.datasets}", file=sys.stderr)
                continue
            data_set = limited(data_set, args.limit, args.seed)
            print(f"{name}: {len(data_set.items)} answers ...", file=sys.stderr)
            rows.extend(run_one(data_set, Path(temporary), args))
    if rows:
        print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
