"""The ``openvino`` runtime: a compiled OpenVINO model that the encoder calls like a Hugging Face model."""

from __future__ import annotations

import functools
import queue
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from transformers.modeling_outputs import BaseModelOutput

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.runtimes import Runtime
from youtu_embedding_openvino.convert import INPUT_NAMES, prepare_ir
from youtu_embedding_openvino.options import OpenVinoOptions, parse_options
from youtu_embedding_openvino.plugin import DESCRIPTION, QUANTIZATIONS

if TYPE_CHECKING:
    from youtu_embedding.core.loading import LoadedModel


@functools.lru_cache(maxsize=1)
def cpu_capabilities() -> tuple[str, ...]:
    """OpenVINO's CPU optimisation capabilities (``FP32``, ``BF16``, ``INT8``...)."""
    import openvino as ov

    return tuple(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def resolve_precision(options: OpenVinoOptions, dtype: torch.dtype) -> str:
    """The inference precision hint: ``auto`` follows the model's dtype (bf16 only for a bfloat16 model)."""
    precision = options.precision
    if precision == "auto":
        precision = "bf16" if dtype == torch.bfloat16 else "f32"
    if precision == "bf16" and "BF16" not in cpu_capabilities():
        raise InvalidArgumentError(
            "runtime_options.precision", "this CPU has no bf16 support in OpenVINO (no AVX512-BF16 or AMX); use f32"
        )
    return precision


class OpenVinoModel:
    """Calls a compiled OpenVINO model with the contract of ``Encoder.token_states``.

    ``model(input_ids=..., attention_mask=..., return_dict=True).last_hidden_state`` is a float32
    torch tensor ``(batch, seq, dim)``. With ``streams`` = N > 1 the model takes up to N calls at once
    (``concurrent_calls``; the Encoder then runs N batches from N threads), each on its own
    inference request and stream of ``num_threads / N`` threads: the streams never wait for each
    other, and one call's Python work overlaps the others' inference.
    """

    def __init__(
        self, path: Path, options: OpenVinoOptions, quantization: str | None, precision: str, from_cache: bool
    ) -> None:
        import openvino as ov

        self.path, self.options, self.quantization = path, options, quantization
        self.precision, self.from_cache = precision, from_cache
        config: dict[str, Any] = {
            "INFERENCE_NUM_THREADS": options.num_threads,
            "NUM_STREAMS": options.streams,
            "INFERENCE_PRECISION_HINT": precision,
            "CACHE_DIR": str(options.cache_dir / "compiled"),  # compiled blobs: a later start is faster
        }
        self.compiled = ov.Core().compile_model(str(path), "CPU", config)
        self.concurrent_calls = options.streams
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()  # idle inference requests, one per stream
        for _ in range(options.streams):
            self._free.put(self.compiled.create_infer_request())

    def __call__(
        self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor, return_dict: bool = True, **unused: Any
    ) -> Any:
        ids = np.ascontiguousarray(input_ids.detach().cpu().numpy(), dtype=np.int64)
        mask = np.ascontiguousarray(attention_mask.detach().cpu().numpy(), dtype=np.int64)
        request = self._free.get()  # blocks while every stream is busy
        try:
            request.infer({INPUT_NAMES[0]: ids, INPUT_NAMES[1]: mask})  # releases the GIL while it runs
            states = torch.from_numpy(request.get_output_tensor(0).data.copy())
        finally:
            self._free.put(request)
        return BaseModelOutput(last_hidden_state=states) if return_dict else (states,)

    def describe(self) -> dict[str, Any]:
        """What runs: the IR file, quantisation, precision, threads, streams."""
        import openvino as ov

        return {
            "ir_file": str(self.path),
            "from_cache": self.from_cache,
            "quantization": (
                "int8 static (NNCF, transformer preset, calibrated on "
                f"{self.options.calibration_samples} texts at most of {self.options.calibration_file})"
                if self.quantization == "int8"
                else "none"
            ),
            "inference_precision": str(self.compiled.get_property("INFERENCE_PRECISION_HINT")),
            "threads": self.options.num_threads,
            "streams": self.options.streams,
            "openvino_version": ov.__version__,
        }


def prepare_openvino(loaded: LoadedModel, *, quantization: str | None, options: dict[str, Any]) -> OpenVinoModel:
    """Convert (and quantise) the loaded model, cached, and compile it for the CPU."""
    parsed = parse_options(options, quantization)
    precision = resolve_precision(parsed, loaded.dtype)
    path, cached = prepare_ir(loaded, parsed, quantization)
    return OpenVinoModel(path, parsed, quantization, precision, cached)


def unavailable_reason() -> str | None:
    """None when OpenVINO with its CPU plugin can be used."""
    try:
        import openvino as ov
    except ImportError as exc:
        return f"openvino is not installed ({exc}); pip install openvino nncf"
    try:
        if "CPU" not in ov.Core().available_devices:
            return "OpenVINO has no CPU device here"
    except RuntimeError as exc:
        return f"OpenVINO's CPU plugin failed to load ({exc})"
    return None


OPENVINO = Runtime(
    "openvino", DESCRIPTION, prepare_openvino, quantizations=QUANTIZATIONS, unavailable_reason=unavailable_reason
)
