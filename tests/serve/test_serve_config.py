"""grader serve's configuration, without a server (the server itself: tests/serve/test_serve.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import GraderError
from grader.evidence import backends
from grader.serve.server import BLAS_THREAD_VARIABLES, ServeConfig, check_config, one_blas_thread


def test_other_hosts_need_a_code_and_numbers_must_make_sense() -> None:
    banks = (Path("banks/transformer-triad.yaml"),)
    assert check_config(ServeConfig(banks)).host == "127.0.0.1"
    assert check_config(ServeConfig(banks, host="0.0.0.0", access_code="owl-7")).port == 8000
    for config, message in (
        (ServeConfig(banks, host="0.0.0.0"), "refusing to serve on 0.0.0.0 without --access-code"),
        (ServeConfig(banks, host="::", access_code="ab"), "at least 4 characters"),
        (ServeConfig(banks, port=0), "--port must be from 1 to 65535, not 0"),
        (ServeConfig(banks, rate_limit=0), "--rate-limit must be at least 1, not 0"),
        (ServeConfig(()), "give at least one bank"),
    ):
        with pytest.raises(GraderError, match=message):
            check_config(config)


def test_the_configuration_travels_to_worker_processes(tmp_path: Path) -> None:
    config = ServeConfig(
        (Path("a.yaml"), Path("b.yaml")),
        data=tmp_path,
        access_code="owl-7",
        rubric_dirs=(tmp_path,),
    )
    assert ServeConfig.from_json(config.to_json()) == config


def test_one_blas_thread_unless_the_environment_says_otherwise(monkeypatch) -> None:
    for variable in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    one_blas_thread()
    import os

    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "3"
    assert backends._blas_threads() == 1  # the USE encoder follows it
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "x")
    assert 1 <= backends._blas_threads() <= 4
