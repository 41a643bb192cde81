"""The model side of the service: tokenisation, forward passes and post-processing of one encoder.

The scheduler batches rows of token ids from many requests; this module turns texts into those
rows (with the same prefix handling as :meth:`Encoder.encode`), runs a batch through the network
and finishes a request's rows exactly as the core does (truncate dimensions, then normalise).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from youtu_embedding.core import Encoder
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.rows import TokenPiece

RIGHT, LEFT = "right", "left"
#: Characters per token assumed when a non-truncating request's input is checked against
#: ``max_input_length`` on its head only (see :meth:`Engine.check_length`).
HEAD_CHARS_PER_TOKEN = 32


@dataclass
class Tokenized:
    """Token rows of one request: ids per input, leading tokens that pooling skips, character count."""

    ids: list[list[int]]
    skips: list[int]
    chars: int = 0
    tokenization_ns: int = 0

    @property
    def tokens(self) -> int:
        return sum(len(r) for r in self.ids)


@dataclass
class TokenizedText:
    """The tokens of one input, for the Tokenize RPCs (see :meth:`Encoder.token_pieces`)."""

    tokens: list[TokenPiece] = field(default_factory=list)


def _field(argument: str, field_name: str) -> str:
    """Rename the core's ``texts[i]`` into the wire field name (``inputs[i]``)."""
    return field_name + argument[len("texts") :] if argument.startswith("texts") else argument


class Engine:
    """An :class:`Encoder` plus the per-row operations the scheduler needs.

    ``tokenize``, ``tokens`` and ``decode`` must run on one thread at a time per engine
    (transformers' fast tokenizers mutate their truncation state per call): each tokenizer thread
    uses its own :meth:`worker_copy`; ``forward_*`` run on the inference threads.
    """

    def __init__(
        self, encoder: Encoder, *, max_input_length: int | None = None, max_document_tokens: int | None = None
    ) -> None:
        self.encoder = encoder
        model_max = encoder.max_length
        if max_input_length is not None and max_input_length > model_max:
            raise InvalidArgumentError(
                "max_input_length", f"{max_input_length} is larger than the model's maximum length {model_max}"
            )
        self.max_input_length = max_input_length or model_max
        # whole inputs cut into windows (long inputs, chunking) may be this long in all
        self.max_document_tokens = max_document_tokens or 16 * self.max_input_length
        self.dimension = encoder.dimension

    def worker_copy(self) -> Engine:
        """An engine for another tokenizer thread: the same model, its own copy of the tokenizer."""
        encoder = copy.copy(self.encoder)
        encoder.loaded = dataclasses.replace(self.encoder.loaded, tokenizer=copy.deepcopy(self.encoder.tokenizer))
        clone = copy.copy(self)
        clone.encoder = encoder
        return clone

    def check_length(self, texts: list[str], prefix: str, field_name: str = "inputs", *, indexed: bool = True) -> None:
        """Reject an input over ``max_input_length`` tokens without tokenising all of a huge one.

        For a request that does not truncate. An input longer than ``HEAD_CHARS_PER_TOKEN`` characters
        per allowed token is checked on its head (cut at a space, so the head's words are a prefix of
        the whole input's words and tokenise to no more tokens than it): when the head alone has too
        many tokens the input is rejected at once; otherwise the caller tokenises it all as usual.
        """
        limit = self.max_input_length
        head_chars = limit * HEAD_CHARS_PER_TOKEN
        tok = self.encoder.tokenizer
        for i, text in enumerate(texts):
            if len(prefix) + len(text) <= head_chars:
                continue
            cut = text.rfind(" ", 0, head_chars)
            if cut <= 0:
                continue
            head = prefix + text[:cut]
            count = len(tok(head, add_special_tokens=True, truncation=False, verbose=False)["input_ids"])
            if count > limit:
                name = f"{field_name}[{i}]" if indexed else field_name
                raise InvalidArgumentError(
                    name,
                    f"has at least {count} tokens (counted in its first {cut} of {len(text)} characters), more than "
                    f"max_input_length={limit}, and truncation is off (send truncate=true to cut it)",
                )

    # -- request validation --------------------------------------------------------------------
    def resolve_prefix(
        self, *, prompt_name: str | None = None, instruction: str | None = None, template: str | None = None
    ) -> str:
        """The text prefix of a request (a model prompt or a rendered instruction)."""
        return self.encoder.resolve_prefix(prompt_name=prompt_name, instruction=instruction, template=template)

    def check_dimensions(self, dimensions: int | None, field_name: str = "dimensions") -> int:
        """The output dimension of a request (``None``: the model's)."""
        if dimensions is None:
            return self.dimension
        if dimensions <= 0 or dimensions > self.dimension:
            raise InvalidArgumentError(
                field_name, f"must be between 1 and the model dimension {self.dimension}, got {dimensions}"
            )
        return dimensions

    @staticmethod
    def check_inputs(texts: list[str], field_name: str = "inputs", limit: int | None = None) -> None:
        """Reject an empty list, too many inputs, and empty or whitespace-only texts."""
        if not texts:
            raise InvalidArgumentError(field_name, "is empty; send at least one input")
        if limit is not None and len(texts) > limit:
            raise InvalidArgumentError(field_name, f"has {len(texts)} inputs, more than max_client_batch_size={limit}")
        for i, text in enumerate(texts):
            if not text.strip():
                name = f"{field_name}[{i}]" if len(texts) > 1 or field_name.endswith("s") else field_name
                raise InvalidArgumentError(name, "is empty or whitespace only; empty texts have no tokens to embed")

    # -- tokenisation (tokenizer thread) ---------------------------------------------------------
    def tokenize(
        self, texts: list[str], prefix: str, *, truncate: bool, direction: str = RIGHT, field_name: str = "inputs"
    ) -> Tokenized:
        """Token ids of ``prefix + text`` per text and the leading tokens pooling skips."""
        max_length = self.max_input_length
        if not truncate:
            self.check_length(texts, prefix, field_name)
        try:
            rows = self.encoder.tokenize_rows(
                texts, prefix=prefix, max_length=max_length, truncate=truncate, side=direction
            )
        except InvalidArgumentError as exc:
            message = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
            message = message.replace("max_length=", "max_input_length=").replace("truncate=True", "truncate=true")
            raise InvalidArgumentError(_field(exc.argument, field_name), message) from None
        return Tokenized(rows.ids, rows.skips, chars=sum(len(prefix) + len(t) for t in texts))

    def tokens(self, text: str, prefix: str, *, add_special_tokens: bool, truncate: bool) -> TokenizedText:
        """Every token of ``prefix + text`` with its piece, character offsets and pooling flag.

        Without ``truncate`` an input over ``max_input_length`` tokens is rejected (INVALID_ARGUMENT).
        The ids are those Embed uses (lower-cased for ``do_lower_case`` models): :meth:`Encoder.token_pieces`.
        """
        if not truncate:
            self.check_length([text], prefix, indexed=False)
        try:
            pieces = self.encoder.token_pieces(
                text,
                prefix=prefix,
                add_special_tokens=add_special_tokens,
                truncate=truncate,
                max_length=self.max_input_length,
            )
        except InvalidArgumentError as exc:
            message = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
            raise InvalidArgumentError(_field(exc.argument, "inputs"), message) from None
        if not truncate and len(pieces) > self.max_input_length:
            raise InvalidArgumentError(
                "inputs",
                f"has {len(pieces)} tokens, more than max_input_length={self.max_input_length}; "
                "a longer input cannot be embedded untruncated either",
            )
        return TokenizedText(pieces)

    def decode(self, ids: list[int], *, skip_special_tokens: bool) -> str:
        """Text of token ids (ids outside the vocabulary are rejected, naming the position)."""
        vocab = len(self.encoder.tokenizer)
        for i, token_id in enumerate(ids):
            if token_id >= vocab:
                raise InvalidArgumentError(f"ids[{i}]", f"{token_id} is outside the vocabulary (size {vocab})")
        return str(self.encoder.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens))

    # -- inference (inference thread) --------------------------------------------------------------
    def forward_pooled(self, rows: list[list[int]], skips: list[int]) -> np.ndarray:
        """Pooled float32 vectors (n, dimension) of a batch: the core's own forward + pooling."""
        return self.encoder.pool_rows(rows, skips).cpu().numpy()

    def forward_tokens(self, rows: list[list[int]]) -> list[np.ndarray]:
        """Last-layer hidden state of every (non-padding) token of each row, float32."""
        hidden, _ = self.encoder.token_states(rows)
        states = hidden.float().cpu().numpy()
        return [states[i, : len(row)].copy() for i, row in enumerate(rows)]

    # -- post-processing ------------------------------------------------------------------------------
    def finish(self, pooled: np.ndarray, *, dimensions: int, normalize: bool | None) -> np.ndarray:
        """Truncate to ``dimensions`` then L2-normalise (``None``: the model's setting), as the core does."""
        return self.encoder.finish_rows(pooled, truncate_dim=dimensions, normalize=normalize)

    def warmup(self, *, max_batch_tokens: int, max_batch_requests: int) -> float:
        """Run a short batch and a batch at the largest allowed shape, so memory reaches steady state.

        Returns the seconds per padded token of the large batch (an upper bound: it includes first-call
        costs), the scheduler's first estimate for cutting batches to its time slice.
        """
        tok = self.encoder.tokenizer
        unit = tok("warm up the model", add_special_tokens=False)["input_ids"] or [0]
        length = min(self.max_input_length, max(8, max_batch_tokens // max(1, max_batch_requests)))
        row = (unit * (length // len(unit) + 1))[:length]
        self.forward_pooled([row[:8]], [0])
        n = max(1, min(max_batch_requests, max_batch_tokens // length))
        start = time.perf_counter()
        self.forward_pooled([row] * n, [0] * n)
        return (time.perf_counter() - start) / (n * length)

    def info(self) -> dict[str, Any]:
        """The encoder's description (see :meth:`Encoder.info`)."""
        return self.encoder.info()
