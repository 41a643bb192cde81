"""The public row-level API of Encoder (tokenize_rows, plan_batches, pool_rows, pool_spans, finish_rows,
token_pieces) and the character pre-cut of over-long inputs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from youtu_embedding.core import Encoder
from youtu_embedding.core.testing import read_jsonl

PREFIXES = ["", "query: ", "Instruction: Given a search query, retrieve passages that answer the question \nQuery: "]


class RecordingTokenizer:
    """Delegates to a real tokenizer and records the longest string it was asked to tokenise."""

    def __init__(self, tokenizer: Any) -> None:
        self.inner = tokenizer
        self.longest = 0

    def __call__(self, text: Any, *args: Any, **kwargs: Any) -> Any:
        strings = [text] if isinstance(text, str) else list(text)
        self.longest = max([self.longest, *(len(s) for s in strings)])
        return self.inner(text, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __len__(self) -> int:
        return len(self.inner)


def _whole_text_reference(enc: Encoder) -> Encoder:
    """The same encoder with the pre-cut disabled (a character budget no text reaches): today's path."""
    ref = copy.copy(enc)
    ref._cpt = 10**9
    return ref


@pytest.fixture(scope="module")
def corpus_text(data_dir: Path) -> str:
    """About 1,000,000 characters of real English (XQuAD paragraphs, repeated)."""
    paragraphs = [r["text"] for r in read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl")]
    text = " ".join(paragraphs)
    return (text + " ") * (1_000_000 // len(text) + 1)


@pytest.fixture(scope="module")
def minilm(minilm_path: Path) -> Encoder:
    return Encoder(minilm_path, device="cpu")


@pytest.fixture(scope="module")
def utu(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, device="cpu", max_length=512)


@pytest.fixture(scope="module")
def utu_count(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, device="cpu", max_length=512, prefix_mask="count")


@pytest.mark.parametrize("name", ["minilm", "utu", "utu_count"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_precut_rows_equal_whole_text_tokenisation(name: str, side: str, request, corpus_text: str) -> None:
    enc: Encoder = request.getfixturevalue(name)
    texts = [
        corpus_text[:30_000],
        corpus_text[777:20_000],  # starts mid-word
        corpus_text[:3000],  # a few times max_length for MiniLM, under the budget for utu
        "Short text.",
        "x" * 20_000,  # one 20k-character word: no safe cut, tokenised whole
        "数字 0123456789" * 1000,
    ]
    ref = _whole_text_reference(enc)
    for prefix in PREFIXES:
        got = enc.tokenize_rows(texts, prefix=prefix, side=side, return_offsets=True)
        want = ref.tokenize_rows(texts, prefix=prefix, side=side, return_offsets=True)
        assert got.ids == want.ids
        assert got.skips == want.skips
        assert got.offsets == want.offsets
        assert max(got.lengths) == enc.max_length


@pytest.mark.parametrize(("name", "side"), [("minilm", "right"), ("utu", "left")])
def test_a_million_characters_cut_like_the_tokenizer_truncates(name: str, side: str, request, corpus_text: str) -> None:
    """Independently of the encoder's code: the tokenizer's own truncation of the whole 1M-character string."""
    enc: Encoder = request.getfixturevalue(name)
    million = corpus_text[:1_000_000]
    tokenizer = copy.deepcopy(enc.tokenizer)
    tokenizer.truncation_side = side
    expected = tokenizer(PREFIXES[1] + million, truncation=True, max_length=enc.max_length)["input_ids"]
    assert enc.tokenize_rows([million], prefix=PREFIXES[1], side=side).ids[0] == expected


@pytest.mark.parametrize("side", ["right", "left"])
def test_a_million_characters_are_not_tokenised_whole(utu: Encoder, corpus_text: str, side: str) -> None:
    enc = copy.copy(utu)
    enc.loaded = copy.copy(utu.loaded)
    recorder = RecordingTokenizer(utu.tokenizer)
    enc.loaded.tokenizer = recorder
    rows = enc.tokenize_rows([corpus_text[:1_000_000]], prefix=PREFIXES[2], side=side)
    assert len(rows.ids[0]) == enc.max_length
    assert 0 < recorder.longest <= 2 * (len(PREFIXES[2]) + enc.max_length * enc._chars_per_token())
    # and encode() goes through the same path
    vector = enc.encode(corpus_text[:1_000_000], prompt=PREFIXES[2])
    assert vector.shape == (enc.dimension,) and recorder.longest < 100_000


def test_truncate_false_still_refuses_and_keep_long_keeps(minilm: Encoder, corpus_text: str) -> None:
    from youtu_embedding.core.errors import InputTooLongError

    text = corpus_text[:5000]
    with pytest.raises(InputTooLongError, match=r"texts\[1\]"):
        minilm.tokenize_rows(["short", text], truncate=False)
    whole = minilm.tokenize_rows([text], keep_long=True)
    assert whole.ids[0] == minilm.tokenizer(text)["input_ids"] and len(whole.ids[0]) > minilm.max_length
    assert (whole.lead, whole.trail) == (1, 1)


@pytest.mark.parametrize("name", ["minilm", "utu"])
def test_row_steps_are_what_encode_runs(name: str, request, stsb_sentences: list[str]) -> None:
    enc: Encoder = request.getfixturevalue(name)
    texts = stsb_sentences[:40]
    prefix = enc.resolve_prefix(prompt_name="query") if "query" in enc.prompts else "query: "
    expected = enc.encode(texts, prompt=prefix, truncate_dim=32, batch_size=8)
    rows = enc.tokenize_rows(texts, prefix=prefix)
    out = np.empty_like(expected)
    for batch in enc.plan_batches(rows, batch_size=8):
        part = rows.select(batch)
        out[batch] = enc.finish_rows(enc.pool_rows(part.ids, part.skips), truncate_dim=32)
    np.testing.assert_array_equal(out, expected)
    # finish_rows quantises like encode (on the finished float rows)
    np.testing.assert_array_equal(
        enc.finish_rows(out, normalize=False, precision="binary"),
        enc.encode(texts, prompt=prefix, truncate_dim=32, batch_size=8, precision="binary"),
    )


def test_pool_spans_pools_any_token_span(utu: Encoder, stsb_sentences: list[str]) -> None:
    rows = utu.tokenize_rows(stsb_sentences[:4], prefix=utu.prompts["query"])
    whole = utu.pool_rows(rows.ids, rows.skips)
    spans = [(i, rows.skips[i], len(rows.ids[i])) for i in range(4)]
    torch.testing.assert_close(utu.pool_spans(rows.ids, spans), whole)
    halves = utu.pool_spans(rows.ids, [(0, 1, 5), (0, 5, len(rows.ids[0]))])
    assert halves.shape == (2, utu.dimension)
    hidden, _ = utu.token_states(rows.ids)
    torch.testing.assert_close(halves[0], hidden[0, 1:5].float().mean(0))  # mean pooling of tokens 1..4
    from youtu_embedding.core.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=r"spans\[0\]"):
        utu.pool_spans(rows.ids, [(0, 3, 3)])


@pytest.fixture(scope="module")
def lower_case_utu(tmp_path_factory: pytest.TempPathFactory, stsb_sentences: list[str]) -> Encoder:
    """A `utu` checkpoint (case-sensitive BPE) whose sentence-transformers config says do_lower_case."""
    import json

    from youtu_embedding.core.templates import YOUTU_RELEASE_PROMPTS
    from youtu_embedding.core.testing import make_tiny_utu, write_sentence_transformers_config

    path = make_tiny_utu(tmp_path_factory.mktemp("lower-utu"), texts=stsb_sentences)
    write_sentence_transformers_config(path, prompts=dict(YOUTU_RELEASE_PROMPTS), include_prompt=False)
    cfg = path / "sentence_bert_config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "do_lower_case": True}))
    return Encoder(path, device="cpu")


def test_token_pieces_are_the_embedded_ids_with_do_lower_case(lower_case_utu: Encoder) -> None:
    enc = lower_case_utu
    text = "He drove to the STADIUM."
    prefix = enc.prompts["query"]
    pieces = enc.token_pieces(text, prefix=prefix)
    assert [p.id for p in pieces] == enc.tokenize(text, prompt=prefix)[0]
    assert [p.id for p in pieces] != enc.tokenizer(prefix + text)["input_ids"]  # the case mattered
    pooled = [p for p in pieces if p.pooled]
    assert "".join(p.text for p in pooled).strip() == text  # spans shown in the input's own case
    assert pieces[0].special and not pieces[0].pooled
    plain = enc.token_pieces(text, add_special_tokens=False)
    assert [p.id for p in plain] == enc.tokenize(text)[0][1:]
