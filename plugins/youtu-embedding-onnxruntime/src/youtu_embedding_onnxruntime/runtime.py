"""The ``onnxruntime`` runtime: an ``InferenceSession`` that the encoder calls like a Hugging Face model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from transformers.modeling_outputs import BaseModelOutput

from youtu_embedding.core.runtimes import Runtime
from youtu_embedding_onnxruntime.export import INPUT_NAMES, OUTPUT_NAME, export_fp32, quantize_int8
from youtu_embedding_onnxruntime.options import OrtOptions, parse_options
from youtu_embedding_onnxruntime.plugin import DESCRIPTION, QUANTIZATIONS

if TYPE_CHECKING:
    import onnxruntime as ort

    from youtu_embedding.core.loading import LoadedModel

_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def session_options(options: OrtOptions) -> ort.SessionOptions:
    """Threads, graph optimisation level and spinning of the session."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = options.num_threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[options.optimization_level])
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.allow_spinning else "0")
    return so


class OnnxRuntimeModel:
    """Calls an ONNX Runtime session with the contract of ``Encoder.token_states``.

    ``model(input_ids=..., attention_mask=..., return_dict=True).last_hidden_state`` is a float32
    torch tensor ``(batch, seq, dim)``, as the torch model returns.
    """

    def __init__(self, path: Path, options: OrtOptions, quantization: str | None, from_cache: bool) -> None:
        import onnxruntime as ort

        self.path = path
        self.options = options
        self.quantization = quantization
        self.from_cache = from_cache
        self.session = ort.InferenceSession(str(path), session_options(options), providers=["CPUExecutionProvider"])

    def __call__(
        self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor, return_dict: bool = True, **unused: Any
    ) -> Any:
        feeds = {
            INPUT_NAMES[0]: np.ascontiguousarray(input_ids.detach().cpu().numpy(), dtype=np.int64),
            INPUT_NAMES[1]: np.ascontiguousarray(attention_mask.detach().cpu().numpy(), dtype=np.int64),
        }
        (hidden,) = self.session.run([OUTPUT_NAME], feeds)
        states = torch.from_numpy(hidden)
        return BaseModelOutput(last_hidden_state=states) if return_dict else (states,)

    def describe(self) -> dict[str, Any]:
        """What runs: the ONNX file, quantisation, threads, optimisation level, providers."""
        import onnxruntime as ort

        return {
            "onnx_file": str(self.path),
            "from_cache": self.from_cache,
            "quantization": (
                f"int8 dynamic (MatMul weights, per_channel={self.options.per_channel}, "
                f"reduce_range={self.options.reduce_range})"
                if self.quantization == "int8"
                else "none (float32)"
            ),
            "threads": self.options.num_threads,
            "optimization_level": self.options.optimization_level,
            "allow_spinning": self.options.allow_spinning,
            "providers": self.session.get_providers(),
            "onnxruntime_version": ort.__version__,
        }


def prepare_onnxruntime(loaded: LoadedModel, *, quantization: str | None, options: dict[str, Any]) -> OnnxRuntimeModel:
    """Export (and quantise) the loaded model, cached, and open a session on it."""
    parsed = parse_options(options)
    path, cached = export_fp32(loaded, parsed)
    if quantization == "int8":
        path, cached = quantize_int8(loaded, path, parsed)
    return OnnxRuntimeModel(path, parsed, quantization, cached)


def unavailable_reason() -> str | None:
    """None when onnxruntime with the CPU execution provider can be used."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return f"onnxruntime is not installed ({exc}); pip install onnxruntime"
    if "CPUExecutionProvider" not in ort.get_available_providers():
        return "onnxruntime has no CPUExecutionProvider"
    return None


ONNXRUNTIME = Runtime(
    "onnxruntime",
    DESCRIPTION,
    prepare_onnxruntime,
    quantizations=QUANTIZATIONS,
    unavailable_reason=unavailable_reason,
)
