"""The :class:`Encoder`: texts in, embeddings out."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from youtu_embedding.core.batching import plan_batches
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
from youtu_embedding.core.runtimes import DEFAULT_RUNTIME, get_runtime, prepare_runtime
from youtu_embedding.core.similarity import SIMILARITY_FUNCTIONS, similarity
from youtu_embedding.core.streaming import NpyStreamWriter, chunked

DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_BATCH_TOKENS = 16384


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
        from youtu_embedding.core.templates import get_template

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
    def _tokenize(
        self, texts: list[str], prefix: str, max_length: int, truncate: bool, side: str = "right"
    ) -> tuple[list[list[int]], list[int]]:
        """Token ids of ``prefix + text`` for each text, and how many leading tokens pooling skips.

        ``side="left"`` keeps the end of an over-long input (the tokens right after the leading
        special tokens are dropped); ``"right"`` keeps its start.
        """
        if side not in TRUNCATION_SIDES:
            raise InvalidArgumentError("truncation_side", f"unknown side '{side}'", TRUNCATION_SIDES)
        tok = self.tokenizer
        lower = self.loaded.layout.do_lower_case
        full = [(prefix + t).lower() if lower else prefix + t for t in texts]
        use_offsets = not self.include_prompt and self.prefix_mask == "offsets"
        left = truncate and side == "left"
        enc = tok(
            full,
            add_special_tokens=True,
            truncation=truncate and not left,
            max_length=max_length if truncate and not left else None,
            return_offsets_mapping=use_offsets,
            return_special_tokens_mask=use_offsets or left,
            return_attention_mask=False,
            verbose=False,
        )
        ids: list[list[int]] = enc["input_ids"]
        offsets = enc["offset_mapping"] if use_offsets else None
        specials = enc["special_tokens_mask"] if use_offsets or left else None
        cuts = [0] * len(ids)
        if left:
            ids, specials, offsets, cuts = _cut_left(ids, specials, offsets, max_length)
        if not truncate:
            for i, row in enumerate(ids):
                if len(row) > max_length:
                    raise InputTooLongError(
                        f"texts[{i}]",
                        f"has {len(row)} tokens, more than max_length={max_length}, and truncation is off "
                        "(pass truncate=True to cut it)",
                    )
        prefix_text = prefix.lower() if lower else prefix
        if self.include_prompt:
            skips = [0] * len(ids)
        elif offsets is not None and specials is not None:
            skips = [
                offset_prefix_tokens(off, spec, len(prefix_text)) for off, spec in zip(offsets, specials, strict=True)
            ]
        else:
            counted = count_prefix_tokens(tok, prefix_text)
            leading = leading_special_tokens(tok) if any(cuts) else 0
            skips = [max(leading, counted - cut) if cut else counted for cut in cuts]
        for i, (row, skip) in enumerate(zip(ids, skips, strict=True)):
            if skip >= len(row):
                raise InvalidArgumentError(
                    "max_length",
                    f"texts[{i}]: the prefix takes {skip} of {len(row)} tokens, leaving no text to embed "
                    f"(max_length={max_length}); raise max_length or shorten the instruction",
                )
        return ids, skips

    def tokenize(
        self, texts: list[str] | str, *, prompt: str = "", truncate: bool = True, side: str = "right"
    ) -> list[list[int]]:
        """Token ids as the encoder would feed them (prefix included, truncated to max_length on ``side``)."""
        texts, _ = _check_texts(texts)
        return self._tokenize(texts, prompt, self.max_length, truncate, side)[0]

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
        pool = self._pooling if pooling is None else get_pooling(pooling)
        normalize = self.normalize if normalize is None else normalize
        prefix = resolve_prefix(
            self.prompts,
            prompt_name=prompt_name,
            prompt=prompt,
            instruction=instruction,
            task=task,
            template=template or self.template,
            default_prompt_name=self.default_prompt_name,
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
            emb = emb[:, :dim]
            out[:] = (F.normalize(emb, p=2, dim=-1) if normalize else emb).numpy()
        elif texts_list:
            ids, skips = self._tokenize(texts_list, prefix, max_length, long_inputs == "truncate")
            batches = plan_batches([len(r) for r in ids], batch_size, max_batch_tokens)
            for batch in tqdm(
                batches, desc="Encoding", unit="batch", disable=None if show_progress is None else not show_progress
            ):
                emb = self._forward([ids[i] for i in batch], [skips[i] for i in batch], pool)
                emb = emb[:, :dim]
                if normalize:
                    emb = F.normalize(emb, p=2, dim=-1)
                out[batch] = emb.cpu().numpy()
        result: np.ndarray = out
        if precision != "float32":
            result = quantize_embeddings(out, precision, ranges=ranges, calibration_embeddings=calibration_embeddings)
        if single:
            result = result[0]
        return torch.from_numpy(result) if convert_to_tensor else result

    @torch.inference_mode()
    def token_states(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
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

    @torch.inference_mode()
    def _forward(self, rows: list[list[int]], skips: list[int], pool: PoolingStrategy) -> torch.Tensor:
        hidden, attention = self.token_states(rows)
        positions = torch.arange(attention.shape[1], device=attention.device).unsqueeze(0)
        pool_mask = attention.bool() & (positions >= torch.tensor(skips, device=attention.device).unsqueeze(1))
        return pool(hidden.float(), pool_mask)

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
        for batch in tqdm(
            batches, desc="Encoding", unit="batch", disable=None if show_progress is None else not show_progress
        ):
            out[batch] = self._forward([rows[i] for i in batch], [skips[i] for i in batch], pool).float().cpu()
        return out

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
        """Embed queries: the model's ``query`` prompt unless a prompt or instruction is given."""
        if not any(kwargs.get(k) is not None for k in ("prompt_name", "prompt", "instruction", "task")):
            kwargs["prompt"] = self.prompts.get("query", "")
        return self.encode(texts, **kwargs)

    def encode_documents(self, texts: Sequence[str] | str, **kwargs: Any) -> np.ndarray | torch.Tensor:
        """Embed documents: the model's ``document`` (or ``passage``) prompt unless one is given."""
        if not any(kwargs.get(k) is not None for k in ("prompt_name", "prompt", "instruction", "task")):
            kwargs["prompt"] = self.prompts.get("document", self.prompts.get("passage", ""))
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


__all__ = ["SIMILARITY_FUNCTIONS", "Encoder"]
