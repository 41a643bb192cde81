"""The :class:`Encoder`: texts in, embeddings out."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from youtu_embedding.core.batching import plan_batches, split_batches
from youtu_embedding.core.chunking import LONG_INPUTS, ChunkedDocument
from youtu_embedding.core.errors import InputTooLongError, InvalidArgumentError
from youtu_embedding.core.fastpaths import describe_fast_paths
from youtu_embedding.core.loading import LoadedModel, load_model
from youtu_embedding.core.modeling.utu.varlen import pack_rows, unpack_states
from youtu_embedding.core.pooling import PoolingStrategy, get_pooling
from youtu_embedding.core.prompts import (
    PREFIX_MASK_METHODS,
    TRUNCATION_SIDES,
    count_prefix_tokens,
    leading_special_tokens,
    offset_prefix_tokens,
    resolve_prefix,
)
from youtu_embedding.core.quantization import check_precision, quantize_embeddings
from youtu_embedding.core.rows import (
    MAX_CHARS_PER_TOKEN,
    TokenPiece,
    TokenRows,
    cut_is_safe_left,
    cut_is_safe_right,
    left_cut_point,
)
from youtu_embedding.core.runtimes import DEFAULT_RUNTIME, RuntimeModel, get_runtime, prepare_runtime
from youtu_embedding.core.similarity import SIMILARITY_FUNCTIONS, similarity
from youtu_embedding.core.streaming import NpyStreamWriter, chunked
from youtu_embedding.core.templates import get_template

T = TypeVar("T")
DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_BATCH_TOKENS = 16384
#: The sides of a retrieval pair, for :meth:`Encoder.resolve_prefix`.
SIDES = ("query", "document")


def _positive(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        raise InvalidArgumentError(name, f"must be a positive integer, got {value!r}")


def _check_texts(texts: Any) -> tuple[list[str], bool]:
    if isinstance(texts, str):
        texts, single = [texts], True
    elif texts is None:
        raise InvalidArgumentError("texts", "must be a string or a list of strings, got None")
    elif isinstance(texts, (list, tuple)) or (isinstance(texts, Sequence) and not isinstance(texts, bytes)):
        texts, single = list(texts), False
    else:
        raise InvalidArgumentError("texts", f"must be a string or a list of strings, got {type(texts).__name__}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidArgumentError(f"texts[{i}]", f"must be a string, got {type(text).__name__}")
        if not text.strip():
            raise InvalidArgumentError(
                f"texts[{i}]", "is empty or whitespace only; empty texts have no tokens to embed (filter them out)"
            )
    return texts, single


def _cut_left(
    ids: list[list[int]], specials: Any, offsets: Any, max_length: int
) -> tuple[list[list[int]], Any, Any, list[int]]:
    """Drop the tokens right after the leading special tokens of rows longer than ``max_length``."""
    out_ids: list[list[int]] = []
    out_specials: list[Any] = []
    out_offsets: list[Any] | None = [] if offsets is not None else None
    cuts: list[int] = []
    for i, row in enumerate(ids):
        spec = specials[i]
        off = offsets[i] if offsets is not None else None
        cut = max(0, len(row) - max_length)
        if cut:
            first = next((j for j, flag in enumerate(spec) if not flag), len(row))
            row, spec = row[:first] + row[first + cut :], spec[:first] + spec[first + cut :]
            off = off[:first] + off[first + cut :] if off is not None else None
        out_ids.append(row)
        out_specials.append(spec)
        if out_offsets is not None:
            out_offsets.append(off)
        cuts.append(cut)
    return out_ids, out_specials, out_offsets, cuts


def _long_inputs_mode(long_inputs: str | None, truncate: bool) -> str:
    if long_inputs is None:
        return "truncate" if truncate else "error"
    if long_inputs not in LONG_INPUTS:
        raise InvalidArgumentError("long_inputs", f"unknown mode {long_inputs!r}", LONG_INPUTS)
    if long_inputs == "truncate" and not truncate:
        raise InvalidArgumentError("long_inputs", "'truncate' contradicts truncate=False; give one of them")
    return long_inputs


class Encoder:
    """Embeds texts with a `utu` model, a Hugging Face encoder or a sentence-transformers model.

    Args:
        model: local directory, Hugging Face id (resolved through the Hub cache; offline mode is
            honoured) or a registered alias such as ``Youtu-RAG/Youtu-Embedding-V1``.
        device: ``"auto"`` (best available backend), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``...
        dtype: ``"auto"`` (the backend's default), ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        attention: ``"causal"`` or ``"bidirectional"`` for `utu` models; default: the checkpoint's
            ``is_causal``, and bidirectional when the checkpoint does not say (how it was trained).
        pooling: override the pooling strategy (default: the model's, else ``mean``).
        normalize: default L2 normalisation of outputs (default: the model's, else True).
        template: instruction template for ``instruction=``/``task=`` (default ``youtu``).
        prefix_mask: how instruction tokens are excluded from pooling: ``"offsets"`` (character
            offsets, needs a fast tokenizer) or ``"count"`` (token count of the prefix alone).
        include_prompt: pool over the prefix tokens too (default: the model's setting; `utu`: False).
        max_length: maximum tokens per input (default: the model's).
        batch_size / max_batch_tokens: default batch limits (items, padded tokens).
        trust_remote_code: allow a checkpoint's own Python code (off by default).
        allow_pickle: allow non-safetensors weights (loaded with ``weights_only``; off by default).
        num_threads: CPU threads for torch (default: torch's choice, or YOUTU_EMBED_NUM_THREADS).
        quantization: ``"int8"`` for dynamic int8 quantisation of linear layers (CPU fast path),
            done by the runtime (torch: ``torch.ao`` dynamic quantisation; see each runtime).
        runtime: what executes the network: ``"torch"`` (default) or a plugin's runtime such as
            ``"onnxruntime"`` (``youtu-embed plugins`` lists them).
        runtime_options: options of the runtime (e.g. ``{"cache_dir": ..., "num_threads": 2}``
            for ``onnxruntime``); the torch runtime takes none.
        unpadded: `utu` with the torch runtime: run each batch packed, the rows' tokens in one
            sequence with per-row attention boundaries, so no padding is computed (None: the
            device backend's default; see ``info()["fast_paths"]["attention"]``).
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        device: str | torch.device | None = "auto",
        dtype: str | torch.dtype | None = "auto",
        attention: str | None = None,
        is_causal: bool | None = None,
        pooling: str | None = None,
        normalize: bool | None = None,
        template: str = "youtu",
        prefix_mask: str = "offsets",
        include_prompt: bool | None = None,
        max_length: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        trust_remote_code: bool = False,
        allow_pickle: bool = False,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool | None = None,
        token: str | bool | None = None,
        num_threads: int | None = None,
        quantization: str | None = None,
        runtime: str = DEFAULT_RUNTIME,
        runtime_options: dict[str, Any] | None = None,
        unpadded: bool | None = None,
    ) -> None:
        _positive("batch_size", batch_size)
        self.runtime = get_runtime(runtime, quantization)
        _positive("max_batch_tokens", max_batch_tokens)
        _positive("max_length", max_length)
        if prefix_mask not in PREFIX_MASK_METHODS:
            raise InvalidArgumentError("prefix_mask", f"unknown method '{prefix_mask}'", PREFIX_MASK_METHODS)
        self.loaded: LoadedModel = load_model(
            model,
            device=device,
            dtype=dtype,
            attention=attention,
            is_causal=is_causal,
            max_length=max_length,
            trust_remote_code=trust_remote_code,
            allow_pickle=allow_pickle,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
            num_threads=num_threads,
        )
        self.quantization = quantization
        self._requested_dtype = dtype
        self._runner = prepare_runtime(self.runtime, self.loaded, quantization, runtime_options)
        self._runtime_reason = "requested" if runtime != DEFAULT_RUNTIME else "default"
        self._packed_kernel, self._packed_reason = self._choose_packing(unpadded)
        layout = self.loaded.layout
        self.pooling_name = pooling or layout.pooling
        self._pooling: PoolingStrategy = get_pooling(self.pooling_name)
        self.normalize = layout.normalize if normalize is None else bool(normalize)
        self.template = get_template(template).name
        self.include_prompt = layout.include_prompt if include_prompt is None else bool(include_prompt)
        self.prefix_mask = prefix_mask
        if prefix_mask == "offsets" and not self.tokenizer.is_fast:
            self.prefix_mask = "count"  # offsets need a fast (Rust) tokenizer
        self.prompts: dict[str, str] = dict(layout.prompts)
        self.default_prompt_name = layout.default_prompt_name
        self.similarity_fn_name = layout.similarity_fn_name
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.dimension = int(self.loaded.model.config.hidden_size)
        self._layout: tuple[int, int] | None = None
        self._cpt: int | None = None

    # -- properties -----------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        return self.loaded.tokenizer

    @property
    def model(self) -> torch.nn.Module:
        return self.loaded.model

    @property
    def device(self) -> torch.device:
        return self.loaded.device

    @property
    def max_length(self) -> int:
        return self.loaded.max_length

    @property
    def is_causal(self) -> bool | None:
        """Attention direction of a `utu` model (None for other architectures)."""
        config = self.loaded.model.config
        return bool(config.causal) if self.loaded.is_utu else None

    def info(self) -> dict[str, Any]:
        """What is loaded and how it runs (architecture, dimension, limits, backend, dtype...)."""
        config = self.loaded.model.config
        return {
            "model_id": self.loaded.model_id,
            "path": str(self.loaded.layout.root),
            "architecture": (getattr(config, "architectures", None) or [type(self.loaded.model).__name__])[0],
            "model_type": config.model_type,
            "model_class": type(self.loaded.model).__name__,
            "dimension": self.dimension,
            "max_length": self.max_length,
            "attention": None if self.is_causal is None else ("causal" if self.is_causal else "bidirectional"),
            "backend": self.loaded.backend.name,
            "device": str(self.device),
            "dtype": str(self.loaded.dtype).replace("torch.", ""),
            "pooling": self.pooling_name,
            "include_prompt": self.include_prompt,
            "prefix_mask": self.prefix_mask,
            "normalize": self.normalize,
            "template": self.template,
            "prompts": dict(self.prompts),
            "default_prompt_name": self.default_prompt_name,
            "similarity_fn_name": self.similarity_fn_name,
            "sentence_transformers_layout": self.loaded.layout.is_sentence_transformers,
            "torch_threads": torch.get_num_threads(),
            "quantization": self.quantization,
            "runtime": self.runtime.name,
            "runtime_reason": self._runtime_reason,
            "runtime_details": self._runtime_details(),
            "fast_paths": self._fast_paths(),
        }

    def _choose_packing(self, unpadded: bool | None) -> tuple[str | None, str]:
        """The varlen kernel for packed batches (None: padded batches) and why."""
        if unpadded is not None and not isinstance(unpadded, bool):
            raise InvalidArgumentError("unpadded", f"must be True, False or None, got {unpadded!r}")
        supported = self.loaded.is_utu and self.runtime.name == DEFAULT_RUNTIME
        if unpadded and not supported:
            raise InvalidArgumentError(
                "unpadded", "packed (unpadded) batches need a utu model and the torch runtime", [False, None]
            )
        if not supported or unpadded is False:
            return None, "requested" if unpadded is False else "padded batches (packing: utu, torch runtime only)"
        kernel = self.loaded.backend.packed_attention(self.loaded.dtype)
        if unpadded:
            return kernel or "sdpa_rows", "requested"
        return kernel, f"default of the {self.loaded.backend.name} backend"

    def _fast_paths(self) -> dict[str, Any]:
        paths = describe_fast_paths(
            self.loaded.model,
            self.device,
            self.loaded.dtype,
            self.quantization,
            self._requested_dtype,
            packed_kernel=self._packed_kernel,
            packed_reason=self._packed_reason,
        )
        if self.runtime.name != DEFAULT_RUNTIME:  # the torch-side description does not apply
            paths.update(compute=f"{self.runtime.name} runtime (see runtime_details)", attention=None, hint=None)
        return paths

    def _runtime_details(self) -> dict[str, Any]:
        """The runtime's description, plus what its prepared model reports (``describe()``) if anything."""
        describe = getattr(self._runner, "describe", None)
        return {"description": self.runtime.description, **(describe() if callable(describe) else {})}

    # -- tokenisation -----------------------------------------------------------------------
    def resolve_prefix(
        self,
        *,
        prompt_name: str | None = None,
        prompt: str | None = None,
        instruction: str | None = None,
        task: str | None = None,
        template: str | None = None,
        side: str = "query",
    ) -> str:
        """The text prefix that :meth:`encode` would put before each text for these arguments.

        At most one of ``prompt_name``, ``prompt``, ``instruction``, ``task``; with none, the
        model's default prompt (if any). ``side`` (``"query"`` or ``"document"``) matters for
        ``task`` only: documents of retrieval/reranking tasks get the template's document prefix
        (none for ``youtu``), those of symmetric tasks (STS, pair classification...) the instruction.
        """
        if side not in SIDES:
            raise InvalidArgumentError("side", f"unknown side '{side}'", SIDES)
        tmpl = template or self.template
        if (
            task is not None
            and side == "document"
            and not any(v is not None for v in (prompt_name, prompt, instruction))
        ):
            return get_template(tmpl).task_prefixes(task)[1]
        return resolve_prefix(
            self.prompts,
            prompt_name=prompt_name,
            prompt=prompt,
            instruction=instruction,
            task=task,
            template=tmpl,
            default_prompt_name=self.default_prompt_name,
        )

    def tokenize_rows(
        self,
        texts: Sequence[str] | str,
        *,
        prefix: str = "",
        max_length: int | None = None,
        truncate: bool = True,
        side: str = "right",
        keep_long: bool = False,
        return_offsets: bool = False,
    ) -> TokenRows:
        """Token rows of ``prefix + text`` for each text, as :meth:`encode` feeds them, with pooling skips.

        Args:
            texts: non-empty strings (a single string gives one row).
            prefix: the text prefix (see :meth:`resolve_prefix`); lower-cased with the text for
                ``do_lower_case`` models, as the encoder does.
            max_length: tokens per row, prefix and special tokens included (default: the encoder's).
            truncate: cut longer rows (``side="right"`` keeps the start, ``"left"`` the end: the
                tokens right after the leading special tokens are dropped); when False they raise
                :class:`~youtu_embedding.core.errors.InputTooLongError` naming ``texts[i]``.
            keep_long: return over-long rows whole (neither cut nor refused), for callers that
                window them (long-document chunking): run windows of ``ids[lead:len - trail]``
                re-wrapped in the special tokens, and pool any token span with :meth:`pool_spans`.
            return_offsets: also give each token's character span (fast tokenizers only).

        When truncating, a text far longer than ``max_length`` tokens is cut to a character budget
        (``max_length`` x the tokenizer's longest vocabulary entry, at most
        :data:`~youtu_embedding.core.rows.MAX_CHARS_PER_TOKEN`) before tokenisation, so a huge input
        costs about as much as a ``max_length`` one; the cut is kept only when the kept tokens are
        provably those of the whole text, else the budget doubles (up to the whole text). The rows
        are identical to tokenising the whole text.
        """
        texts_list, _ = _check_texts(texts)
        max_length = self.max_length if max_length is None else max_length
        _positive("max_length", max_length)
        if side not in TRUNCATION_SIDES:
            raise InvalidArgumentError("truncation_side", f"unknown side '{side}'", TRUNCATION_SIDES)
        if not isinstance(prefix, str):
            raise InvalidArgumentError("prefix", f"must be a string, got {type(prefix).__name__}")
        if return_offsets and not self.tokenizer.is_fast:
            raise InvalidArgumentError("return_offsets", "character offsets need a fast (Rust) tokenizer")
        lower = self.loaded.layout.do_lower_case
        prefix_text = prefix.lower() if lower else prefix
        full = [prefix_text + (t.lower() if lower else t) for t in texts_list]
        truncate = truncate and not keep_long
        use_offsets = (not self.include_prompt and self.prefix_mask == "offsets") or return_offsets
        left = truncate and side == "left"
        lead, trail = self._special_layout()
        ids: list[list[int]] = [[] for _ in full]
        offsets: list[Any] = [None] * len(full)
        specials: list[Any] = [None] * len(full)
        cuts = [0] * len(full)
        budget = len(prefix_text) + max_length * self._chars_per_token()
        long_rows = [i for i, s in enumerate(full) if truncate and len(s) > budget] if self.tokenizer.is_fast else []
        for i, cut_row in self._precut(full, long_rows, len(prefix_text), budget, max_length, left, lead, trail):
            ids[i], specials[i], offsets[i], cuts[i] = cut_row
        rest = [i for i in range(len(full)) if not ids[i]]
        if rest:
            enc = self.tokenizer(
                [full[i] for i in rest],
                add_special_tokens=True,
                truncation=truncate and not left,
                max_length=max_length if truncate and not left else None,
                return_offsets_mapping=use_offsets,
                return_special_tokens_mask=use_offsets or left,
                return_attention_mask=False,
                verbose=False,
            )
            got_ids: list[list[int]] = enc["input_ids"]
            got_offsets = enc["offset_mapping"] if use_offsets else None
            got_specials = enc["special_tokens_mask"] if use_offsets or left else None
            got_cuts = [0] * len(rest)
            if left:
                got_ids, got_specials, got_offsets, got_cuts = _cut_left(got_ids, got_specials, got_offsets, max_length)
            for k, i in enumerate(rest):
                ids[i], cuts[i] = got_ids[k], got_cuts[k]
                offsets[i] = got_offsets[k] if got_offsets is not None else None
                specials[i] = got_specials[k] if got_specials is not None else None
        if not truncate and not keep_long:
            for i, row in enumerate(ids):
                if len(row) > max_length:
                    raise InputTooLongError(
                        f"texts[{i}]",
                        f"has {len(row)} tokens, more than max_length={max_length}, and truncation is off "
                        "(pass truncate=True to cut it)",
                    )
        if self.include_prompt:
            skips = [0] * len(ids)
        elif self.prefix_mask == "offsets" and use_offsets:
            skips = [
                offset_prefix_tokens(off, spec, len(prefix_text)) for off, spec in zip(offsets, specials, strict=True)
            ]
        else:
            counted = count_prefix_tokens(self.tokenizer, prefix_text)
            leading = leading_special_tokens(self.tokenizer) if any(cuts) else 0
            skips = [max(leading, counted - cut) if cut else counted for cut in cuts]
        for i, (row, skip) in enumerate(zip(ids, skips, strict=True)):
            if skip >= len(row):
                raise InvalidArgumentError(
                    "max_length",
                    f"texts[{i}]: the prefix takes {skip} of {len(row)} tokens, leaving no text to embed "
                    f"(max_length={max_length}); raise max_length or shorten the instruction",
                )
        kept_offsets = [[(int(a), int(b)) for a, b in off] for off in offsets] if return_offsets else None
        return TokenRows(ids, skips, prefix, lead, trail, kept_offsets)

    def _precut(
        self,
        full: list[str],
        rows: list[int],
        prefix_chars: int,
        budget: int,
        max_length: int,
        left: bool,
        lead: int,
        trail: int,
    ) -> Iterator[tuple[int, tuple[list[int], list[int], list[tuple[int, int]], int]]]:
        """Tokenise the over-long ``full[i]`` of ``rows`` cut to a character budget; yields the safe ones.

        Right: ``full[:budget]``, truncated to the first ``max_length - lead - trail`` text tokens
        as the tokenizer's own truncation does. Left: the prefix + the text from a word boundary
        leaving ``budget`` characters, then :func:`_cut_left`. A cut that is not provably safe
        (see :mod:`youtu_embedding.core.rows`) is retried with twice the budget; rows whose budget
        reaches their length are left to the caller (tokenised whole).
        """
        keep = max_length - lead - trail
        if keep <= 0:
            return
        pending = list(rows)
        while pending:
            cut_texts, starts, todo = [], [], []
            for i in pending:
                if len(full[i]) <= budget:
                    continue  # the whole text: the caller's ordinary path
                if left:
                    start = left_cut_point(full[i], prefix_chars, budget - prefix_chars)
                    if start is None:
                        continue
                    cut_texts.append(full[i][:prefix_chars] + full[i][start:])
                    starts.append(start)
                else:
                    cut_texts.append(full[i][:budget])
                    starts.append(prefix_chars)
                todo.append(i)
            if not todo:
                return
            enc = self.tokenizer(
                cut_texts,
                add_special_tokens=True,
                return_offsets_mapping=True,
                return_special_tokens_mask=True,
                return_attention_mask=False,
                verbose=False,
            )
            retry = []
            for k, i in enumerate(todo):
                row, spec, off = enc["input_ids"][k], enc["special_tokens_mask"][k], enc["offset_mapping"][k]
                words = enc.encodings[k].word_ids
                shift = starts[k] - prefix_chars
                if left:
                    cut_rows, cut_specs, cut_offs, cut_counts = _cut_left([row], [spec], [off], max_length)
                    first = next((j for j, flag in enumerate(spec) if not flag), len(row)) + cut_counts[0]
                    if cut_counts[0] and cut_is_safe_left(words, off, prefix_chars, first):
                        moved = [(a + shift, b + shift) if b > prefix_chars else (a, b) for a, b in cut_offs[0]]
                        yield i, (cut_rows[0], cut_specs[0], moved, cut_counts[0])
                        continue
                else:
                    end = len(row) - trail
                    if end - lead > keep and cut_is_safe_right(words[:end], lead + keep):
                        take = slice(0, lead + keep)
                        tail = slice(end, len(row))
                        yield i, (row[take] + row[tail], spec[take] + spec[tail], off[take] + off[tail], 0)
                        continue
                retry.append(i)
            pending, budget = retry, budget * 2

    def _special_layout(self) -> tuple[int, int]:
        """Special tokens the tokenizer adds before and after one text (``(1, 1)`` for BERT)."""
        if self._layout is None:
            lead = leading_special_tokens(self.tokenizer)
            self._layout = (lead, max(0, int(self.tokenizer.num_special_tokens_to_add(False)) - lead))
        return self._layout

    def _chars_per_token(self) -> int:
        """A bound of the characters one token covers: the longest vocabulary entry, at most MAX_CHARS_PER_TOKEN.

        Vocabulary entries are at least as long as the text they cover (byte-level entries count
        bytes, WordPiece ones carry ``##``); [UNK] can cover more, which the budget check catches.
        """
        if self._cpt is None:
            longest = max((len(t) for t in self.tokenizer.get_vocab()), default=1)
            self._cpt = max(1, min(MAX_CHARS_PER_TOKEN, longest))
        return self._cpt

    def tokenize(
        self, texts: list[str] | str, *, prompt: str = "", truncate: bool = True, side: str = "right"
    ) -> list[list[int]]:
        """Token ids as the encoder would feed them (prefix included, truncated to max_length on ``side``)."""
        return self.tokenize_rows(texts, prefix=prompt, truncate=truncate, side=side).ids

    def token_pieces(
        self,
        text: str,
        *,
        prefix: str = "",
        add_special_tokens: bool = True,
        truncate: bool = True,
        side: str = "right",
        max_length: int | None = None,
    ) -> list[TokenPiece]:
        """Every token of ``prefix + text`` with its text, character span, special flag and pooling flag.

        With ``add_special_tokens`` the ids are exactly those :meth:`encode` embeds (lower-cased
        for ``do_lower_case`` models, truncated the same way) and ``pooled`` marks the tokens
        pooling uses. Without, the text's tokens alone (no [CLS]/BOS), as a tokenizer call gives them.
        ``truncate=False`` lists every token of an over-long input (nothing is refused: this is a view).
        """
        tok = self.tokenizer
        lower = self.loaded.layout.do_lower_case
        original = prefix + text
        fast = bool(getattr(tok, "is_fast", False))
        special_ids = set(tok.all_special_ids)
        if add_special_tokens:
            rows = self.tokenize_rows(
                [text],
                prefix=prefix,
                max_length=max_length,
                side=side,
                keep_long=not truncate,
                return_offsets=fast,
            )
            ids, skip = rows.ids[0], rows.skips[0]
            offsets = rows.offsets[0] if rows.offsets is not None else None
        else:
            _check_texts([text])
            lowered_prefix = prefix.lower() if lower else prefix
            out = tok(
                lowered_prefix + (text.lower() if lower else text),
                add_special_tokens=False,
                truncation=truncate,
                max_length=(max_length or self.max_length) if truncate else None,
                return_offsets_mapping=fast,
                verbose=False,
            )
            ids, offsets = out["input_ids"], out["offset_mapping"] if fast else None
            if self.include_prompt or not prefix:
                skip = 0
            elif offsets is not None and self.prefix_mask == "offsets":
                skip = offset_prefix_tokens(offsets, [int(t in special_ids) for t in ids], len(lowered_prefix))
            else:
                skip = len(tok(lowered_prefix, add_special_tokens=False)["input_ids"])
        shown = (prefix.lower() + text.lower()) if lower and len((prefix + text).lower()) != len(original) else original
        names = tok.convert_ids_to_tokens(ids)
        pieces = []
        for j, token_id in enumerate(ids):
            special = token_id in special_ids
            if special or offsets is None:
                pieces.append(TokenPiece(int(token_id), str(names[j]), special, pooled=j >= skip))
            else:
                start, stop = offsets[j]
                pieces.append(TokenPiece(int(token_id), shown[start:stop], False, int(start), int(stop), j >= skip))
        return pieces

    # -- encoding ---------------------------------------------------------------------------
    def encode(
        self,
        texts: Sequence[str] | str,
        *,
        prompt_name: str | None = None,
        prompt: str | None = None,
        instruction: str | None = None,
        task: str | None = None,
        template: str | None = None,
        batch_size: int | None = None,
        max_batch_tokens: int | None = None,
        max_length: int | None = None,
        truncate: bool = True,
        long_inputs: str | None = None,
        overlap: int = 0,
        normalize: bool | None = None,
        truncate_dim: int | None = None,
        precision: str = "float32",
        ranges: np.ndarray | None = None,
        calibration_embeddings: np.ndarray | None = None,
        pooling: str | None = None,
        convert_to_tensor: bool = False,
        show_progress: bool | None = None,
    ) -> np.ndarray | torch.Tensor:
        """Embed texts; rows are in input order.

        Args:
            texts: a string (returns one vector) or a list of strings (returns a matrix).
            prompt_name: a prompt of the model (``query``, ``document``...).
            prompt: a literal prefix.
            instruction: a task instruction, rendered by ``template`` (default: the encoder's).
            task: a task name of the template's table (e.g. ``T2Retrieval`` for ``youtu``).
            batch_size / max_batch_tokens: batch limits (items / padded tokens per batch).
            max_length: maximum tokens per input, prefix included.
            truncate: cut inputs longer than max_length; when False they raise InputTooLongError.
            long_inputs: what to do with an input longer than max_length: ``"truncate"`` (cut it),
                ``"error"`` (InputTooLongError) or ``"chunk"`` (embed it in windows of at most
                max_length tokens, the prefix repeated in each, and combine the window vectors:
                mean weighted by pooled tokens, then truncate_dim and normalisation; see
                docs/long-documents.md). Default: ``"truncate"``, or ``"error"`` with truncate=False.
            overlap: body tokens shared by consecutive windows (``long_inputs="chunk"``).
            normalize: L2-normalise (default: the model's setting), after ``truncate_dim``.
            truncate_dim: keep the first N dimensions (Matryoshka), then normalise.
            precision: ``float32``, ``float16``, ``int8``, ``uint8``, ``binary``, ``ubinary``.
            ranges / calibration_embeddings: int8/uint8 calibration, as sentence-transformers.
            pooling: override the pooling strategy for this call.
            convert_to_tensor: return a torch tensor instead of a numpy array.
            show_progress: progress bar over batches (default: only on a terminal).

        Instruction tokens are attended to but excluded from pooling when ``include_prompt`` is
        False (the `utu` default). Empty strings are rejected.
        """
        texts_list, single = _check_texts(texts)
        batch_size = self.batch_size if batch_size is None else batch_size
        max_batch_tokens = self.max_batch_tokens if max_batch_tokens is None else max_batch_tokens
        max_length = self.max_length if max_length is None else max_length
        _positive("batch_size", batch_size)
        _positive("max_batch_tokens", max_batch_tokens)
        _positive("max_length", max_length)
        if truncate_dim is not None:
            _positive("truncate_dim", truncate_dim)
            if truncate_dim > self.dimension:
                raise InvalidArgumentError(
                    "truncate_dim", f"{truncate_dim} is larger than the model dimension {self.dimension}"
                )
        check_precision(precision)
        pool = self.pooling_strategy(pooling)
        normalize = self.normalize if normalize is None else normalize
        prefix = self.resolve_prefix(
            prompt_name=prompt_name, prompt=prompt, instruction=instruction, task=task, template=template
        )
        long_inputs = _long_inputs_mode(long_inputs, truncate)
        dim = truncate_dim or self.dimension
        out = np.empty((len(texts_list), dim), dtype=np.float32)
        if texts_list and long_inputs == "chunk":
            from youtu_embedding.core.long_inputs import combine_pooled, plan_rows, window_texts

            items = window_texts(self, texts_list, prefix, max_length, overlap=overlap)
            rows, row_skips, _ = plan_rows(items)
            pooled = self._pool_rows(rows, row_skips, pool, batch_size, max_batch_tokens, show_progress)
            starts = np.cumsum([0] + [len(item.rows) for item in items])
            emb = torch.stack([combine_pooled(item, pooled[starts[i] : starts[i + 1]]) for i, item in enumerate(items)])
            out[:] = self.finish_rows(emb, truncate_dim=dim, normalize=normalize)
        elif texts_list:
            token_rows = self.tokenize_rows(
                texts_list, prefix=prefix, max_length=max_length, truncate=long_inputs == "truncate"
            )
            batches = self.plan_batches(token_rows, batch_size=batch_size, max_batch_tokens=max_batch_tokens)

            def run(batch: list[int]) -> np.ndarray:
                part = token_rows.select(batch)
                return self.finish_rows(
                    self.pool_rows(part.ids, part.skips, pooling=pool), truncate_dim=dim, normalize=normalize
                )

            for batch, vectors in self._run_batches(batches, run, show_progress):
                out[batch] = vectors
        result: np.ndarray = out
        if precision != "float32":
            result = quantize_embeddings(out, precision, ranges=ranges, calibration_embeddings=calibration_embeddings)
        if single:
            result = result[0]
        return torch.from_numpy(result) if convert_to_tensor else result

    # -- row-level steps (what encode runs; public for servers and chunkers) --------------------
    def plan_batches(
        self,
        rows: TokenRows | Sequence[Sequence[int]],
        *,
        batch_size: int | None = None,
        max_batch_tokens: int | None = None,
    ) -> list[list[int]]:
        """Row indices grouped into length-sorted batches (longest first) under the item and padded-token limits."""
        lengths = rows.lengths if isinstance(rows, TokenRows) else [len(r) for r in rows]
        batch_size = self.batch_size if batch_size is None else batch_size
        max_batch_tokens = self.max_batch_tokens if max_batch_tokens is None else max_batch_tokens
        _positive("batch_size", batch_size)
        _positive("max_batch_tokens", max_batch_tokens)
        return plan_batches(lengths, batch_size, max_batch_tokens)

    @property
    def runner(self) -> RuntimeModel:
        """The prepared runtime model that executes the network (see :mod:`youtu_embedding.core.runtimes`)."""
        return self._runner

    @torch.inference_mode()
    def token_states(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Run token-id rows as one right-padded batch: ``(last hidden states (B, T, D), attention mask (B, T))``.

        Both tensors are on the encoder's device; padded positions have mask 0. With packed
        (unpadded) batches the network sees the rows as one sequence and the states are put back
        into that padded layout.
        """
        if self._packed_kernel is not None:
            ids, packed = pack_rows(rows, self.device, self._packed_kernel)
            states = self._runner(input_ids=ids, packed=packed, return_dict=True).last_hidden_state
            return unpack_states(states, packed.lengths)
        longest = max(len(r) for r in rows)
        pad = int(self.tokenizer.pad_token_id)
        input_ids = torch.full((len(rows), longest), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            attention[i, : len(row)] = 1
        input_ids, attention = input_ids.to(self.device), attention.to(self.device)
        hidden = self._runner(input_ids=input_ids, attention_mask=attention, return_dict=True).last_hidden_state
        return hidden, attention

    def pooling_strategy(self, pooling: str | PoolingStrategy | None = None) -> PoolingStrategy:
        """The encoder's pooling strategy (``None``), or the one registered as ``pooling``."""
        if pooling is None:
            return self._pooling
        return pooling if isinstance(pooling, PoolingStrategy) else get_pooling(pooling)

    @torch.inference_mode()
    def pool_rows(
        self,
        ids: Sequence[Sequence[int]],
        skips: Sequence[int] | None = None,
        *,
        pooling: str | PoolingStrategy | None = None,
    ) -> torch.Tensor:
        """Run one batch of rows and pool each: float32 ``(n, dimension)`` on the encoder's device.

        ``skips``: leading tokens of each row that pooling leaves out (as :meth:`tokenize_rows`
        gives them; default none). Rows are not re-planned: pass a batch that fits in memory.
        """
        hidden, attention = self.token_states(ids)
        positions = torch.arange(attention.shape[1], device=attention.device).unsqueeze(0)
        starts = torch.tensor(list(skips) if skips is not None else [0] * len(ids), device=attention.device)
        pool_mask = attention.bool() & (positions >= starts.unsqueeze(1))
        return self.pooling_strategy(pooling)(hidden.float(), pool_mask)

    @torch.inference_mode()
    def pool_spans(
        self,
        ids: Sequence[Sequence[int]],
        spans: Sequence[tuple[int, int, int]],
        *,
        pooling: str | PoolingStrategy | None = None,
    ) -> torch.Tensor:
        """Run one batch of rows once and pool token spans of them: float32 ``(len(spans), dimension)``.

        Each span is ``(row, start, stop)``: tokens ``start:stop`` of ``ids[row]`` (any number of
        spans per row, overlapping or not), e.g. the chunks of a long document run as one window
        (late chunking), or ``(i, skips[i], len(ids[i]))`` for what :meth:`pool_rows` pools.
        """
        hidden, attention = self.token_states(ids)
        for k, (row, start, stop) in enumerate(spans):
            if not 0 <= row < len(ids) or not 0 <= start < stop <= len(ids[row]):
                raise InvalidArgumentError(
                    f"spans[{k}]",
                    f"({row}, {start}, {stop}) is not a non-empty token span of the {len(ids)} rows",
                )
        index = torch.tensor([s[0] for s in spans], device=hidden.device)
        positions = torch.arange(attention.shape[1], device=attention.device).unsqueeze(0)
        starts = torch.tensor([s[1] for s in spans], device=attention.device).unsqueeze(1)
        stops = torch.tensor([s[2] for s in spans], device=attention.device).unsqueeze(1)
        mask = attention[index].bool() & (positions >= starts) & (positions < stops)
        return self.pooling_strategy(pooling)(hidden[index].float(), mask)

    def finish_rows(
        self,
        pooled: torch.Tensor | np.ndarray,
        *,
        truncate_dim: int | None = None,
        normalize: bool | None = None,
        precision: str = "float32",
        ranges: np.ndarray | None = None,
        calibration_embeddings: np.ndarray | None = None,
    ) -> np.ndarray:
        """Pooled vectors to output rows, as :meth:`encode` does: keep ``truncate_dim`` dimensions, then
        L2-normalise (``normalize=None``: the encoder's setting), then quantise to ``precision``.

        int8/uint8 without ``ranges``/``calibration_embeddings`` calibrate on the rows given: pass
        all rows of one output together.
        """
        if truncate_dim is not None:
            _positive("truncate_dim", truncate_dim)
            if truncate_dim > self.dimension:
                raise InvalidArgumentError(
                    "truncate_dim", f"{truncate_dim} is larger than the model dimension {self.dimension}"
                )
        check_precision(precision)
        emb = pooled if isinstance(pooled, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(pooled))
        emb = emb[:, : truncate_dim or self.dimension]
        if self.normalize if normalize is None else normalize:
            emb = F.normalize(emb, p=2, dim=-1)
        out: np.ndarray = emb.float().cpu().numpy()
        if precision != "float32":
            out = quantize_embeddings(out, precision, ranges=ranges, calibration_embeddings=calibration_embeddings)
        return out

    def _pool_rows(
        self,
        rows: list[list[int]],
        skips: list[int],
        pool: PoolingStrategy,
        batch_size: int,
        max_batch_tokens: int,
        show_progress: bool | None,
    ) -> torch.Tensor:
        """Pooled float32 vectors ``(rows, D)`` on the CPU, in row order, run in length-sorted batches."""
        out = torch.empty((len(rows), self.dimension), dtype=torch.float32)
        batches = plan_batches([len(r) for r in rows], batch_size, max_batch_tokens)

        def run(batch: list[int]) -> torch.Tensor:
            return self.pool_rows([rows[i] for i in batch], [skips[i] for i in batch], pooling=pool).cpu()

        for batch, vectors in self._run_batches(batches, run, show_progress):
            out[batch] = vectors
        return out

    def _run_batches(
        self,
        batches: list[list[int]],
        run: Callable[[list[int]], T],
        show_progress: bool | None,
    ) -> Iterator[tuple[list[int], T]]:
        """``(batch, run(batch))`` for every batch, with a progress bar.

        A runtime whose model declares ``concurrent_calls`` = N > 1 (e.g. OpenVINO with N streams)
        gets N batches at once from N threads, each on its own share of the cores: the streams never
        wait for each other, and one call's Python work overlaps the others' inference. With fewer
        batches than that, the largest are halved (they are length-sorted, so halves pad no more)
        so that no stream idles.
        """
        progress = tqdm(
            total=len(batches),
            desc="Encoding",
            unit="batch",
            disable=None if show_progress is None else not show_progress,
        )
        calls = max(1, int(getattr(self._runner, "concurrent_calls", 1)))
        with progress:
            if calls == 1:
                for batch in batches:
                    yield batch, run(batch)
                    progress.update()
                return
            batches = split_batches(batches, calls)
            progress.total = len(batches)
            with ThreadPoolExecutor(max_workers=calls, thread_name_prefix="youtu-embed-batch") as pool:
                futures = {pool.submit(run, batch): batch for batch in batches}
                for future in as_completed(futures):
                    yield futures[future], future.result()
                    progress.update()

    def encode_chunks(self, documents: Sequence[str] | str, **kwargs: Any) -> list[ChunkedDocument]:
        """Cut each document into chunks and embed every chunk (arguments: :func:`.late_chunking.encode_chunks`).

        ``late=True`` (default): each document runs through the model once (in windows when longer
        than max_length) and each chunk's vector pools its own tokens' states, which saw the whole
        window around them. ``late=False``: each chunk is embedded alone (naive chunking).
        Returns one :class:`~youtu_embedding.core.chunking.ChunkedDocument` per document.
        """
        from youtu_embedding.core.late_chunking import encode_chunks

        return encode_chunks(self, documents, **kwargs)

    def encode_iter(
        self, texts: Iterable[str], *, chunk_size: int = 4096, **kwargs: Any
    ) -> Iterator[np.ndarray | torch.Tensor]:
        """Embed a (possibly huge or lazy) iterable chunk by chunk; yields one array per chunk.

        Memory stays bounded by the chunk size, whatever the corpus size. ``kwargs`` are those of
        :meth:`encode`; instruction/precision/... apply to every chunk. int8/uint8 precision needs
        ``ranges`` or ``calibration_embeddings`` so that all chunks share the same buckets.
        """
        _positive("chunk_size", chunk_size)
        if (
            kwargs.get("precision", "float32") in ("int8", "uint8")
            and kwargs.get("ranges") is None
            and kwargs.get("calibration_embeddings") is None
        ):
            raise InvalidArgumentError("ranges", "chunked int8/uint8 output needs ranges or calibration_embeddings")
        for chunk in chunked(texts, chunk_size):
            yield self.encode(chunk, **kwargs)

    def encode_to_npy(
        self, texts: Iterable[str], path: str | os.PathLike[str], *, chunk_size: int = 4096, **kwargs: Any
    ) -> int:
        """Embed an iterable into an ``.npy`` file incrementally (bounded memory); returns the row count.

        The file appears under its name only when complete (written as ``<path>.partial`` first).
        """
        show = kwargs.pop("show_progress", None)
        with (
            NpyStreamWriter(path) as writer,
            tqdm(desc="Encoding", unit="text", disable=None if show is None else not show) as bar,
        ):
            for block in self.encode_iter(texts, chunk_size=chunk_size, show_progress=False, **kwargs):
                writer.append(np.asarray(block))
                bar.update(len(block))
            writer.close(dim=kwargs.get("truncate_dim") or self.dimension, dtype=np.float32)
        return writer.rows

    def encode_queries(self, texts: Sequence[str] | str, **kwargs: Any) -> np.ndarray | torch.Tensor:
        """Embed queries: the model's ``query`` prompt unless a prompt or instruction is given.

        ``task=``: the task's instruction (the query side of any task kind).
        """
        if not any(kwargs.get(k) is not None for k in ("prompt_name", "prompt", "instruction", "task")):
            kwargs["prompt"] = self.prompts.get("query", "")
        return self.encode(texts, **kwargs)

    def encode_documents(self, texts: Sequence[str] | str, **kwargs: Any) -> np.ndarray | torch.Tensor:
        """Embed documents: the model's ``document`` (or ``passage``) prompt unless one is given.

        ``task=``: the document side of the task (:meth:`resolve_prefix` with ``side="document"``):
        no instruction for retrieval and reranking documents (the template's document prefix),
        the task's instruction for symmetric tasks (STS, pair classification, clustering...).
        """
        if not any(kwargs.get(k) is not None for k in ("prompt_name", "prompt", "instruction", "task")):
            kwargs["prompt"] = self.prompts.get("document", self.prompts.get("passage", ""))
        elif kwargs.get("task") is not None and not any(
            kwargs.get(k) is not None for k in ("prompt_name", "prompt", "instruction")
        ):
            task, template = kwargs.pop("task"), kwargs.pop("template", None)
            kwargs["prompt"] = self.resolve_prefix(task=task, template=template, side="document")
        return self.encode(texts, **kwargs)

    def similarity(self, a: Any, b: Any, *, fn: str | None = None) -> np.ndarray | torch.Tensor:
        """Pairwise similarity matrix (len(a), len(b)) with the model's similarity function.

        ``fn``: one of cosine (default), dot, euclidean, manhattan (distances are negated so that
        larger is always more similar, as sentence-transformers does).
        """
        return similarity(a, b, fn or self.similarity_fn_name)

    def __repr__(self) -> str:
        i = self.info()
        return (
            f"Encoder(model={i['model_id']!r}, dim={i['dimension']}, pooling={i['pooling']!r}, "
            f"device={i['device']!r}, dtype={i['dtype']!r})"
        )


__all__ = ["SIDES", "SIMILARITY_FUNCTIONS", "Encoder", "TokenPiece", "TokenRows"]
