"""Stage 4: embed every text grading compares, per model, in one pass (through the cache)."""

from __future__ import annotations

from collections.abc import Sequence

from grader.bank import Bank
from grader.cache_file import default_cache_dir
from grader.evidence.embed_cache import EmbeddingCache
from grader.evidence.embedding import embed_texts, load_embedder
from grader.evidence.models import Embedder, auto_model_for
from grader.evidence.space import Space, covered
from grader.grading.options import GradeOptions
from grader.grading.run import Answer, Run
from grader.results import Flag
from grader.scoring.reference_words import reference_sets

MAX_SENTENCES = 64  # sentences of one answer compared one by one
MAX_EMBED_CHARS = 4000  # the whole answer is embedded from its first characters


def embed_answers(run: Run) -> None:
    options = run.options
    run.spaces = spaces(run.bank, run.unique, options)
    cache = EmbeddingCache(options.cache_dir or default_cache_dir()) if options.use_cache else None
    for space in run.spaces.values():
        space.vectors = embed_texts(space.embedder, list(space.texts), cache)


def spaces(bank: Bank, answers: Sequence[Answer], options: GradeOptions) -> dict[str, Space]:
    """The texts to embed per model, and the models (loaded only when they must encode)."""
    requested = options.model or bank.settings.model
    found: dict[str, Space] = {}
    if requested == "none":
        return found
    every_gradable = list(bank.gradables().values())
    # one instance of each model, even inside an ensemble (and across calls with options.models)
    loaded: dict[str, Embedder] = options.models if options.models is not None else {}
    answered: dict[str, set[str]] = {}  # per model, the gradables it has answers to
    for answer in answers:
        if answer.analysis is None:
            continue
        model = _model_for(answer, requested)
        if model is None:
            continue
        if model not in found:
            embedder = load_embedder(model, options.device, lazy=True, shared=loaded)
            found[model] = Space(model, embedder)
            answered[model] = set()
        answered[model].add(answer.gradable.id)
        answer.model = model
        answer.units = _answer_units(answer)
        for text, _span in answer.units:
            found[model].add(text)
    for model, space in found.items():
        # Every question's model answers (an answer to another question is recognised by them);
        # concepts, misconceptions and wrong answers only of the questions answered (a self-check
        # embeds one); of each, the texts in the languages the model reads, as they are matched.
        for gradable in every_gradable:
            sets = list(reference_sets(gradable))
            for references in sets if gradable.id in answered[model] else sets[:1]:
                for _language, text in covered(references, space.languages):
                    space.add(text)
    return found


def _model_for(answer: Answer, requested: str) -> str | None:
    if requested == "none":
        return None
    if requested == "auto":
        return auto_model_for(answer.language or "en")
    return requested


def _answer_units(answer: Answer) -> list[tuple[str, tuple[int, int] | None]]:
    text = answer.row.answer
    units: list[tuple[str, tuple[int, int] | None]] = [(text[:MAX_EMBED_CHARS].strip(), None)]
    sentences = list(answer.analysis.sentences) if answer.analysis else []
    if len(sentences) > 1:
        if len(sentences) > MAX_SENTENCES:
            answer.notes.append(
                Flag(
                    "long-answer",
                    f"only the first {MAX_SENTENCES} of {len(sentences)} sentences were compared",
                )
            )
        for start, end in sentences[:MAX_SENTENCES]:
            sentence = text[start:end].strip()
            if sentence:
                units.append((sentence[:MAX_EMBED_CHARS], (start, end)))
    return units
