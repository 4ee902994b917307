"""The trust suite's data: answers a teacher would label, the banks they are graded against, and the
share of the points each label allows (used by tests/test_trust.py and benchmarks/trust.py).

The answers live in tests/data/trust/*.yaml; each file names its bank (relative to the file) and
lists cases::

    bank: ../../../banks/transformer-triad.yaml
    cases:
      - gradable: text-to-text       # a question id, or "question/step" for a challenge step
        language: ko
        kind: partial                # one of KINDS
        text: "..."
        meets: [model]               # partial: the criteria it fully addresses
        share: 0.5                   # partial on a question without a rubric: the expected share
        negates: [model]             # negated / wrong / misconception: criteria that must not be met
        misconception: encoder-only-t2t   # misconception: the rubric misconception it states

Every (gradable, language) of a file has all nine kinds. Each bank's cases are graded in several
variants (``variant_cases``): as written, with every rubric removed, and for the seed bank against a
copy that keeps only its English text (its answers in the other languages).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grader.bank import Bank, Gradable
from grader.grading import GradeOptions, grade
from grader.load.loader import load_bank
from grader.load.submissions import Submission
from grader.results import AnswerResult, Results

DATA = Path(__file__).resolve().parent / "data" / "trust"
# The cases the grader still gets wrong, one per line ("share|order|negation ID ..."): written
# by `benchmarks/trust.py --known-failures`; tests/test_trust.py expects exactly these to fail.
KNOWN_FAILURES = DATA / "known-failures.txt"
KINDS = (
    "correct",
    "terse",
    "partial",
    "negated",
    "wrong",
    "misconception",
    "salad",
    "copied",
    "off_topic",
)
HIGH_KINDS = ("correct", "terse")  # share of the points >= HIGH
LOW_KINDS = ("negated", "wrong", "misconception", "salad", "copied", "off_topic")  # <= LOW
NEGATING_KINDS = ("negated", "wrong", "misconception")  # their `negates` criteria stay unmet
HIGH = 0.8
LOW = 0.2
ORDER = ("correct", "partial", "wrong")  # strictly decreasing shares, per gradable and language
PARTIAL_TOLERANCE = 0.25  # around the share of the points of the criteria a partial answer meets
# Kinds graded against the English-only copy of the seed bank, in its other languages.
CROSS_LANGUAGE_KINDS = ("correct", "terse", "wrong", "off_topic")
_LANGUAGE_CODES = frozenset({"en", "ko", "ja", "ru", "de"})
SEED_BANK = "transformer-triad"


@dataclass(frozen=True)
class Case:
    source: str  # the data file's name
    bank: Path
    gradable: str
    language: str
    kind: str
    text: str
    meets: tuple[str, ...] = ()
    negates: tuple[str, ...] = ()
    misconception: str | None = None
    share: float | None = None  # expected share of a partial answer, where no rubric says it

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.gradable, self.language, self.kind)


@dataclass(frozen=True)
class Variant:
    """One way of grading a data file's cases: a bank (as written or rewritten) and the cases."""

    name: str
    bank_path: Path
    cases: tuple[Case, ...]
    reference: Bank  # the bank as written: its rubrics give the expected share of a partial answer

    @property
    def has_rubrics(self) -> bool:
        return not self.name.endswith("/no-rubric")


@dataclass(frozen=True)
class Bound:
    low: float | None  # the share must be >= low (None: no lower bound)
    high: float | None  # the share must be <= high
    strict: tuple[float, float] | None = None  # and strictly inside this interval

    def holds(self, share: float) -> bool:
        if self.low is not None and share < self.low - 1e-9:
            return False
        if self.high is not None and share > self.high + 1e-9:
            return False
        return self.strict is None or self.strict[0] < share < self.strict[1]

    def __str__(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f">= {self.low:.2f}")
        if self.high is not None:
            parts.append(f"<= {self.high:.2f}")
        if self.strict is not None:
            parts.append(f"in ({self.strict[0]:.2f}, {self.strict[1]:.2f})")
        return " and ".join(parts)


def data_files() -> list[Path]:
    return sorted(DATA.glob("*.answers.yaml")) + sorted(DATA.glob("transformer-triad.*.yaml"))


def load_cases(path: Path) -> list[Case]:
    """The cases of one data file, checked against its bank (ids, criteria, all nine kinds)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    bank_path = (path.parent / document["bank"]).resolve()
    bank = load_bank(bank_path)
    gradables = bank.gradables()
    cases = []
    for entry in document["cases"]:
        unknown = set(entry) - {
            "gradable",
            "language",
            "kind",
            "text",
            "meets",
            "negates",
            "misconception",
            "share",
        }
        assert not unknown, f"{path.name}: unknown keys {unknown} in {entry}"
        case = Case(
            source=path.name,
            bank=bank_path,
            gradable=entry["gradable"],
            language=entry["language"],
            kind=entry["kind"],
            text=entry["text"].strip(),
            meets=tuple(entry.get("meets", ())),
            negates=tuple(entry.get("negates", ())),
            misconception=entry.get("misconception"),
            share=entry.get("share"),
        )
        _check_case(path, case, gradables)
        cases.append(case)
    keys = [case.key for case in cases]
    assert len(keys) == len(set(keys)), f"{path.name}: a (gradable, language, kind) repeats"
    for gradable, language in {(case.gradable, case.language) for case in cases}:
        missing = [kind for kind in KINDS if (gradable, language, kind) not in keys]
        assert not missing, f"{path.name}: {gradable} ({language}) lacks {missing}"
    return cases


def _check_case(path: Path, case: Case, gradables: Mapping[str, Gradable]) -> None:
    where = f"{path.name}: {case.gradable} ({case.language}, {case.kind})"
    assert case.gradable in gradables, f"{where}: no such gradable"
    assert case.kind in KINDS, f"{where}: unknown kind"
    assert case.text, f"{where}: empty text"
    rubric = gradables[case.gradable].rubric
    criteria = {criterion.id for criterion in rubric.criteria} if rubric else set()
    assert set(case.meets) <= criteria, f"{where}: meets unknown criteria"
    assert set(case.negates) <= criteria, f"{where}: negates unknown criteria"
    if case.kind == "partial":
        assert case.meets or case.share is not None, f"{where}: a partial needs meets or share"
    if case.kind in NEGATING_KINDS and criteria:
        assert case.negates, f"{where}: list the criteria it negates"
    if case.misconception is not None:
        known = {m.id for m in rubric.misconceptions} if rubric else set()
        assert case.misconception in known, f"{where}: unknown misconception"


def expected_share(case: Case, gradable: Gradable) -> float | None:
    """A partial answer's share of the points on the human scale: its met criteria's points."""
    if case.share is not None:
        return case.share
    if gradable.rubric is None:
        return None
    points = {criterion.id: criterion.points for criterion in gradable.rubric.criteria}
    return sum(points[criterion] for criterion in case.meets) / sum(points.values())


def bound(case: Case, reference: Bank) -> Bound:
    if case.kind in HIGH_KINDS:
        return Bound(HIGH, None)
    if case.kind in LOW_KINDS:
        return Bound(None, LOW)
    expected = expected_share(case, reference.gradables()[case.gradable])
    assert expected is not None
    strict = (LOW, HIGH) if LOW < expected < HIGH else None
    return Bound(
        max(0.0, expected - PARTIAL_TOLERANCE), min(1.0, expected + PARTIAL_TOLERANCE), strict
    )


# ------------------------------------------------------------------------------- banks


def _read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _write_yaml(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _gradable_nodes(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for question in document["questions"]:
        yield question
        yield from question.get("steps", ())


def without_rubrics(bank_path: Path, folder: Path) -> Path:
    """A copy of the bank with every ``rubric:`` removed (graded on its model answers alone)."""
    document = _read_yaml(bank_path)
    for node in _gradable_nodes(document):
        node.pop("rubric", None)
    return _write_yaml(folder / bank_path.name, document)


def _only_language(node: Any, language: str) -> Any:
    """The node with every per-language mapping cut down to ``language``."""
    if isinstance(node, dict):
        if node and set(node) <= _LANGUAGE_CODES:
            return {language: _only_language(node[language], language)} if language in node else {}
        return {key: _only_language(value, language) for key, value in node.items()}
    if isinstance(node, list):
        return [_only_language(item, language) for item in node]
    return node


def _rubric_file(bank_path: Path, rubric_id: str) -> Path:
    """Where the loader finds a rubric id: rubrics/ beside the bank, then ../rubrics/."""
    for folder in (bank_path.parent / "rubrics", bank_path.parent.parent / "rubrics"):
        if (folder / f"{rubric_id}.yaml").is_file():
            return folder / f"{rubric_id}.yaml"
    raise FileNotFoundError(f"rubric {rubric_id!r} of {bank_path}")


def only_english(bank_path: Path, folder: Path) -> Path:
    """A copy of the bank in English alone: prompts, model answers and (inlined) rubrics."""
    document = copy.deepcopy(_read_yaml(bank_path))
    for node in _gradable_nodes(document):
        if isinstance(node.get("rubric"), str):
            rubric = _read_yaml(_rubric_file(bank_path, node["rubric"]))
            rubric.pop("id")
            node["rubric"] = rubric
    document = _only_language(document, "en")
    document["languages"] = ["en"]
    return _write_yaml(folder / bank_path.name, document)


def case_id(variant: str, case: Case) -> str:
    return f"{variant}:{case.gradable}:{case.language}:{case.kind}"


def pair_id(variant: str, gradable: str, language: str) -> str:
    return f"{variant}:{gradable}:{language}"


def known_failures() -> frozenset[str]:
    """The checks listed in KNOWN_FAILURES, as "share ID", "order ID" and "negation ID"."""
    if not KNOWN_FAILURES.is_file():
        return frozenset()
    found = set()
    for line in KNOWN_FAILURES.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) >= 2 and not line.startswith("#"):
            found.add(f"{words[0]} {words[1]}")
    return frozenset(found)


def all_cases() -> list[Case]:
    return [case for path in data_files() for case in load_cases(path)]


def variant_cases(cases: Sequence[Case]) -> dict[str, tuple[Case, ...]]:
    """The cases of each variant, by name: ``BANK``, ``BANK/no-rubric`` and, for the seed bank,
    ``BANK/en-only`` (its answers in other languages against its English text alone)."""
    by_bank: dict[str, list[Case]] = {}
    for case in cases:
        by_bank.setdefault(case.bank.stem, []).append(case)
    result: dict[str, tuple[Case, ...]] = {}
    for name, bank_cases in sorted(by_bank.items()):
        result[name] = tuple(bank_cases)
        result[f"{name}/no-rubric"] = tuple(bank_cases)
        if name == SEED_BANK:
            result[f"{name}/en-only"] = tuple(
                case
                for case in bank_cases
                if case.language != "en" and case.kind in CROSS_LANGUAGE_KINDS
            )
    return result


def build_variants(folder: Path, cases: Sequence[Case] | None = None) -> list[Variant]:
    """Every grading of the trust data, with the rewritten banks written under ``folder``."""
    variants = []
    for name, chosen in variant_cases(all_cases() if cases is None else cases).items():
        bank_path = chosen[0].bank
        reference = load_bank(bank_path)
        stem, _, how = name.partition("/")
        if how == "no-rubric":
            bank_path = without_rubrics(bank_path, folder / stem / how)
        elif how == "en-only":
            bank_path = only_english(bank_path, folder / stem / how)
        variants.append(Variant(name, bank_path, chosen, reference))
    return variants


def _student(case: Case) -> str:
    return f"{case.language}-{case.kind}"


def grade_variant(
    variant: Variant, options: GradeOptions | None = None
) -> dict[Case, AnswerResult]:
    """Grade every case of the variant in one call (``GradeOptions()`` defaults unless given)."""
    bank = load_bank(variant.bank_path)
    rows = [
        Submission(_student(case), case.gradable, case.text, case.language)
        for case in variant.cases
    ]
    results = grade(bank, rows, options or GradeOptions())
    return _by_case(results, variant.cases)


def _by_case(results: Results, cases: Sequence[Case]) -> dict[Case, AnswerResult]:
    answers = {
        (student.id, answer.id): answer
        for student in results.students
        for question in student.questions
        for answer in question.answers
    }
    return {case: answers[(_student(case), case.gradable)] for case in cases}


def share(answer: AnswerResult) -> float:
    return answer.score / answer.points


def explain(answer: AnswerResult) -> str:
    """The score, each criterion's credit and the flags, for a failure message."""
    credits = ", ".join(f"{c.id} {c.credit:.2f}{' met' if c.met else ''}" for c in answer.criteria)
    flags = ", ".join(flag.code for flag in answer.flags) or "none"
    return f"{answer.score:.2f}/{answer.points:g} (criteria: {credits}; flags: {flags})"


def order_problem(shares: Mapping[str, float]) -> str | None:
    """Why correct > partial > wrong (those of the kinds present) does not hold, or None."""
    present = [kind for kind in ORDER if kind in shares]
    ranked = [shares[kind] for kind in present]
    if all(high > low for high, low in itertools.pairwise(ranked)):
        return None
    return " > ".join(f"{kind} {shares[kind]:.2f}" for kind in present) + " does not hold"


def negation_problems(case: Case, answer: AnswerResult, reference: Bank) -> list[str]:
    """The criteria of ``case.negates`` the answer was given as met, or given met feedback for."""
    by_id = {criterion.id: criterion for criterion in answer.criteria}
    problems = []
    for criterion_id in case.negates:
        result = by_id[criterion_id]
        if result.met:
            problems.append(f"{criterion_id} is met (credit {result.credit:.2f})")
        if result.feedback in met_feedback(reference, case.gradable, criterion_id):
            problems.append(f"{criterion_id} has the met feedback {result.feedback!r}")
    return problems


def met_feedback(reference: Bank, gradable: str, criterion: str) -> set[str]:
    """Every language's "met" feedback of a criterion (none of it may reach a negated one)."""
    rubric = reference.gradables()[gradable].rubric
    assert rubric is not None
    found = next(c for c in rubric.criteria if c.id == criterion)
    return {text for text in found.feedback_met.by_language.values() if text}
