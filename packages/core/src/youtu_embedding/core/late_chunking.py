"""``Encoder.encode_chunks``: one vector per chunk of each document, late (pooled from the whole
document's token states) or naive (each chunk embedded alone). Rules: :mod:`youtu_embedding.core.chunking`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from youtu_embedding.core.batching import plan_batches
from youtu_embedding.core.chunking import (
    ChunkedDocument,
    Chunker,
    Span,
    check_chunker_options,
    chunk_token_mask,
    get_chunker,
    split_document,
)
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.long_inputs import WindowedText, late_chunk_vectors, plan_rows, window_texts
from youtu_embedding.core.pooling import get_pooling
from youtu_embedding.core.prompts import resolve_prefix

if TYPE_CHECKING:
    from youtu_embedding.core.encoder import Encoder

DEFAULT_CHUNKER = "paragraphs"
_PROBE = "Probe sentence. Another one."
_PROBE_OFFSETS = ((0, 5), (6, 14), (14, 15), (16, 23), (24, 27), (27, 28))


def resolve_chunker(chunker: str | Chunker, options: Mapping[str, Any] | None) -> tuple[Chunker, dict[str, Any]]:
    """The chunker object and its checked options (errors name ``chunker`` / ``chunker_options.<key>``)."""
    found = chunker if isinstance(chunker, Chunker) else get_chunker(chunker)
    checked = check_chunker_options(found, options)
    try:  # a dry run on a probe text checks the option values now, not in the middle of a job
        found.split(_PROBE, list(_PROBE_OFFSETS), **checked)
    except InvalidArgumentError:
        raise
    except Exception:  # a chunker may legitimately fail on the probe text; real texts decide
        pass
    return found, checked


def encode_chunks(
    encoder: Encoder,
    documents: Sequence[str] | str,
    *,
    chunker: str | Chunker = DEFAULT_CHUNKER,
    chunker_options: Mapping[str, Any] | None = None,
    late: bool = True,
    overlap: int = 0,
    prompt_name: str | None = None,
    prompt: str | None = None,
    instruction: str | None = None,
    task: str | None = None,
    template: str | None = None,
    batch_size: int | None = None,
    max_batch_tokens: int | None = None,
    max_length: int | None = None,
    normalize: bool | None = None,
    truncate_dim: int | None = None,
    pooling: str | None = None,
    show_progress: bool | None = None,
) -> list[ChunkedDocument]:
    """Chunk each document with ``chunker`` and embed every chunk.

    Args:
        documents: texts (a single string is one document).
        chunker: a registered chunker name (``tokens``, ``sentences``, ``paragraphs``, a plugin's)
            or a :class:`Chunker`.
        chunker_options: the chunker's options, e.g. ``{"size": 128}`` for ``tokens``.
        late: True: late chunking (one pass per document, chunk vectors pooled from its token
            states); False: naive chunking (each chunk embedded alone, as ``encode`` would).
        overlap: body tokens shared by consecutive windows of a document longer than max_length.
        prompt_name / prompt / instruction / task / template: the prefix, as for ``encode``;
            default: the model's document prompt. The prefix is attended to, never pooled into a chunk.
        max_length / batch_size / max_batch_tokens / normalize / truncate_dim / pooling /
            show_progress: as for ``encode``.
    """
    from youtu_embedding.core.encoder import _check_texts, _positive

    try:
        docs, _ = _check_texts(documents)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(
            exc.argument.replace("texts", "documents", 1), str(exc).split(": ", 1)[1].replace("texts", "documents")
        ) from None
    found, options = resolve_chunker(chunker, chunker_options)
    batch_size = encoder.batch_size if batch_size is None else batch_size
    max_batch_tokens = encoder.max_batch_tokens if max_batch_tokens is None else max_batch_tokens
    max_length = encoder.max_length if max_length is None else max_length
    for name, value in (("batch_size", batch_size), ("max_batch_tokens", max_batch_tokens), ("max_length", max_length)):
        _positive(name, value)
    if truncate_dim is not None:
        _positive("truncate_dim", truncate_dim)
        if truncate_dim > encoder.dimension:
            raise InvalidArgumentError(
                "truncate_dim", f"{truncate_dim} is larger than the model dimension {encoder.dimension}"
            )
    if not any(v is not None for v in (prompt_name, prompt, instruction, task)):
        prompt = encoder.prompts.get("document", encoder.prompts.get("passage", ""))
    prefix = resolve_prefix(
        encoder.prompts,
        prompt_name=prompt_name,
        prompt=prompt,
        instruction=instruction,
        task=task,
        template=template or encoder.template,
        default_prompt_name=encoder.default_prompt_name,
    )
    pool = encoder._pooling if pooling is None else get_pooling(pooling)
    normalize = encoder.normalize if normalize is None else normalize
    dim = truncate_dim or encoder.dimension
    items = window_texts(encoder, docs, prefix, max_length, overlap=overlap, need_offsets=True, field_name="documents")
    spans = [
        split_document(found, doc, item.offsets or [], options, f"documents[{i}]")
        for i, (doc, item) in enumerate(zip(docs, items, strict=True))
    ]
    masks = [
        chunk_token_mask(doc_spans, item.offsets or [], f"documents[{i}]")
        for i, (doc_spans, item) in enumerate(zip(spans, items, strict=True))
    ]
    if late:
        vectors = _late_vectors(encoder, items, spans, pool, batch_size, max_batch_tokens, show_progress)
    else:
        flat = [doc[a:b] for doc, doc_spans in zip(docs, spans, strict=True) for a, b in doc_spans]
        emb = encoder.encode(
            flat,
            prompt=prefix,
            long_inputs="chunk",
            overlap=overlap,
            max_length=max_length,
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            normalize=False,
            pooling=pooling,
            show_progress=show_progress,
        )
        bounds = np.cumsum([0] + [len(s) for s in spans])
        vectors = [torch.from_numpy(np.asarray(emb[bounds[i] : bounds[i + 1]])) for i in range(len(docs))]
    out = []
    for doc, doc_spans, doc_vectors, mask in zip(docs, spans, vectors, masks, strict=True):
        v = doc_vectors[:, :dim]
        if normalize:
            v = F.normalize(v, p=2, dim=-1)
        out.append(
            ChunkedDocument(
                embeddings=v.numpy().astype(np.float32, copy=False),
                spans=list(doc_spans),
                texts=[doc[a:b] for a, b in doc_spans],
                tokens=[int(n) for n in mask.sum(dim=1).tolist()],
            )
        )
    return out


def _groups(items: Sequence[WindowedText], budget: int) -> Iterator[list[int]]:
    """Consecutive documents whose rows hold about ``budget`` tokens (bounds the token states kept)."""
    group: list[int] = []
    tokens = 0
    for i, item in enumerate(items):
        group.append(i)
        tokens += sum(len(r) for r in item.rows)
        if tokens >= budget:
            yield group
            group, tokens = [], 0
    if group:
        yield group


def _late_vectors(
    encoder: Encoder,
    items: Sequence[WindowedText],
    spans: Sequence[Sequence[Span]],
    pool: Any,
    batch_size: int,
    max_batch_tokens: int,
    show_progress: bool | None,
) -> list[torch.Tensor]:
    """Unnormalised ``(chunks, D)`` vectors per document, documents run a group at a time."""
    vectors: list[torch.Tensor] = [torch.empty(0)] * len(items)
    disable = None if show_progress is None else not show_progress
    bar = tqdm(desc="Encoding", unit="doc", total=len(items), disable=disable)
    with bar:
        for group in _groups(items, 4 * max_batch_tokens):
            rows, _, where = plan_rows([items[i] for i in group])
            states: list[torch.Tensor] = [torch.empty(0)] * len(rows)
            for batch in plan_batches([len(r) for r in rows], batch_size, max_batch_tokens):
                hidden, _ = encoder.token_states([rows[b] for b in batch])
                for j, b in enumerate(batch):
                    states[b] = hidden[j, : len(rows[b])].float().cpu()
            start = 0
            for k, i in enumerate(group):
                n = len(items[i].rows)
                assert all(where[start + r][0] == k for r in range(n))
                vectors[i], _ = late_chunk_vectors(
                    items[i], states[start : start + n], spans[i], pool, f"documents[{i}]"
                )
                start += n
            bar.update(len(group))
    return vectors
