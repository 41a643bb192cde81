"""Long documents: chunkers (plugins), token windows over an over-length input, and how window
results are combined.

Rules (documented in docs/long-documents.md):

* **Windows.** A tokenised input is ``head + body + tail``: ``head`` the leading special tokens and
  the instruction prefix, ``tail`` the trailing special tokens, ``body`` the text's own tokens.
  An input longer than ``max_length`` is cut into windows ``head + body[a:b] + tail`` of at most
  ``max_length`` tokens; consecutive windows share ``overlap`` body tokens. Each window is pooled
  as a normal input would be (the prefix excluded when the encoder excludes it).
* **One vector** (``long_inputs="chunk"``): the mean of the window vectors weighted by how many
  tokens each pooled, then the encoder's ``truncate_dim`` and normalisation. With ``mean`` pooling
  and no overlap this equals mean pooling over every pooled token of every window.
* **Late chunking**: every body token takes its hidden state from the window where it sits
  farthest from a window edge (most context; ties go to the earlier window). A chunk is the set of
  body tokens whose character span overlaps the chunk's characters; its vector is the encoder's
  pooling over those tokens.

A chunker is a :class:`Chunker`: a function ``split(text, token_offsets, **options)`` returning
``(start, end)`` character spans of ``text``. ``token_offsets`` are the character spans of the
text's tokens as the encoder's tokenizer cuts them (no special or prefix tokens), for chunkers that
count tokens. Chunkers are registered by the ``register_chunkers`` hook.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from youtu_embedding.core.errors import InvalidArgumentError

if TYPE_CHECKING:  # torch and numpy are imported where used: chunker plugins load when the CLI app is built
    import numpy as np
    import torch

Span = tuple[int, int]
SplitFn = Callable[..., list[Span]]

LONG_INPUTS = ("truncate", "error", "chunk")


@dataclass(frozen=True)
class Chunker:
    """A named way to cut a document into chunks.

    Attributes:
        name: registry name (``Encoder.encode_chunks(chunker=name)``, ``--chunker name``).
        split: ``split(text, token_offsets, **options) -> [(start, end), ...]``, character spans
            of ``text`` with ``0 <= start < end <= len(text)``. Keyword-only parameters with
            defaults are the chunker's options; raise ``InvalidArgumentError`` naming
            ``chunker_options.<name>`` for a bad value (see :func:`positive_option`).
        description: one line for ``youtu-embed plugins``.
    """

    name: str
    split: SplitFn
    description: str = ""

    @property
    def options(self) -> dict[str, Any]:
        """The options the chunker takes, with their defaults."""
        params = inspect.signature(self.split).parameters.values()
        return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def positive_option(name: str, value: Any, *, minimum: int = 1) -> int:
    """Check a chunker's integer option; errors name ``chunker_options.<name>``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgumentError(f"chunker_options.{name}", f"must be an integer >= {minimum}, got {value!r}")
    return value


def get_chunker(name: str) -> Chunker:
    """The chunker registered as ``name`` (built-in or plugin); errors list the registered ones."""
    if not isinstance(name, str):
        raise InvalidArgumentError("chunker", f"must be a chunker name, got {type(name).__name__}")
    items = _chunkers()
    if name not in items:
        raise InvalidArgumentError("chunker", f"unknown chunker '{name}'", sorted(items))
    return items[name]


def available_chunkers() -> list[str]:
    """Names of every registered chunker."""
    return sorted(_chunkers())


def _chunkers() -> dict[str, Chunker]:
    from youtu_embedding.core.plugins import get_registry

    found = {name: item for name, (_, item) in get_registry().collect("register_chunkers").items()}
    if not found:  # installed metadata older than the built-in chunkers' entry point
        from youtu_embedding.core.builtins.chunkers import BUILTIN_CHUNKERS

        found = {c.name: c for c in BUILTIN_CHUNKERS}
    return found


def check_chunker_options(chunker: Chunker, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Reject options the chunker does not take (``chunker_options.<key>``), naming the allowed ones."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InvalidArgumentError("chunker_options", f"must be a mapping, got {type(options).__name__}")
    allowed = chunker.options
    for key in options:
        if key not in allowed:
            raise InvalidArgumentError(
                f"chunker_options.{key}", f"is not an option of chunker '{chunker.name}'", sorted(allowed)
            )
    return dict(options)


def split_document(
    chunker: Chunker, text: str, token_offsets: Sequence[Span], options: Mapping[str, Any], field_name: str
) -> list[Span]:
    """Run a chunker on one document and check what it returned (errors name ``field_name``)."""
    spans = chunker.split(text, list(token_offsets), **options)
    if not isinstance(spans, list) or not spans:
        raise InvalidArgumentError(field_name, f"chunker '{chunker.name}' returned no chunks")
    out: list[Span] = []
    for k, span in enumerate(spans):
        try:
            start, end = int(span[0]), int(span[1])
        except (TypeError, ValueError, IndexError):
            raise InvalidArgumentError(
                field_name, f"chunker '{chunker.name}' returned {span!r} for chunk {k}, not (start, end)"
            ) from None
        if not 0 <= start < end <= len(text):
            raise InvalidArgumentError(
                field_name,
                f"chunker '{chunker.name}' returned span ({start}, {end}) for chunk {k}, "
                f"outside the text's {len(text)} characters or empty",
            )
        out.append((start, end))
    return out


# -- windows --------------------------------------------------------------------------------------


def plan_windows(body: int, capacity: int, overlap: int = 0) -> list[Span]:
    """Body-token ranges ``[a, b)`` of the windows: at most ``capacity`` tokens, ``overlap`` shared.

    The last window ends at ``body``; a body that fits gives one window ``(0, body)``.
    """
    if capacity <= 0:
        raise ValueError(f"capacity must be positive, got {capacity}")
    if not 0 <= overlap < capacity:
        raise ValueError(f"overlap must be in [0, {capacity}), got {overlap}")
    if body <= capacity:
        return [(0, body)]
    stride = capacity - overlap
    windows = []
    start = 0
    while True:
        stop = min(start + capacity, body)
        windows.append((start, stop))
        if stop == body:
            return windows
        start += stride


def combine_windows(pooled: torch.Tensor, counts: Sequence[int]) -> torch.Tensor:
    """One vector from window vectors ``(W, D)``: their mean weighted by pooled-token ``counts``."""
    import torch

    weights = torch.tensor(counts, dtype=pooled.dtype, device=pooled.device).unsqueeze(1)
    return (pooled * weights).sum(dim=0) / weights.sum()


def token_owners(windows: Sequence[Span], body: int) -> list[tuple[int, int]]:
    """For each body token: (window index, position in that window's body) it takes its state from.

    The window where the token is farthest from an edge (``min(t - a, b - 1 - t)``); ties go to the
    earlier window.
    """
    owners: list[tuple[int, int]] = []
    for t in range(body):
        best, best_room = -1, -1
        for w, (a, b) in enumerate(windows):
            if a <= t < b:
                room = min(t - a, b - 1 - t)
                if room > best_room:
                    best, best_room = w, room
        owners.append((best, t - windows[best][0]))
    return owners


def chunk_token_mask(spans: Sequence[Span], token_offsets: Sequence[Span], field_name: str) -> torch.Tensor:
    """``(chunks, tokens)`` boolean mask: token j is in chunk c when their character spans overlap."""
    import torch

    starts = torch.tensor([s for s, _ in token_offsets], dtype=torch.long)
    ends = torch.tensor([e for _, e in token_offsets], dtype=torch.long)
    c_start = torch.tensor([s for s, _ in spans], dtype=torch.long).unsqueeze(1)
    c_end = torch.tensor([e for _, e in spans], dtype=torch.long).unsqueeze(1)
    mask = (starts.unsqueeze(0) < c_end) & (ends.unsqueeze(0) > c_start)
    empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
    if empty:
        s, e = spans[empty[0]]
        raise InvalidArgumentError(field_name, f"chunk {empty[0]} ({s}, {e}) covers no token of the text")
    return mask


@dataclass
class ChunkedDocument:
    """The chunks of one document and their vectors.

    Attributes:
        embeddings: ``(chunks, dim)`` float32 (or the requested precision), in chunk order.
        spans: ``(start, end)`` character span of each chunk in the document.
        texts: each chunk's text, ``document[start:end]``.
        tokens: how many of the document's tokens each chunk pooled (late) or was given (naive).
    """

    embeddings: np.ndarray
    spans: list[Span] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.spans)


__all__ = [
    "LONG_INPUTS",
    "ChunkedDocument",
    "Chunker",
    "Span",
    "available_chunkers",
    "check_chunker_options",
    "chunk_token_mask",
    "combine_windows",
    "get_chunker",
    "plan_windows",
    "positive_option",
    "split_document",
    "token_owners",
]
