"""Parity of the core's `utu` path with an independent reference (REFERENCE.md inference recipe).

The reference is written here from REFERENCE.md: a stock transformers Qwen3 model (the same block:
per-head QK-RMSNorm before RoPE) loaded with the same weights, eager attention, right padding,
prefix-count masking of a copy of the attention mask, mean pooling, L2 normalisation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer, Qwen3Config, Qwen3Model

from youtu_embedding.core import Encoder

QUERY_PROMPT = "Instruction: Given a search query, retrieve passages that answer the question \nQuery:"
QUERIES = [
    "What's the weather like?",
    "Who won the football match last night in the stadium near the river?",
    "今天天气怎么样？",
    "guitar",
]
DOCS = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium. A man is playing a guitar while two dogs run through the snow and everyone watches.",
    "一个男人在弹吉他。",
    "x",
]


def reference_model(path: Path, causal: bool) -> Qwen3Model:
    import json

    cfg = json.loads((path / "config.json").read_text())
    qcfg = Qwen3Config(
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["hidden_size"],
        intermediate_size=cfg["intermediate_size"],
        num_hidden_layers=cfg["num_hidden_layers"],
        num_attention_heads=cfg["num_attention_heads"],
        num_key_value_heads=cfg["num_key_value_heads"],
        head_dim=cfg["head_dim"],
        rms_norm_eps=cfg["rms_norm_eps"],
        rope_parameters={"rope_type": "default", "rope_theta": 1_600_000.0},
        attention_bias=False,
        max_position_embeddings=cfg["max_position_embeddings"],
        tie_word_embeddings=True,
    )
    qcfg._attn_implementation = "eager"
    model = Qwen3Model(qcfg).eval()
    state = {k.removeprefix("model."): v for k, v in load_file(path / "model.safetensors").items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and not [m for m in missing if "rotary" not in m]
    model._causal = causal  # type: ignore[attr-defined]
    return model


@torch.no_grad()
def reference_encode(
    model: Qwen3Model, tokenizer, texts: list[str], instruction: str, max_length: int = 64
) -> np.ndarray:
    """REFERENCE.md steps 1-5, with the prefix-count exclusion of the official example."""
    inputs = tokenizer(
        [instruction + t for t in texts],
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
        add_special_tokens=True,
    )
    mask = inputs["attention_mask"]
    if model._causal:  # type: ignore[attr-defined]
        out = model(input_ids=inputs["input_ids"], attention_mask=mask).last_hidden_state
    else:
        allowed = mask[:, None, None, :].bool().expand(-1, 1, mask.shape[1], -1)
        additive = torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed, torch.finfo(torch.float32).min)
        out = model(input_ids=inputs["input_ids"], attention_mask={"full_attention": additive}).last_hidden_state
    pool_mask = mask.clone()
    n_prefix = len(tokenizer(instruction, add_special_tokens=True)["input_ids"])
    pool_mask[:, :n_prefix] = 0
    emb = (out * pool_mask.unsqueeze(-1)).sum(1) / pool_mask.sum(1, keepdim=True)
    return torch.nn.functional.normalize(emb, dim=-1).numpy()


@pytest.mark.parametrize("attention", ["bidirectional", "causal"])
@pytest.mark.parametrize("prefix_mask", ["count", "offsets"])
def test_core_matches_reference_recipe(tiny_utu: Path, attention: str, prefix_mask: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_utu, padding_side="right")
    tokenizer.pad_token = tokenizer.eos_token
    ref = reference_model(tiny_utu, causal=attention == "causal")
    enc = Encoder(
        tiny_utu,
        attention=attention,
        prefix_mask=prefix_mask,
        device="cpu",
        dtype="float32",
        batch_size=3,
        max_length=64,
    )
    q_core = enc.encode(QUERIES, prompt=QUERY_PROMPT)
    d_core = enc.encode_documents(DOCS)
    q_ref = reference_encode(ref, tokenizer, QUERIES, QUERY_PROMPT)
    d_ref = reference_encode(ref, tokenizer, DOCS, "")
    assert np.abs(q_core - q_ref).max() < 1e-5
    assert np.abs(d_core - d_ref).max() < 1e-5
    # the two directions really differ (the option is not a no-op)
    other = Encoder(tiny_utu, attention="causal" if attention == "bidirectional" else "bidirectional")
    assert np.abs(other.encode_documents(DOCS) - d_core).max() > 1e-3


def test_release_query_prompt_and_default_direction(tiny_utu: Path) -> None:
    enc = Encoder(tiny_utu)
    assert enc.is_causal is False  # checkpoint does not set is_causal -> bidirectional (documented default)
    assert enc.prompts["query"].startswith("Instruction: Given a search query")
    assert enc.prompts["document"] == "" and enc.prompts["passage"] == ""
    q = enc.encode_queries(QUERIES)
    np.testing.assert_allclose(q, enc.encode(QUERIES, prompt_name="query"), atol=1e-6)
    # instruction= renders through the youtu template into the same prefix
    inst = enc.encode(QUERIES, instruction="Given a search query, retrieve passages that answer the question")
    np.testing.assert_allclose(q, inst, atol=1e-6)


def test_checkpoint_is_causal_flag_is_read_and_overridable(tmp_path: Path, stsb_sentences: list[str]) -> None:
    from youtu_embedding.core.testing import make_tiny_utu

    path = make_tiny_utu(tmp_path / "causal", is_causal=True, texts=stsb_sentences[:50])
    assert Encoder(path).is_causal is True
    assert Encoder(path, attention="bidirectional").is_causal is False


def test_prefix_mask_methods_agree_unless_tokens_merge(tiny_utu: Path) -> None:
    """Offsets vs prefix-count exclusion: equal when no token straddles the prefix boundary."""
    by_offsets = Encoder(tiny_utu, prefix_mask="offsets")
    by_count = Encoder(tiny_utu, prefix_mask="count")
    rows_o = by_offsets.tokenize_rows(QUERIES, prefix=QUERY_PROMPT, max_length=64)
    ids_o, skips_o = rows_o.ids, rows_o.skips
    rows_c = by_count.tokenize_rows(QUERIES, prefix=QUERY_PROMPT, max_length=64)
    ids_c, skips_c = rows_c.ids, rows_c.skips
    assert ids_o == ids_c and skips_o == skips_c
    np.testing.assert_allclose(
        by_offsets.encode(QUERIES, prompt=QUERY_PROMPT), by_count.encode(QUERIES, prompt=QUERY_PROMPT), atol=1e-6
    )
    # A prefix ending inside a word merges across the boundary: offsets keep the straddling token as
    # text, the count method (which tokenised the prefix alone) skips one token more.
    merged_prefix, text = "Instruction: find \nQuery: gui", "tar music tonight"
    full = by_offsets.tokenizer(merged_prefix + text)["input_ids"]
    alone = by_offsets.tokenizer(merged_prefix)["input_ids"]
    assert full[: len(alone)] != alone, "the test needs a tokenisation that merges across the boundary"
    skip_o = by_offsets.tokenize_rows([text], prefix=merged_prefix, max_length=64).skips
    skip_c = by_count.tokenize_rows([text], prefix=merged_prefix, max_length=64).skips
    assert skip_o[0] < skip_c[0]


@pytest.mark.parametrize("causal", [True, False])
def test_attention_mask_paths_agree(tiny_utu: Path, causal: bool) -> None:
    """Unpadded, right-padded and left-padded inputs give the same hidden states on real tokens."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(tiny_utu).eval()
    ids = torch.tensor([[0, 11, 12, 13, 14]])
    pad = 1
    with torch.no_grad():
        alone = model(input_ids=ids, is_causal=causal).last_hidden_state[0]
        right = model(
            input_ids=torch.tensor([[0, 11, 12, 13, 14, pad, pad], [0, 5, 6, 7, 8, 9, 10]]),
            attention_mask=torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1] * 7]),
            is_causal=causal,
        ).last_hidden_state[0, :5]
        left = model(
            input_ids=torch.tensor([[pad, pad, 0, 11, 12, 13, 14]]),
            attention_mask=torch.tensor([[0, 0, 1, 1, 1, 1, 1]]),
            position_ids=torch.tensor([[0, 0, 0, 1, 2, 3, 4]]),
            is_causal=causal,
        ).last_hidden_state[0, 2:]
    torch.testing.assert_close(right, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(left, alone, atol=1e-5, rtol=1e-5)
