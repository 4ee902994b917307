"""Agreement with human graders on public data sets: zero-shot and calibrated.

Each data set in ../shared/datasets (see its README) is converted into a bank YAML and a graded
submissions CSV in a temporary folder (nothing is copied into the repository), graded once with
``grader.grading.grade``, and compared with the human scores:

* Mohler (en, 0-5): ``score_avg`` (the mean of two graders); each question's ``desired_answer`` is
  its model answer; no rubric.
* SAS-ADS zh (zh, 0-10): reference1..3 are the model answers.
* SAF German (de, 0-1 in steps of 0.25): the reference answer, without its "(0.25 P)" marks.
* PT-ASAG 2018 (pt, 0-3): every reference answer of a question is a model answer.
* SemEval-2013 2-way, SciEntsBank and Beetle (en): the reference answers are the model answers;
  correct = 1, incorrect = 0 on a 1-point question; accuracy counts an answer correct at 0.5 points
  or more.

"calibrated" is the held-out agreement of ``grader.calibration``: an outer k-fold over the answers
(spread over every question), where each answer is scored by a calibration fitted on the other
folds only. With ``--per-question K`` the calibration is instead fitted on K graded answers per
question and scored on the rest (the "grade a few, calibrate, grade the rest" workflow).

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

from grader.calibration import FitOptions, fit_from_results, fit_on, rescore  # noqa: E402
from grader.embed_cache import default_cache_dir  # noqa: E402
from grader.evaluation import Agreement, Evaluation, evaluate_pairs, evaluate_results  # noqa: E402
from grader.fsutil import atomic_write  # noqa: E402
from grader.grading import GradeOptions, grade  # noqa: E402
from grader.loader import load_bank  # noqa: E402
from grader.model import Bank, Gradable  # noqa: E402
from grader.results import AnswerResult, Results, load_results, results_to_json  # noqa: E402
from grader.scoring import Match, Penalty, Signals, score_answer  # noqa: E402
from grader.submissions import read_submissions  # noqa: E402

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


_POINT_MARK = re.compile(r"\s*\(\s*\d+(?:[.,]\d+)?\s*P\.?\s*\)")


def read_saf_de(root: Path) -> DataSet | None:
    """SAF German: the reference answer (without its "(0.25 P)" marks) is the model answer."""
    files = sorted((root / "saf-train" / "german").glob("*.xml"))
    if not files:
        return None
    questions, items = [], []
    for file in files:
        node = ET.parse(file).getroot()
        question = _question_id(f"q{node.get('id') or file.stem}")
        prompt = (node.findtext("questionText") or "").strip()
        references = tuple(
            _POINT_MARK.sub("", child.text or "").strip()
            for child in node.iter("referenceAnswer")
            if (child.text or "").strip()
        )
        questions.append(Question(question, prompt, references))
        for position, answer in enumerate(node.iter("studentAnswer"), start=1):
            score = float(answer.findtext("score") or 0.0)
            response = (answer.findtext("response") or "").strip()
            items.append(Item(question, f"s{position:04d}", response, score))
    return DataSet("saf-de", "de", 1.0, tuple(questions), tuple(items))


def read_pt_asag(root: Path) -> DataSet | None:
    """PT-ASAG 2018 (Portuguese, 0-3): every reference answer of a question is a model answer."""
    folder = root / "pt-asag-2018"
    answers_file = folder / "student_answers_and_grades_v2.csv"
    if not answers_file.is_file():
        return None

    def rows(name: str) -> list[dict[str, str]]:
        with (folder / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    prompts = {row["question_id"]: row["question_text"].strip() for row in rows("questions.csv")}
    references: dict[str, list[str]] = defaultdict(list)
    for row in rows("reference_answers.csv"):
        references[row["question_id"]].append(row["refans_text"].strip())
    items = []
    counts: dict[str, int] = defaultdict(int)
    for row in rows(answers_file.name):
        question = _question_id(f"q{row['question_id']}")
        counts[question] += 1
        items.append(
            Item(
                question,
                f"s{counts[question]:04d}",
                row["answer_text"].strip(),
                float(row["grade"]),
            )
        )
    questions = tuple(
        Question(_question_id(f"q{key}"), prompts.get(key, ""), tuple(texts))
        for key, texts in references.items()
        if _question_id(f"q{key}") in counts
    )
    return DataSet("pt-asag", "pt", 3.0, questions, tuple(items))


READERS: dict[str, Callable[[Path], DataSet | None]] = {
    "mohler": read_mohler,
    "sas-ads-zh": read_sas_zh,
    "saf-de": read_saf_de,
    "pt-asag": read_pt_asag,
    "semeval-sciEntsBank": lambda root: read_semeval(root, "sciEntsBank"),
    "semeval-beetle": lambda root: read_semeval(root, "beetle"),
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


def few_per_question(results: Results, count: int, seed: int) -> list[bool]:
    """Per human-scored answer (in results order): True for the ``count`` picked per question."""
    from grader.calibration import collect_signals

    answers = collect_signals(results)
    by_question: dict[str, list[int]] = defaultdict(list)
    for index, answer in enumerate(answers):
        by_question[answer.question].append(index)
    chosen = [False] * len(answers)
    generator = random.Random(seed)
    for members in by_question.values():
        for index in generator.sample(members, min(count, len(members) - 1)):
            chosen[index] = True
    return chosen


def run_one(data_set: DataSet, folder: Path, args: argparse.Namespace) -> list[Row]:
    bank_path, submissions_path = write_files(data_set, folder)
    bank = load_bank(bank_path)
    submissions = read_submissions(submissions_path)
    cache = args.cache or default_cache_dir()
    options = GradeOptions(model=args.model, device=args.device, cache_dir=cache)
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
    fit = fit_from_results(bank, results, FitOptions(folds=args.folds, seed=args.seed))
    calibrated = time.perf_counter() - started
    rows.append(
        Row(data_set.name, data_set.language, "calibrated", model, fit.after.overall, calibrated)
    )
    if args.verbose:
        _describe(data_set.name, zero, fit.after)
    if args.ideas:
        args.idea_rows.extend(measure_ideas(data_set, bank, results, args))
    for count in args.per_question:
        started = time.perf_counter()
        train = few_per_question(results, count, args.seed)
        calibration = fit_on(bank, results, train, FitOptions(folds=args.folds, seed=args.seed))
        pairs = [
            p
            for p, used in zip(rescore(calibration, bank, results), train, strict=True)
            if not used
        ]
        held_out = evaluate_pairs(bank.id, pairs)
        seconds = time.perf_counter() - started
        variant = f"calibrated {count}/question"
        rows.append(
            Row(data_set.name, data_set.language, variant, model, held_out.overall, seconds)
        )
        before = [
            p for p, used in zip(rescore(None, bank, results), train, strict=True) if not used
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


# ---------------------------------------------------------------- ideas, measured from signals


@dataclass(frozen=True)
class Idea:
    """A change to the signals or defaults, applied to graded results without re-embedding."""

    name: str
    prompt_weight: float = 1.0  # weight of the prompt's words among a model answer's (overlap)
    guard: bool = False  # copied-question / answers-another-question only with little own overlap
    rubric_weight: float | None = None  # a different default weight (None: the bank's)
    widen: float = 0.0  # floor - widen, ceiling + widen


IDEAS = (
    Idea("as graded"),
    Idea("guarded penalties", guard=True),
    Idea("+ question words count 1/2", 0.5, True),
    Idea("+ question words count 0", 0.0, True),
    Idea("+ count 0, weight 0.5", 0.0, True, 0.5),
)
GUARDED = ("copied-question", "answers-another-question", "self-contradiction")
OWN_EVIDENCE = 0.2  # own-answer overlap (question words left out) that lifts a guarded penalty


def _words(text: str, language: str) -> frozenset[str]:
    from grader.analysis import analyze, content_words

    return content_words(analyze(text, language))


def weighted_recall(
    answer: frozenset[str], reference: frozenset[str], prompt: frozenset[str], weight: float
) -> float | None:
    """Recall of ``reference``'s words, those also in the prompt counting ``weight``."""
    total = sum(weight if word in prompt else 1.0 for word in reference)
    if total <= 0:
        return None
    return sum(weight if word in prompt else 1.0 for word in reference & answer) / total


def _overlap(gradable: Gradable, answer: AnswerResult, weight: float) -> tuple[float | None, float]:
    """(the overlap with the prompt's words weighted, the overlap without them)."""
    language = answer.language
    words = _words(answer.answer, language)
    prompt = _words(gradable.prompt.get(language), language)
    same = [t for lang, t in gradable.model_answers() if lang == language]
    best: float | None = None
    own = 0.0
    for text in same or [t for _, t in gradable.model_answers()]:
        reference = _words(text, language)
        value = weighted_recall(words, reference, prompt, weight)
        if value is not None:
            best = value if best is None else max(best, value)
        if reference - prompt:
            own = max(own, weighted_recall(words, reference - prompt, frozenset(), 1.0) or 0.0)
    return best, own


def _penalties(answer: AnswerResult, own: float, guard: bool) -> tuple[Penalty, ...]:
    from grader.calibration import _penalty_factor

    kept = []
    for flag in answer.flags:
        if guard and flag.code in GUARDED and own >= OWN_EVIDENCE:
            continue
        factor = _penalty_factor(replace(answer, flags=(flag,)))
        if factor != 1.0 or flag.code in GUARDED:
            kept.append(Penalty(flag.code, factor, flag.reason))
    return tuple(kept)


def apply_idea(bank: Bank, results: Results, idea: Idea) -> tuple[Bank, Results]:
    """``results`` re-scored as grading would with the idea's change (no rubric: model answers)."""
    settings = bank.settings
    if idea.rubric_weight is not None:
        settings = replace(settings, rubric_weight=idea.rubric_weight)
    bank = replace(bank, settings=settings)
    models = {
        name: {
            **info,
            "similarity_floor": info["similarity_floor"] - idea.widen,
            "similarity_ceiling": info["similarity_ceiling"] + idea.widen,
        }
        for name, info in results.models.items()
    }
    results = replace(results, models=models)
    gradables = bank.gradables()
    students = []
    for student in results.students:
        questions = []
        for question in student.questions:
            answers = tuple(
                _rescored(bank, gradables[a.id], a, results, idea) if a.answered else a
                for a in question.answers
            )
            score = round(sum(a.score for a in answers), 4)
            questions.append(replace(question, answers=answers, score=score))
        students.append(replace(student, questions=tuple(questions)))
    return bank, replace(results, students=tuple(students))


def _rescored(
    bank: Bank, gradable: Gradable, answer: AnswerResult, results: Results, idea: Idea
) -> AnswerResult:
    from grader.calibration import default_params

    overlap, own = _overlap(gradable, answer, idea.prompt_weight)
    match = None
    if answer.similarity is not None:
        match = Match(answer.similarity.cosine, answer.similarity.reference, answer.language)
    signals = Signals(
        answer.language,
        True,
        answer_match=match,
        overlap=overlap,
        penalties=_penalties(answer, own, idea.guard),
    )
    params = default_params(bank, results, answer.model or "")
    scored = score_answer(gradable, signals, params, (answer.language,))
    return replace(
        answer,
        score=scored.score,
        auto_score=scored.score,
        criteria=scored.criteria,
        overlap=None if overlap is None else round(overlap, 4),
        similarity=match.evidence(params) if match else None,
        flags=scored.flags,
    )


def measure_ideas(
    data_set: DataSet, bank: Bank, results: Results, args: argparse.Namespace
) -> list[Row]:
    rows = []
    for idea in IDEAS:
        started = time.perf_counter()
        changed_bank, changed = apply_idea(bank, results, idea)
        zero = evaluate_results(changed).overall
        fit = fit_from_results(changed_bank, changed, FitOptions(folds=args.folds, seed=args.seed))
        seconds = time.perf_counter() - started
        model = "+".join(sorted(results.models)) or "none"
        rows.append(Row(data_set.name, data_set.language, f"{idea.name}", model, zero, seconds))
        rows.append(
            Row(data_set.name, data_set.language, "  calibrated", model, fit.after.overall, 0.0)
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
        "--ideas", action="store_true", help="also measure changes to signals and defaults"
    )
    args = parser.parse_args(argv)
    args.idea_rows = []

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
    if args.idea_rows:
        print()
        print_table(args.idea_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
