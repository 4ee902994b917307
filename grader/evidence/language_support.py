"""What the grader does for answers in a language, in words (``grader validate`` and ``grader
languages``): the analyser (``grader.text.languages``) and the encoder ``--model auto`` uses."""

from __future__ import annotations

from grader.evidence.models import PACKAGED, auto_model_for
from grader.text.languages import profile
from grader.text.languages.words import snowball_name


def describe(code: str) -> dict[str, str]:
    """What the grader does for answers in ``code``, in words (for `validate` and `languages`):
    the analyser, the negation cues, compound splitting and the encoder ``--model auto`` uses."""
    found = profile(code.split("-")[0].lower())  # zh-TW: the Chinese profile
    if found is None:
        stemmer = snowball_name(code)
        analyser = (
            f"no profile: words at spaces, Snowball {stemmer} stems, no stop words"
            if stemmer
            else "no profile: only exact matching of lower-case words"
        )
        return {
            "language": code,
            "name": code,
            "analyser": analyser,
            "negation": "none",
            "compounds": "not split",
            "encoder": _encoder(code),
        }
    return {
        "language": code,
        "name": found.name,
        "analyser": f"{found.segmenter}; {found.lemmatiser}",
        "negation": found.negation_cues,
        "compounds": found.compounds or "not split",
        "encoder": _encoder(code),
    }


def _encoder(code: str) -> str:
    model = auto_model_for(code)
    readers = {name for name, spec in PACKAGED.items() if spec.languages and code in spec.languages}
    if readers & set(model.split("+")):
        return f"{model} (what --model auto uses)"
    return f"{model} (what --model auto uses), not made for '{code}': meaning is compared roughly"
