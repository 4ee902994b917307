"""How a class is graded (``GradeOptions``) and the stage timer."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader.cache_file import default_cache_dir
from grader.evidence import DEFAULT_DEVICE
from grader.evidence.models import Embedder

if TYPE_CHECKING:
    from grader.scoring.calibration import Calibration
    from grader.scoring.defaults import Defaults

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class GradeOptions:
    model: str | None = None  # None: the bank's setting; "none": keywords only
    device: str = DEFAULT_DEVICE
    cache_dir: Path | None = None  # None: the default cache folder
    use_cache: bool = True
    calibration: Calibration | None = None
    defaults: Defaults | None = None  # the scoring defaults; None: the shipped ones
    timestamp: bool = False
    progress: Progress | None = None
    # When a dict: grade() adds the seconds spent per stage ("analyse", "embed", "score") to it.
    timings: dict[str, float] | None = field(default=None, compare=False)
    # When a dict: the embedders by model name, used and filled in across calls (a server that
    # checks one answer at a time loads each model once).
    models: dict[str, Embedder] | None = field(default=None, compare=False)


@contextlib.contextmanager
def timed(timings: dict[str, float] | None, stage: str) -> Iterator[None]:
    """Add the seconds the block takes to ``timings[stage]`` (nothing when ``timings`` is None)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start


def cache_folder(options: GradeOptions) -> Path | None:
    """Where embeddings and analyses are kept between runs (None: nowhere)."""
    return (options.cache_dir or default_cache_dir()) if options.use_cache else None
