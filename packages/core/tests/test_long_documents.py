"""Long inputs (windows + combination) and late/naive chunking against hand computations, on real
XQuAD articles with all-MiniLM-L6-v2 and the tiny `utu` (whose query prompt is excluded from pooling)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from youtu_embedding.core import Encoder, InputTooLongError, InvalidArgumentError
from youtu_embedding.core.chunking import Chunker, plan_windows, token_owners
from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.plugins import get_registry, reset_registry
from youtu_embedding.core.testing import read_jsonl


@pytest.fixture(scope="module")
def articles(data_dir: Path) -> list[list[str]]:
    """The paragraphs of each XQuAD article (grouped by title, corpus order)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for row in read_jsonl(data_dir / "eval" / "retrieval" / "xquad-en" / "corpus.jsonl"):
        grouped[row["title"]].append(row["text"])
    return list(grouped.values())[:3]


@pytest.fixture(scope="module")
def minilm(minilm_path: Path) -> Encoder:
    return Encoder(minilm_path, device="cpu")


@pytest.fixture(scope="module")
def utu(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, device="cpu", dtype="float32")


def _split_head_body_tail(enc: Encoder, prefix: str, text: str) -> tuple[list[int], list[int], list[int]]:
    """Leading specials + prefix, text tokens, trailing specials of prefix + text (by offsets)."""
    out = enc.tokenizer(prefix + text, return_offsets_mapping=True, return_special_tokens_mask=True)
    ids, special, offsets = out["input_ids"], out["special_tokens_mask"], out["offset_mapping"]
    head = next(j for j, (s, (_, e)) in enumerate(zip(special, offsets, strict=True)) if not s and e > len(prefix))
    tail = len(ids)
    while special[tail - 1]:
        tail -= 1
    return ids[:head], ids[head:tail], ids[tail:]


def _states(enc: Encoder, row: list[int]) -> torch.Tensor:
    hidden, _ = enc.token_states([row])
    return hidden[0].float()


def test_windows_and_owners_by_hand() -> None:
    assert plan_windows(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert plan_windows(9, 4, 0) == [(0, 4), (4, 8), (8, 9)]
    assert plan_windows(3, 4, 2) == [(0, 3)]
    # token 3 is the last of window 0 and the first of window 1 (room 0 in both): the earlier wins;
    # token 4 has room 1 in window 1 only
    owners = token_owners([(0, 4), (3, 7), (6, 10)], 10)
    assert [w for w, _ in owners] == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert owners[4] == (1, 1)


@pytest.mark.parametrize(
    ("model", "prompt", "max_length", "overlap"), [("minilm", "", 64, 0), ("utu", "query", 100, 5)]
)
def test_chunk_mode_equals_hand_computation(
    request, articles, model: str, prompt: str, max_length: int, overlap: int
) -> None:
    enc: Encoder = request.getfixturevalue(model)
    prefix = enc.prompts.get(prompt, "") if prompt else ""
    text = "\n\n".join(articles[0])
    head, body, tail = _split_head_body_tail(enc, prefix, text)
    capacity = max_length - len(head) - len(tail)
    assert capacity > overlap
    skip = 0 if enc.include_prompt else len(head)
    weighted, total, start = torch.zeros(enc.dimension), 0, 0
    while True:  # windows by hand: head + body[start:start+capacity] + tail
        row = head + body[start : start + capacity] + tail
        pooled_tokens = _states(enc, row)[skip:]
        weighted += pooled_tokens.mean(dim=0) * len(pooled_tokens)
        total += len(pooled_tokens)
        if start + capacity >= len(body):
            break
        start += capacity - overlap
    expected = F.normalize(weighted / total, dim=0).numpy()
    got = enc.encode(text, prompt=prefix, long_inputs="chunk", max_length=max_length, overlap=overlap)
    assert start > 0  # several windows
    np.testing.assert_allclose(got, expected, atol=2e-5)
    if not enc.include_prompt:  # the prefix is excluded: a different prefix changes the vector only through attention
        assert skip == len(head) > 1


@pytest.mark.parametrize("model", ["minilm", "utu"])
def test_text_that_fits_is_unchanged(request, articles, model: str) -> None:
    enc: Encoder = request.getfixturevalue(model)
    texts = [p[:300] for p in articles[1]]
    for kwargs in ({}, {"prompt_name": "query"} if "query" in enc.prompts else {"prompt": "query: "}):
        np.testing.assert_array_equal(enc.encode(texts, long_inputs="chunk", **kwargs), enc.encode(texts, **kwargs))


def test_long_input_modes_and_errors(minilm: Encoder, articles) -> None:
    text = "\n\n".join(articles[0])
    with pytest.raises(InputTooLongError) as err:
        minilm.encode([text], long_inputs="error")
    assert err.value.argument == "texts[0]"
    np.testing.assert_array_equal(minilm.encode([text], long_inputs="truncate"), minilm.encode([text]))
    for kwargs, argument in (
        ({"long_inputs": "split"}, "long_inputs"),
        ({"long_inputs": "truncate", "truncate": False}, "long_inputs"),
        ({"long_inputs": "chunk", "overlap": 300}, "overlap"),
        ({"long_inputs": "chunk", "overlap": -1}, "overlap"),
        ({"long_inputs": "chunk", "max_length": 2}, "max_length"),
    ):
        with pytest.raises(InvalidArgumentError) as err:
            minilm.encode([text], **kwargs)
        assert err.value.argument == argument, kwargs


def _late_by_hand(enc: Encoder, text: str, spans, max_length: int, overlap: int) -> np.ndarray:
    """Chunk vectors from token_states: windows, each token's state from its most central window, mean per span."""
    head, body, tail = _split_head_body_tail(enc, "", text)
    offsets = enc.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    assert len(offsets) == len(body)
    capacity = max_length - len(head) - len(tail)
    windows, start = [], 0
    while True:
        windows.append((start, min(start + capacity, len(body))))
        if start + capacity >= len(body):
            break
        start += capacity - overlap
    states = [_states(enc, head + body[a:b] + tail) for a, b in windows]
    token_state = []
    for t in range(len(body)):
        rooms = [(min(t - a, b - 1 - t), -w) for w, (a, b) in enumerate(windows) if a <= t < b]
        w = -max(rooms)[1]
        token_state.append(states[w][len(head) + t - windows[w][0]])
    out = []
    for s, e in spans:
        members = [token_state[j] for j, (ts, te) in enumerate(offsets) if ts < e and te > s]
        out.append(F.normalize(torch.stack(members).mean(dim=0), dim=0).numpy())
    return np.stack(out)


@pytest.mark.parametrize(("max_length", "overlap"), [(512, 0), (96, 24)])
def test_late_chunks_equal_pooling_spans_by_hand(minilm: Encoder, articles, max_length: int, overlap: int) -> None:
    text = "\n\n".join(articles[2][:2]) if max_length == 512 else "\n\n".join(articles[2])
    [doc] = minilm.encode_chunks([text], chunker="sentences", max_length=max_length, overlap=overlap)
    assert len(doc) > 3
    np.testing.assert_allclose(doc.embeddings, _late_by_hand(minilm, text, doc.spans, max_length, overlap), atol=2e-5)


def test_naive_chunks_are_chunks_embedded_alone(utu: Encoder, articles) -> None:
    text = "\n\n".join(articles[0])
    [naive] = utu.encode_chunks(text, chunker="paragraphs", late=False)
    [late] = utu.encode_chunks(text, chunker="paragraphs", late=True)
    assert naive.spans == late.spans and naive.texts == articles[0]
    np.testing.assert_allclose(naive.embeddings, utu.encode_documents(articles[0]), atol=2e-5)
    assert not np.allclose(naive.embeddings, late.embeddings, atol=1e-3)  # context changes the vectors


@pytest.mark.parametrize(
    ("chunker", "options"),
    [("paragraphs", {}), ("paragraphs", {"per_chunk": 2}), ("sentences", {}), ("tokens", {"size": 40, "overlap": 8})],
)
def test_chunk_spans_round_trip(minilm: Encoder, articles, chunker: str, options: dict) -> None:
    text = "\n\n".join(articles[1])
    [doc] = minilm.encode_chunks([text], chunker=chunker, chunker_options=options)
    assert doc.embeddings.shape == (len(doc), minilm.dimension)
    assert doc.texts == [text[a:b] for a, b in doc.spans]
    assert all(t == t.strip() and t for t in doc.texts)
    if chunker == "tokens":
        assert all(n <= 40 + 1 for n in doc.tokens)  # a token straddling a window edge may count in both
    else:  # disjoint, in order, and only whitespace between consecutive chunks
        ends = [0] + [b for _, b in doc.spans]
        starts = [a for a, _ in doc.spans] + [len(text)]
        assert all(not text[e:s].strip() and e <= s for e, s in zip(ends, starts, strict=True))
    if chunker == "paragraphs" and not options:
        assert doc.texts == articles[1]


def test_bad_chunker_options_name_the_field(minilm: Encoder) -> None:
    cases = [
        ({"chunker": "nope"}, "chunker"),
        ({"chunker": "tokens", "chunker_options": {"size": 0}}, "chunker_options.size"),
        ({"chunker": "tokens", "chunker_options": {"size": 4, "overlap": 4}}, "chunker_options.overlap"),
        ({"chunker": "tokens", "chunker_options": {"width": 4}}, "chunker_options.width"),
        ({"chunker": "sentences", "chunker_options": {"per_chunk": "2"}}, "chunker_options.per_chunk"),
        ({"chunker": "sentences", "chunker_options": [1]}, "chunker_options"),
    ]
    for kwargs, argument in cases:
        with pytest.raises(InvalidArgumentError) as err:
            minilm.encode_chunks(["One sentence. Two sentences."], **kwargs)
        assert err.value.argument == argument, kwargs
    with pytest.raises(InvalidArgumentError) as err:
        minilm.encode_chunks(["fine", "  "])
    assert err.value.argument == "documents[1]"


class _EveryWord:
    @hookimpl
    def register_chunkers(self) -> list[Chunker]:
        def split(text: str, token_offsets: list, *, stride: int = 1) -> list[tuple[int, int]]:
            import re

            return [m.span() for m in re.finditer(r"\S+", text)][::stride]

        return [Chunker("words", split, "every word")]


def test_a_plugin_chunker_is_used_by_name(minilm: Encoder) -> None:
    registry = reset_registry()
    try:
        assert registry.register(_EveryWord(), name="words-plugin")
        [doc] = minilm.encode_chunks(["late chunking works"], chunker="words", chunker_options={"stride": 2})
        assert doc.texts == ["late", "works"]
        assert "words" in get_registry().collect("register_chunkers")
    finally:
        reset_registry()


def test_example_plugin_markdown_sections(minilm: Encoder, articles) -> None:
    pytest.importorskip("youtu_embedding_example_plugin")
    text = "# One\n\n" + articles[0][0] + "\n\n## Two\n\n" + articles[0][1] + "\n\n### Three\n\nend."
    [doc] = minilm.encode_chunks([text], chunker="markdown-sections")
    assert [t.split("\n", 1)[0] for t in doc.texts] == ["# One", "## Two", "### Three"]
    [doc] = minilm.encode_chunks([text], chunker="markdown-sections", chunker_options={"max_level": 1})
    assert len(doc) == 1 and doc.texts == [text.strip()]
    with pytest.raises(InvalidArgumentError) as err:
        minilm.encode_chunks([text], chunker="markdown-sections", chunker_options={"max_level": 0})
    assert err.value.argument == "chunker_options.max_level"
