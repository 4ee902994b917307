"""grader.evidence.minilm_numpy: the packaged all-MiniLM-L6-v2 in numpy equals sentence-transformers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from grader.evidence import backends, models
from grader.evidence.embedding import load_embedder
from grader.evidence.minilm_numpy import MiniLM, erf, gelu
from grader.evidence.models import MINILM

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5  # per component; the cache key is shared with sentence-transformers' CPU rows

LONG = " ".join(
    ["The transformer relates every token to every other token through self-attention."] * 30
)
TEXTS = [
    "Masked language models predict hidden tokens from both sides of the context.",
    "ok",
    "",
    "   ",
    "물을 증발시키면 소금이 남는다.",
    "デコーダのみのモデルは、規模を大きくするほど性能が上がる。",
    "Модели только с декодером продолжают улучшаться при масштабировании.",
    "BERT는 bidirectional encoder이고 GPT는 autoregressive decoder입니다. 正确。",
    LONG,
    LONG + " and a different ending that must be cut off",
    "Ｆｕｌｌ　ｗｉｄｔｈ ① emoji 🙂🙂 café naïve \u200b zero\u200dwidth \t tabs\nnewline",
    "A" * 600,
]


@pytest.fixture(scope="module")
def folder() -> Path:
    return models.minilm_folder()


@pytest.fixture(scope="module")
def numpy_model(folder: Path) -> MiniLM:
    return MiniLM(folder)


@pytest.fixture(scope="module")
def reference(folder: Path) -> object:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def test_erf_and_gelu_match_the_exact_functions() -> None:
    x = np.linspace(-8, 8, 40001, dtype=np.float32)
    exact = np.array([math.erf(float(value)) for value in x])
    assert np.max(np.abs(erf(x) - exact)) < 1e-6
    exact_gelu = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()])
    assert np.max(np.abs(gelu(x.copy()) - exact_gelu)) < 5e-6


@pytest.mark.slow
def test_vectors_equal_sentence_transformers(numpy_model: MiniLM, reference: object) -> None:
    expected = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)  # type: ignore[attr-defined]
    together = numpy_model.encode(TEXTS)
    one_by_one = np.vstack([numpy_model.encode([text]) for text in TEXTS])
    for vectors in (together, one_by_one):
        assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
        assert np.max(np.abs(vectors - expected)) <= TOLERANCE
        assert np.min(np.sum(vectors * expected, axis=1)) >= 0.99999


@pytest.mark.slow
def test_tokens_and_truncation_match_sentence_transformers(
    numpy_model: MiniLM, reference: object
) -> None:
    tokenizer = reference.tokenizer  # type: ignore[attr-defined]
    max_length = reference.max_seq_length  # type: ignore[attr-defined]
    expected = tokenizer(TEXTS, truncation=True, max_length=max_length)["input_ids"]
    assert numpy_model.max_length == max_length == 256
    assert numpy_model.token_ids(TEXTS) == expected
    long_ids = numpy_model.token_ids([LONG, LONG + " and a different ending"])
    assert [len(ids) for ids in long_ids] == [256, 256]
    assert long_ids[0] == long_ids[1]  # the ending is cut off, so the vectors are the same too
    vectors = numpy_model.encode([LONG, LONG + " and a different ending"])
    np.testing.assert_allclose(vectors[0], vectors[1], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_the_cpu_embedder_is_numpy_with_the_sentence_transformers_cache_key() -> None:
    embedder = load_embedder(MINILM, device="cpu")
    assert isinstance(embedder, backends.NumpyMiniLMEmbedder)
    packaged = next(info for info in models.available_models() if info.name == MINILM)
    assert embedder.info == packaged  # same fingerprint as sentence-transformers on the CPU
    assert embedder.encode([]).shape == (0, 384)
    vectors = embedder.encode(["", "ok", ""])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(
        vectors[0], vectors[2], rtol=0, atol=1e-6
    )  # an empty text has a vector, as in ST


@pytest.mark.slow
def test_check_on_the_cpu_imports_neither_torch_nor_sentence_transformers() -> None:
    answer = (
        f"BERT fills in masked words from both sides; GPT predicts the next token {uuid.uuid4()}"
    )
    # ``auto`` decides on the CPU without torch when there surely is no GPU; else ask for the CPU
    device = [] if models._surely_no_gpu() else ["--device", "cpu"]
    argv = ["grader", "check", "banks/transformer-triad.yaml", "mlm-vs-ntp", "--answer", answer,
            "--no-cache", "--json", *device]  # fmt: skip
    code = (
        f"import sys\nfrom grader.cli import main\nsys.argv = {argv!r}\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    *output, imported = result.stdout.strip().splitlines()
    assert imported == "False False"
    assert json.loads("\n".join(output))["ok"] is True
