"""CPU fast paths: int8 dynamic quantisation of linear layers, bf16 detection, and a report of
which paths are active (shown by ``youtu-embed info``)."""

from __future__ import annotations

import functools
import warnings
from typing import Any

import torch
from torch import nn

from youtu_embedding.core.errors import InvalidArgumentError

QUANTIZATION_CHOICES = ("int8",)
_CPU_HINT = "on CPU, dtype='bfloat16' (bf16 instructions) or quantization='int8' is faster; see docs/performance.md"
#: The fastest measured CPU paths (docs/performance.md, "Fastest CPU paths"), for BERT-family models.
_OPENVINO_HINT = (
    "on CPU the fastest paths are runtime='openvino' (youtu-embedding-openvino): "
    "runtime_options={'precision': 'bf16', 'streams': 2} (lossless tier) or quantization='int8' with "
    "runtime_options calibration_file and streams=2 (int8 tier); see docs/performance.md"
)
_OPENVINO_INSTALL_HINT = (
    "on CPU the fastest paths are the openvino runtime's (pip install youtu-embedding-openvino; "
    "precision bf16, or int8 calibrated); without it dtype='bfloat16'; see docs/performance.md"
)


def cpu_hint(model: nn.Module) -> str:
    """The CPU speed recommendation for `model`: the OpenVINO runtime where it applies, else core bf16."""
    import importlib.util

    if getattr(getattr(model, "config", None), "model_type", None) == "utu":  # not exportable: torch bf16
        return _CPU_HINT
    return _OPENVINO_HINT if importlib.util.find_spec("youtu_embedding_openvino") else _OPENVINO_INSTALL_HINT


@functools.lru_cache(maxsize=1)
def cpu_bf16_supported() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX512-BF16 or AMX) usable by oneDNN."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def quantize_int8(model: nn.Module, device: torch.device) -> nn.Module:
    """Dynamic int8 quantisation (per-channel weights, activations quantised per batch) of linear layers.

    Down-projections (``in_features > out_features``: the FFN output layer that reads the
    post-activation tensor with its outliers) stay in float: quantising them costs most of the
    accuracy (measured on all-MiniLM-L6-v2, mean cosine to float32 0.979 -> 0.989). CPU only.
    """
    if device.type != "cpu":
        raise InvalidArgumentError("quantization", f"int8 dynamic quantisation runs on the CPU only, not {device}")
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and module.in_features <= module.out_features
    }
    with warnings.catch_warnings():  # torch marks torch.ao.quantization as deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, spec, dtype=torch.qint8)


PACKED_KERNEL_NOTES = {
    "flash_attn": "FlashAttention varlen kernel (flash_attn_varlen_func), one call a batch",
    "sdpa_nested": "SDPA on jagged nested tensors, one call a batch (causal rows: SDPA per row)",
    "sdpa_rows": "SDPA per row on its own tokens, no mask",
}


def describe_fast_paths(
    model: nn.Module,
    device: torch.device,
    dtype: torch.dtype,
    quantization: str | None,
    requested_dtype: object,
    *,
    packed_kernel: str | None = None,
    packed_reason: str = "",
) -> dict[str, Any]:
    """Which execution paths are active, and why."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) == "utu" and packed_kernel is not None:
        attention = (
            f"packed variable-length batches (no padding computed; {packed_reason}): "
            f"{PACKED_KERNEL_NOTES.get(packed_kernel, packed_kernel)}"
        )
    elif getattr(config, "model_type", None) == "utu":
        attention = (
            "sdpa (native utu), padded batches: flash kernel for unpadded, bidirectional key-padded and "
            f"right-padded causal batches ({packed_reason or 'padded'})"
        )
    else:
        attention = f"transformers '{getattr(config, '_attn_implementation', None) or 'default'}'"
    if quantization == "int8":
        compute = "int8 dynamic quantised linear layers, down-projections in float (requested)"
    elif dtype == torch.bfloat16:
        native = device.type != "cpu" or cpu_bf16_supported()
        compute = "bfloat16 weights" + (" (native bf16 matmul)" if native else " (emulated: no bf16 instructions)")
    else:
        compute = f"{str(dtype).replace('torch.', '')} weights"
    why = "requested" if requested_dtype not in (None, "auto") else f"'auto' default of the {device.type} backend"
    return {
        "compute": compute,
        "dtype_reason": why,
        "attention": attention,
        "batching": "length-sorted batches under a padded-token budget",
        "inference_mode": True,
        "cpu_bf16_supported": cpu_bf16_supported(),
        "torch_threads": torch.get_num_threads(),
        "hint": None if quantization or dtype != torch.float32 or device.type != "cpu" else cpu_hint(model),
    }
