"""The core Encoder as an mteb model: the mteb v2 encoder protocol, prompts per side, the embeddings cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from youtu_embedding.core import Encoder
from youtu_embedding.eval.cache import EmbeddingCache, model_fingerprint
from youtu_embedding.eval.instructions import InstructionPolicy
from youtu_embedding.eval.local_tasks import load_local_task
from youtu_embedding.eval.mteb_model import YoutuMtebEncoder


@pytest.fixture(scope="module")
def encoder(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, device="cpu")


def test_is_an_mteb_encoder_with_metadata(encoder: Encoder) -> None:
    from mteb.models import EncoderProtocol

    model = YoutuMtebEncoder(encoder, InstructionPolicy("youtu"))
    assert isinstance(model, EncoderProtocol)
    meta = model.mteb_model_meta
    assert meta.embed_dim == encoder.dimension and meta.max_tokens == encoder.max_length
    assert meta.similarity_fn_name.value == "cosine" and meta.use_instructions
    assert meta.name.startswith("local/")


def test_prompts_follow_the_task_sides(encoder: Encoder, data_dir: Path, tmp_path: Path) -> None:
    """Retrieval: the query prefix on queries, none on documents; vectors equal the Encoder's own."""
    from mteb._create_dataloaders import create_dataloader
    from mteb.types import PromptType

    task = load_local_task(data_dir / "eval" / "retrieval" / "xquad-zh", max_samples=5).task
    split = task.dataset["default"]["test"]
    model = YoutuMtebEncoder(encoder, InstructionPolicy("youtu"), cache=None)
    queries = create_dataloader(split["queries"], task_metadata=task.metadata, prompt_type=PromptType.query)
    docs = create_dataloader(split["corpus"], task_metadata=task.metadata, prompt_type=PromptType.document)
    q = model.encode(
        queries, task_metadata=task.metadata, hf_split="test", hf_subset="default", prompt_type=PromptType.query
    )
    d = model.encode(
        docs, task_metadata=task.metadata, hf_split="test", hf_subset="default", prompt_type=PromptType.document
    )
    prompts = model.used_prompts[task.metadata.name]
    assert prompts.query_prefix == f"Instruction: {prompts.instruction} \nQuery: " and prompts.document_prefix == ""
    np.testing.assert_allclose(
        q, encoder.encode(list(split["queries"]["text"]), prompt=prompts.query_prefix), atol=1e-5
    )
    titled = [f"{t} {x}".strip() for t, x in zip(split["corpus"]["title"], split["corpus"]["text"], strict=True)]
    np.testing.assert_allclose(d, encoder.encode(titled), atol=1e-5)


def test_cache_is_keyed_by_model_prefix_and_text(encoder: Encoder, stsb_sentences: list[str], tmp_path: Path) -> None:
    texts = stsb_sentences[:20]
    cache = EmbeddingCache(tmp_path / "c.sqlite", model_fingerprint(encoder))
    model = YoutuMtebEncoder(encoder, InstructionPolicy("youtu"), cache=cache)
    plain = model.encode_texts(texts, "")
    assert (cache.hits, cache.misses) == (0, 20) and len(cache) == 20
    again = model.encode_texts(texts, "")
    assert cache.hits == 20
    np.testing.assert_array_equal(plain, again)
    prompted = model.encode_texts(texts, "Instruction: Retrieve semantically similar text \nQuery: ")
    assert cache.misses == 40 and len(cache) == 40  # another prefix: other keys, other vectors
    assert not np.allclose(plain, prompted)
    other = Encoder(encoder.loaded.layout.root, device="cpu", pooling="cls")
    assert model_fingerprint(other) != cache.fingerprint  # a setting that changes vectors changes the key
    cache.close()


def test_blank_texts_get_zero_vectors(encoder: Encoder) -> None:
    model = YoutuMtebEncoder(encoder, InstructionPolicy("none"))
    out = model.encode_texts(["a real sentence", "  "], "", task_name="T")
    assert np.linalg.norm(out[0]) == pytest.approx(1.0, abs=1e-4) and not out[1].any()
    assert model.empty_texts == {"T": 1}
