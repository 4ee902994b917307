"""Everything the scoring rule needs besides the signals: the shipped defaults for a model, moved
by a bank's floor and ceiling and by a calibration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.evidence.match import Ramp
from grader.scoring.defaults import Defaults, MeaningMap, Review, defaults

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class ScoringParams:
    """Everything the rule needs besides the signals; ``for_model`` gives the shipped defaults."""

    ramp: Ramp
    meaning: MeaningMap
    met: float
    meaning_cap: float
    misconception_similarity: float
    misconception_margin: float
    wrong_margin: float
    wrong_similarity: float
    sharpness: float
    meaning_only_flag: float
    review: Review
    shift: float = 0.0  # calibration: added to the meaning log-odds
    scale: float = 1.0  # calibration: multiplies the meaning log-odds
    share_map: tuple[tuple[float, float], ...] = ()  # calibration: knots (share in, share out)

    @classmethod
    def for_model(
        cls,
        model: str | None,
        floor: float | None = None,
        ceiling: float | None = None,
        shipped: Defaults | None = None,
    ) -> ScoringParams:
        """The defaults (``shipped``, else the package's) for ``model`` (None: keywords only),
        with a bank's floor/ceiling."""
        shipped = shipped or defaults()
        ramp = shipped.ramp(model or "generic")
        if floor is not None or ceiling is not None:
            ramp = _moved_ramp(ramp, floor, ceiling)
        return cls(
            ramp=ramp,
            meaning=shipped.meaning,
            met=shipped.met,
            meaning_cap=shipped.meaning_cap,
            misconception_similarity=shipped.misconception_similarity,
            misconception_margin=shipped.misconception_margin,
            wrong_margin=shipped.wrong_margin,
            wrong_similarity=shipped.wrong_similarity,
            sharpness=shipped.sharpness,
            meaning_only_flag=shipped.meaning_only_flag,
            review=shipped.review,
        )


def _moved_ramp(ramp: Ramp, floor: float | None, ceiling: float | None) -> Ramp:
    """A bank's own floor/ceiling; the cross-language ramp moves with it."""
    new_floor = ramp.floor if floor is None else floor
    new_ceiling = ramp.ceiling if ceiling is None else ceiling
    return Ramp(
        new_floor,
        new_ceiling,
        ramp.cross_floor + new_floor - ramp.floor,
        ramp.cross_ceiling + new_ceiling - ramp.ceiling,
    )
