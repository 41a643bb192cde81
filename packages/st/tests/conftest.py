from youtu_embedding.core.pytest_fixtures import *  # noqa: F403, I001  (shared fixtures first)
from pathlib import Path

import pytest

# Fixtures of the youtu-embedding-st tests: an isolated Hub cache holding a tiny `utu` release.

REPO_ID = "tencent/Youtu-Embedding"


@pytest.fixture(scope="session")
def utu_release(tmp_path_factory: pytest.TempPathFactory, stsb_sentences: list[str]) -> Path:
    """A tiny random `utu` checkpoint with the release's sentence-transformers files."""
    from youtu_embedding.core.testing import make_tiny_utu

    return make_tiny_utu(
        tmp_path_factory.mktemp("utu-release"), texts=stsb_sentences, sentence_transformers_config=True
    )


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory: pytest.TempPathFactory, utu_release: Path) -> Path:
    """A Hugging Face Hub cache (temp dir) holding the tiny release under the real id."""
    from youtu_embedding.core.testing import populate_hub_cache

    cache = tmp_path_factory.mktemp("hf-hub-cache")
    populate_hub_cache(cache, REPO_ID, utu_release)
    return cache


@pytest.fixture
def offline_cache(hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HF_HUB_CACHE points at the isolated cache and HF_HUB_OFFLINE=1, for one test."""
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return hub_cache


@pytest.fixture(scope="session")
def minilm_st(minilm_path: Path):
    """all-MiniLM-L6-v2 through the shim (CPU)."""
    from youtu_embedding.st import SentenceTransformer

    return SentenceTransformer("all-MiniLM-L6-v2", device="cpu")


@pytest.fixture(scope="session")
def minilm_core(minilm_path: Path):
    """all-MiniLM-L6-v2 through the core (CPU, float32)."""
    from youtu_embedding.core import Encoder

    return Encoder("all-MiniLM-L6-v2", device="cpu", dtype="float32")
