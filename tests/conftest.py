from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The default cache folder (embeddings and analyses) lives under the session's temporary folder:
# tests neither read a user's cache nor leave one behind.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="grader-tests-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)

ROOT = Path(__file__).resolve().parent.parent
SEED_BANK = ROOT / "banks" / "transformer-triad.yaml"
EXAMPLE_SUBMISSIONS = ROOT / "banks" / "examples" / "submissions.csv"


@pytest.fixture
def write(tmp_path: Path):
    """Write a file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


NOBODY = 65534  # the uid and gid of `nobody` (and `nogroup`) on Debian and most Linux systems


def unprivileged(command: list[str]) -> list[str]:
    """``command`` run as a user that file permissions apply to: the test's own user, or, when
    the tests run as root (as CI does, and root may write anywhere), `nobody` through setpriv,
    keeping only the capability to read any file (so the checkout may lie under /root). Skips
    only where neither can run Python."""
    if os.geteuid() != 0:
        return command
    prefix = _drop_privileges()
    if prefix is None:
        pytest.skip("running as root, and setpriv cannot run Python as nobody here")
    return [*prefix, *command]


@functools.cache
def _drop_privileges() -> tuple[str, ...] | None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    user = (setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
    reader = ("--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search")
    probe = [sys.executable, "-c", "import grader"]
    for prefix in ((*user, *reader, "--"), (*user, "--")):
        done = subprocess.run([*prefix, *probe], capture_output=True, cwd=ROOT)
        if done.returncode == 0:
            return prefix
    return None


@pytest.fixture
def shared_tmp():
    """A temporary folder an unprivileged user can read (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="grader-unprivileged-"))
    folder.chmod(0o755)
    yield folder
    for path in folder.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)
