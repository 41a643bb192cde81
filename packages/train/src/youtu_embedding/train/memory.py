"""GPU memory estimate of one training step of this package's trainer, per GPU (computed, not measured).

The model is the trainer's own setup (``trainer.py``): float32 master weights, AdamW (two float32
moments), float32 gradients, ``torch.autocast`` for bf16/fp16, DDP (``gradient_as_bucket_view``
off: the reducer keeps its own float32 gradient buckets) or FSDP2 ``fully_shard`` per decoder
layer plus the root (no ``MixedPrecisionPolicy``: parameters are all-gathered in float32), optional
non-reentrant gradient checkpointing per layer. Activations are counted from what autograd saves
for the backward pass of a ``utu``/Llama-family decoder layer under autocast (tested against the
tensors autograd really saves for a tiny ``utu`` model):

* per token and layer (bytes): ``26 h + 10 q + 10 kv + 8 i + 4 (2 heads + kv_heads) + 8`` under
  bf16/fp16 autocast (float32 residual stream and RMSNorms, three bf16 copies of the normed input
  for q/k/v, QK-norm in float32, SDPA inputs/output and log-sum-exp, SwiGLU intermediates), with
  ``h`` hidden size, ``q``/``kv`` query/key widths (heads x head_dim), ``i`` MLP width;
  ``4 h`` per token and layer with gradient checkpointing (the layer input), plus one layer
  recomputed at a time in the backward pass; without autocast (fp32)
  ``4 (6 h + 4 q + 4 kv + 4 i)`` plus the same statistics;
* the autocast weight cache: autocast keeps one bf16 copy of every linear weight it cast until the
  forward pass ends, and FSDP2's unsharded parameters are leaf tensors, so this cost is **not**
  divided by the FSDP world size (``2 x`` linear parameters).

What it leaves out: the CUDA context and NCCL buffers (a fixed ``runtime_overhead_gib``), the
caching allocator's fragmentation (keep 10-20% headroom), LoRA, fp32 (no autocast) runs' activation
details (the same layout with 4-byte copies is used), and the mid-layer loss's few extra vectors.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

GIB = 1024**3
DECODER_TYPES = ("utu", "qwen3", "llama", "mistral")
YOUTU_2B_NAMES = ("youtu-2b", "tencent/Youtu-Embedding", "Youtu-RAG/Youtu-Embedding-V1", "Youtu-Embedding-V1")


class MemoryEstimateError(ValueError):
    """A bad argument of the estimator; the message names it."""


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a ``utu``/Llama-family decoder that decide its parameter count and activations."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    qk_norm: bool = True
    attention_bias: bool = False
    source: str = ""

    @classmethod
    def from_config(cls, config: Any, source: str = "") -> ModelShape:
        """From a transformers config (``UtuConfig``, ``LlamaConfig``, ``Qwen3Config``...)."""
        model_type = getattr(config, "model_type", "")
        if model_type not in DECODER_TYPES:
            raise MemoryEstimateError(
                f"model: architecture '{model_type}' is not supported by the estimator "
                f"(supported: {', '.join(DECODER_TYPES)} decoders)"
            )
        heads = int(config.num_attention_heads)
        head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
        return cls(
            vocab_size=int(config.vocab_size),
            hidden_size=int(config.hidden_size),
            intermediate_size=int(config.intermediate_size),
            num_layers=int(config.num_hidden_layers),
            num_heads=heads,
            num_kv_heads=int(getattr(config, "num_key_value_heads", None) or heads),
            head_dim=head_dim,
            qk_norm=model_type in ("utu", "qwen3"),
            attention_bias=bool(getattr(config, "attention_bias", False)),
            source=source,
        )

    # ----- parameters ------------------------------------------------------------------------
    @property
    def q_width(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.num_kv_heads * self.head_dim

    def layer_linear_parameters(self) -> int:
        """Weights of the seven projections of one layer (q, k, v, o, gate, up, down)."""
        h, q, kv, i = self.hidden_size, self.q_width, self.kv_width, self.intermediate_size
        return h * q + 2 * h * kv + q * h + 3 * h * i

    def layer_parameters(self) -> int:
        """Everything in one decoder layer: projections, biases, two RMSNorms, QK-norms."""
        bias = (self.q_width + 2 * self.kv_width + self.hidden_size) if self.attention_bias else 0
        qk = 2 * self.head_dim if self.qk_norm else 0
        return self.layer_linear_parameters() + bias + 2 * self.hidden_size + qk

    def embedding_parameters(self) -> int:
        return self.vocab_size * self.hidden_size

    def num_parameters(self) -> int:
        """Parameters of the embedding model (no LM head): embedding + layers + final norm."""
        return self.embedding_parameters() + self.num_layers * self.layer_parameters() + self.hidden_size

    # ----- activations (bytes per token) -----------------------------------------------------
    def layer_activation_bytes_per_token(self, autocast: bool = True) -> int:
        """Bytes autograd saves per token in one decoder layer without checkpointing."""
        h, q, kv, i = self.hidden_size, self.q_width, self.kv_width, self.intermediate_size
        stats = 4 * (2 * self.num_heads + self.num_kv_heads) + 8  # RMSNorm rsqrt and SDPA log-sum-exp
        if autocast:
            return 26 * h + 10 * q + 10 * kv + 8 * i + stats
        # fp32: no casts (one normed input shared by q/k/v and by gate/up), 4-byte tensors
        return 4 * (6 * h + 4 * q + 4 * kv + 4 * i) + stats

    def checkpointed_layer_bytes_per_token(self) -> int:
        """With gradient checkpointing a layer keeps only its float32 input."""
        return 4 * self.hidden_size

    def final_bytes_per_token(self) -> int:
        """The final RMSNorm (float32 input and output) and its statistics."""
        return 8 * self.hidden_size + 12


YOUTU_2B = ModelShape(
    vocab_size=128256,
    hidden_size=2048,
    intermediate_size=8192,
    num_layers=32,
    num_heads=32,
    num_kv_heads=32,
    head_dim=64,
    qk_norm=True,
    source="built-in shape of tencent/Youtu-Embedding (REFERENCE.md: 32 layers, hidden 2048, MLP 8192, "
    "32 heads x 64, vocab 128256)",
)


def resolve_shape(model: str | Path) -> ModelShape:
    """The shape of ``model``: a directory with ``config.json``, a cached Hub model, or ``youtu-2b``.

    The release's names (``youtu-2b``, ``tencent/Youtu-Embedding`` and its aliases) fall back to
    the built-in 2B shape when the checkpoint is not in the local cache. Nothing is downloaded.
    """
    from transformers import AutoConfig

    import youtu_embedding.core  # noqa: F401 - registers the utu config with AutoConfig

    name = str(model)
    path = Path(name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise MemoryEstimateError(f"model: directory '{path}' has no config.json")
        return ModelShape.from_config(AutoConfig.from_pretrained(path), source=str(path))
    from youtu_embedding.core.hub import resolve_alias, resolve_model_dir

    try:
        _, root = resolve_model_dir(name, local_files_only=True)
        return ModelShape.from_config(AutoConfig.from_pretrained(root), source=str(root))
    except MemoryEstimateError:
        raise
    except Exception as exc:  # not cached, unknown id: the release names fall back to the built-in shape
        if name in YOUTU_2B_NAMES or resolve_alias(name) == "tencent/Youtu-Embedding":
            return YOUTU_2B
        raise MemoryEstimateError(
            f"model: '{name}' is neither a local directory with config.json nor a cached model "
            f"({type(exc).__name__}); use a directory or 'youtu-2b'"
        ) from None


@dataclass
class MemoryEstimate:
    """Per-GPU memory of one training step, in bytes, by component; ``peak`` is the largest moment."""

    strategy: str
    world_size: int
    precision: str
    gradient_checkpointing: bool
    texts_per_step: int
    max_length: int
    tokens: int
    parameters: int
    params: int
    grads: int
    optimizer: int
    ddp_buckets: int
    fsdp_unsharded: int
    autocast_weight_copies: int
    activations_saved: int
    activations_backward: int
    runtime_overhead: int
    peak_forward: int
    peak_backward: int
    peak: int
    notes: list[str] = field(default_factory=list)

    def as_dict(self, unit: float = GIB) -> dict[str, Any]:
        """Every figure, byte counts converted to ``unit`` (GiB by default)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            is_bytes = isinstance(value, int) and key not in (
                "world_size",
                "texts_per_step",
                "max_length",
                "tokens",
                "parameters",
            )
            out[key] = round(value / unit, 3) if is_bytes else value
        return out


def texts_per_step(task: str, batch_size: int, num_positives: int = 2, num_negatives: int = 4) -> int:
    """Texts in one forward pass per GPU: IR = B queries + B*P positives + B*N negatives; STS = 2B."""
    if task == "ir":
        return batch_size * (1 + num_positives + num_negatives)
    if task == "sts":
        return 2 * batch_size
    raise MemoryEstimateError(f"task: unknown '{task}' (allowed: ir, sts)")


def estimate_memory(
    shape: ModelShape,
    *,
    max_length: int,
    texts: int,
    strategy: Literal["ddp", "fsdp"] = "ddp",
    world_size: int = 1,
    precision: Literal["fp32", "bf16", "fp16"] = "bf16",
    gradient_checkpointing: bool = True,
    runtime_overhead_gib: float = 1.0,
) -> MemoryEstimate:
    """Estimate per-GPU memory of one step with ``texts`` texts padded to ``max_length`` tokens.

    Worst case: the collator pads every text of a step to the longest one, so with real data the
    token count (and the activations) is usually lower; pass a smaller ``max_length`` to model it.
    """
    for name, value, low in (("max_length", max_length, 1), ("texts", texts, 1), ("world_size", world_size, 1)):
        if value < low:
            raise MemoryEstimateError(f"{name}: must be >= {low}, got {value}")
    if strategy not in ("ddp", "fsdp"):
        raise MemoryEstimateError(f"strategy: unknown '{strategy}' (allowed: ddp, fsdp)")
    if precision not in ("fp32", "bf16", "fp16"):
        raise MemoryEstimateError(f"precision: unknown '{precision}' (allowed: fp32, bf16, fp16)")
    autocast = precision != "fp32"
    p = shape.num_parameters()
    layer_p = shape.layer_parameters()
    root_p = p - shape.num_layers * layer_p  # embedding + final norm: the FSDP root unit
    tokens = texts * max_length
    n = world_size if strategy == "fsdp" else 1
    notes: list[str] = []

    params = 4 * math.ceil(p / n)
    grads = 4 * math.ceil(p / n)
    optimizer = 8 * math.ceil(p / n)  # AdamW exp_avg + exp_avg_sq, float32
    ddp_buckets = 4 * p if strategy == "ddp" and world_size > 1 else 0
    # FSDP2: the root's parameters stay unsharded through forward and backward; per layer, the
    # current and the prefetched next layer are all-gathered (float32), and in the backward pass a
    # layer's unsharded gradient waits for its reduce-scatter (two in flight).
    fsdp_unsharded = 4 * root_p + 4 * 2 * layer_p if strategy == "fsdp" and world_size > 1 else 0
    fsdp_unsharded_grads = 4 * root_p + 4 * 2 * layer_p if fsdp_unsharded else 0

    copy_bytes = 2 if autocast else 0
    autocast_weight_copies = copy_bytes * shape.num_layers * shape.layer_linear_parameters()
    full_layer = shape.layer_activation_bytes_per_token(autocast)
    if gradient_checkpointing:
        saved = tokens * (shape.num_layers * shape.checkpointed_layer_bytes_per_token() + shape.final_bytes_per_token())
        # backward: one layer recomputed with its weight copies, plus the float32 gradient of the
        # residual stream flowing down and the layer's input gradient
        backward_extra = (
            tokens * (full_layer + 2 * 4 * shape.hidden_size) + copy_bytes * shape.layer_linear_parameters()
        )
        weights_in_backward = copy_bytes * shape.layer_linear_parameters()
    else:
        saved = tokens * (shape.num_layers * full_layer + shape.final_bytes_per_token())
        backward_extra = tokens * 2 * 4 * shape.hidden_size
        weights_in_backward = autocast_weight_copies  # saved by every linear for its backward
    overhead = int(runtime_overhead_gib * GIB)

    states = params + optimizer + ddp_buckets
    peak_forward = states + fsdp_unsharded + autocast_weight_copies + saved + overhead
    peak_backward = (states + grads + fsdp_unsharded + fsdp_unsharded_grads + saved + backward_extra + overhead) + (
        weights_in_backward if not gradient_checkpointing else 0
    )
    if autocast and strategy == "fsdp" and world_size > 1:
        notes.append(
            "autocast keeps bf16 copies of every unsharded layer weight until the forward pass ends: "
            f"{autocast_weight_copies / GIB:.1f} GiB that FSDP does not shard"
        )
    if strategy == "ddp" and world_size > 1:
        notes.append("DDP keeps float32 gradient buckets besides the gradients (gradient_as_bucket_view is off)")
    return MemoryEstimate(
        strategy=strategy,
        world_size=world_size,
        precision=precision,
        gradient_checkpointing=gradient_checkpointing,
        texts_per_step=texts,
        max_length=max_length,
        tokens=tokens,
        parameters=p,
        params=params,
        grads=grads,
        optimizer=optimizer,
        ddp_buckets=ddp_buckets,
        fsdp_unsharded=fsdp_unsharded + fsdp_unsharded_grads,
        autocast_weight_copies=autocast_weight_copies,
        activations_saved=saved,
        activations_backward=backward_extra,
        runtime_overhead=overhead,
        peak_forward=peak_forward,
        peak_backward=peak_backward,
        peak=max(peak_forward, peak_backward),
        notes=notes,
    )


def max_texts_that_fit(shape: ModelShape, gpu_gib: float, **options: Any) -> int:
    """The largest number of texts per step whose estimated peak fits in ``gpu_gib`` (0 if none)."""
    limit = gpu_gib * GIB
    if estimate_memory(shape, texts=1, **options).peak > limit:
        return 0
    low, high = 1, 2
    while estimate_memory(shape, texts=high, **options).peak <= limit:
        low, high = high, high * 2
        if high > 1 << 20:
            return low
    while high - low > 1:
        mid = (low + high) // 2
        if estimate_memory(shape, texts=mid, **options).peak <= limit:
            low = mid
        else:
            high = mid
    return low
