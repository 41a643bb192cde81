"""The config files shipped in packages/train/configs validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from youtu_embedding.train.config import load_config

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.*"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_validates(path):
    cfg = load_config(path)
    assert cfg.model and cfg.data and cfg.output_dir


def test_configs_exist():
    assert {p.name for p in CONFIGS} >= {"youtu-2b-codiemb.yaml", "minilm-stsb-cpu.yaml", "tiny-utu-cpu.toml"}
