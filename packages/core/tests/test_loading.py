"""Model loading: native `utu` registration, Hub cache and aliases offline, safety, BERT/ST dirs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from youtu_embedding.core import Encoder, ModelNotFoundError, UnsafeModelError
from youtu_embedding.core.testing import populate_hub_cache


def _release_like(tiny_utu: Path, dest: Path) -> Path:
    """The tiny checkpoint with the released config's quirks: remote-code auto_map, legacy rope_theta."""
    shutil.copytree(tiny_utu, dest)
    cfg = json.loads((dest / "config.json").read_text())
    cfg.pop("rope_parameters")
    cfg.pop("is_causal")
    cfg.update(
        architectures=["UTUModel"],
        rope_theta=1_600_000.0,
        rope_scaling=None,
        auto_map={"AutoConfig": "configuration_utu.UTUConfig", "AutoModel": "modeling_utu.UTUModel"},
    )
    (dest / "config.json").write_text(json.dumps(cfg))
    return dest


def test_auto_classes_load_utu_without_remote_code(tiny_utu: Path, tmp_path: Path) -> None:
    from transformers import AutoConfig, AutoModel

    import youtu_embedding.core  # noqa: F401 - registers the architecture
    from youtu_embedding.core.modeling import UtuConfig, UtuModel

    path = _release_like(tiny_utu, tmp_path / "release")
    config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    assert isinstance(config, UtuConfig) and config.is_causal is None and config.causal is False
    assert config.rope_parameters["rope_theta"] == 1_600_000.0
    model = AutoModel.from_pretrained(path, trust_remote_code=False)
    assert isinstance(model, UtuModel)
    # checkpoint tensor names are the release's (model.*); they land in the bare model
    from safetensors.torch import load_file

    state = load_file(path / "model.safetensors")
    assert "model.layers.0.self_attn.q_norm.weight" in state and "model.norm.weight" in state
    torch.testing.assert_close(model.layers[0].self_attn.q_norm.weight, state["model.layers.0.self_attn.q_norm.weight"])
    inv = model.rotary_emb.inv_freq
    torch.testing.assert_close(inv, 1.0 / (1_600_000.0 ** (torch.arange(0, 16, 2).float() / 16)))
    enc = Encoder(path)
    np.testing.assert_allclose(enc.encode(["hello"]), Encoder(tiny_utu).encode(["hello"]), atol=1e-6)


def test_tied_lm_head_in_checkpoint_is_accepted(tiny_utu: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    path = shutil.copytree(tiny_utu, tmp_path / "with-head")
    state = load_file(path / "model.safetensors")
    state["lm_head.weight"] = state["model.embed_tokens.weight"].clone()
    save_file(state, path / "model.safetensors", metadata={"format": "pt"})
    np.testing.assert_allclose(Encoder(path).encode(["hi there"]), Encoder(tiny_utu).encode(["hi there"]), atol=1e-6)


def test_alias_through_isolated_hub_cache_offline(
    tiny_utu: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "hub"
    populate_hub_cache(cache, "tencent/Youtu-Embedding", tiny_utu)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    by_alias = Encoder("Youtu-RAG/Youtu-Embedding-V1")
    by_id = Encoder("tencent/Youtu-Embedding")
    assert by_alias.info()["model_id"] == "tencent/Youtu-Embedding"
    np.testing.assert_allclose(by_alias.encode_queries(["q"]), by_id.encode_queries(["q"]), atol=1e-7)


def test_missing_model_offline_names_id_cache_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as err:
        Encoder("Youtu-RAG/Youtu-Embedding-V1")
    msg = str(err.value)
    assert "tencent/Youtu-Embedding" in msg and "Youtu-RAG/Youtu-Embedding-V1" in msg
    assert str(tmp_path / "empty-cache") in msg and "hf download tencent/Youtu-Embedding" in msg
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        Encoder(tmp_path / "nope" / "model")


def test_remote_code_refused_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "custom"
    path.mkdir()
    (path / "config.json").write_text(
        json.dumps({"model_type": "my_custom_arch", "auto_map": {"AutoConfig": "cfg.MyConfig"}})
    )
    (path / "model.safetensors").write_bytes(b"")
    with pytest.raises(UnsafeModelError, match="trust_remote_code"):
        Encoder(path)


def test_pickle_weights_refused_unless_allowed(minilm_path: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    path = tmp_path / "bin-only"
    path.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm_path / name, path / name)
    torch.save(load_file(minilm_path / "model.safetensors"), path / "pytorch_model.bin")
    with pytest.raises(UnsafeModelError, match="no safetensors weights.*allow_pickle"):
        Encoder(path)
    enc = Encoder(path, allow_pickle=True)
    ref = Encoder(minilm_path)
    texts = ["a cat sits on the mat", "stock markets fell"]
    # plain HF directory (no sentence-transformers files): mean pooling + normalisation by default,
    # the same as MiniLM's own pipeline, but max_length comes from the model config (512)
    assert enc.info()["pooling"] == "mean" and enc.info()["sentence_transformers_layout"] is False
    np.testing.assert_allclose(enc.encode(texts), ref.encode(texts), atol=1e-5)


def test_bfloat16_dtype(tiny_utu: Path) -> None:
    fp32 = Encoder(tiny_utu, dtype="float32")
    bf16 = Encoder(tiny_utu, dtype="bfloat16")
    assert bf16.info()["dtype"] == "bfloat16" and next(bf16.model.parameters()).dtype == torch.bfloat16
    a, b = fp32.encode(["hello world", "weather"]), bf16.encode(["hello world", "weather"])
    assert b.dtype == np.float32 and ((a * b).sum(1) > 0.99).all()


def test_gradient_checkpointing_and_hidden_states(tiny_utu: Path) -> None:
    from transformers import AutoModel

    model = AutoModel.from_pretrained(tiny_utu)
    model.gradient_checkpointing_enable()
    model.train()
    ids = torch.tensor([[0, 5, 6, 7], [0, 8, 9, 1]])
    out = model(input_ids=ids, attention_mask=torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]), output_hidden_states=True)
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1
    out.last_hidden_state.sum().backward()
    assert model.layers[0].self_attn.q_norm.weight.grad is not None
