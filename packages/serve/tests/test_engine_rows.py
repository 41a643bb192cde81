"""The serve engine runs the core's public row-level API: Tokenize reports the ids Embed uses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from youtu_embedding.core import Encoder
from youtu_embedding.core.templates import YOUTU_RELEASE_PROMPTS
from youtu_embedding.core.testing import make_tiny_utu, write_sentence_transformers_config
from youtu_embedding.serve.engine import Engine


def test_tokenize_reports_the_embedded_ids_of_a_do_lower_case_model(tmp_path: Path, stsb_sentences: list[str]) -> None:
    path = make_tiny_utu(tmp_path / "lower", texts=stsb_sentences[:100])  # a case-sensitive BPE tokenizer
    write_sentence_transformers_config(path, prompts=dict(YOUTU_RELEASE_PROMPTS), include_prompt=False)
    cfg = path / "sentence_bert_config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "do_lower_case": True}))
    engine = Engine(Encoder(path, device="cpu"), max_input_length=64)
    text, prefix = "He drove to the STADIUM.", engine.resolve_prefix(prompt_name="query")
    shown = engine.tokens(text, prefix, add_special_tokens=True, truncate=True).tokens
    embedded = engine.tokenize([text], prefix, truncate=True)
    assert [t.id for t in shown] == embedded.ids[0]
    assert [t.pooled for t in shown].index(True) == embedded.skips[0]
    assert "".join(t.text for t in shown if t.pooled).strip() == text
    # and the vectors the engine finishes are the core's
    pooled = engine.forward_pooled(embedded.ids, embedded.skips)
    got = engine.finish(pooled, dimensions=16, normalize=None)
    np.testing.assert_allclose(
        got, engine.encoder.encode([text], prompt=prefix, truncate_dim=16, max_length=64), atol=1e-6
    )
