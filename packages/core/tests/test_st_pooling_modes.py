"""Every pooling mode sentence-transformers writes loads in the core, without any plugin, and pools
as sentence-transformers does (real directories saved by sentence-transformers itself)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from youtu_embedding.core import Encoder
from youtu_embedding.core.plugins import get_registry

ST_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")


@pytest.fixture(scope="module")
def transformer(minilm_path: Path):
    from sentence_transformers.sentence_transformer.modules import Transformer

    return Transformer(str(minilm_path))


@pytest.fixture(scope="module")
def saved_base(transformer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence-transformers directory written by sentence-transformers (mean pooling)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    path = tmp_path_factory.mktemp("st-base")
    SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension())], device="cpu").save(
        str(path)
    )
    return path


@pytest.mark.parametrize("mode", ST_MODES)
def test_sentence_transformers_pooling_mode_loads_and_matches(
    mode: str, transformer, saved_base: Path, tmp_path: Path, stsb_sentences: list[str]
) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode=mode)
    path = tmp_path / mode  # the saved base (weights linked) with this mode's Pooling saved by sentence-transformers
    path.mkdir()
    for item in saved_base.iterdir():
        if item.name != "1_Pooling":
            (path / item.name).symlink_to(item, target_is_directory=item.is_dir())
    (path / "1_Pooling").mkdir()
    pooling.save(str(path / "1_Pooling"))
    written = json.loads((path / "1_Pooling" / "config.json").read_text())
    assert written.get("pooling_mode") == mode or written.get(f"pooling_mode_{mode}"), written
    texts = stsb_sentences[:8]
    encoder = Encoder(path, device="cpu")
    name = encoder.info()["pooling"]
    assert get_registry().collect("register_pooling_strategies")[name][0] == "pooling"  # core's, not a plugin's
    st = SentenceTransformer(modules=[transformer, pooling], device="cpu")
    np.testing.assert_allclose(
        encoder.encode(texts, normalize=False), st.encode(texts, convert_to_numpy=True), atol=2e-5, rtol=1e-5
    )


def test_legacy_mean_sqrt_len_key_loads(minilm_path: Path, tmp_path: Path) -> None:
    """Older sentence-transformers write one boolean key per mode (``pooling_mode_mean_sqrt_len_tokens``)."""
    import shutil

    from youtu_embedding.core.testing import write_sentence_transformers_config

    path = tmp_path / "legacy"
    shutil.copytree(minilm_path, path, ignore=shutil.ignore_patterns("modules.json", "1_Pooling", "2_Normalize"))
    write_sentence_transformers_config(path, prompts={}, pooling="mean_sqrt_len_tokens", normalize=False)
    assert json.loads((path / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_sqrt_len_tokens"] is True
    encoder = Encoder(path, device="cpu")
    assert encoder.info()["pooling"] == "mean_sqrt_len_tokens"
    mean = Encoder(path, device="cpu", pooling="mean")
    n = np.array([len(r) for r in encoder.tokenize(["a short text", "a somewhat longer text than that"])])
    np.testing.assert_allclose(
        encoder.encode(["a short text", "a somewhat longer text than that"], normalize=False),
        mean.encode(["a short text", "a somewhat longer text than that"], normalize=False) * np.sqrt(n)[:, None],
        rtol=1e-5,
        atol=1e-5,
    )
