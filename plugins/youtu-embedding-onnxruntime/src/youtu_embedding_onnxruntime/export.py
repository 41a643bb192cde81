"""Export a loaded model to ONNX and quantise it, cached on disk under a key of model + options + versions."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from youtu_embedding.core.conversion import (
    LastHiddenState,
    distribution_version,
    publish_conversion,
    quiet_conversion,
    quiet_logger,
)
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.runtimes import check_exportable
from youtu_embedding_onnxruntime.options import OrtOptions

if TYPE_CHECKING:
    from youtu_embedding.core.loading import LoadedModel

logger = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "last_hidden_state"
#: Above this many bytes of weights, tensors go to a side file (ONNX protobufs are limited to 2 GB).
EXTERNAL_DATA_BYTES = 1_500_000_000
_VERSIONED = ("torch", "transformers", "onnx", "onnxscript", "onnxruntime", "youtu-embedding-onnxruntime")


def _weights_fingerprint(loaded: LoadedModel) -> list[tuple[str, int, int]]:
    folder = Path(loaded.layout.transformer_dir)
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".json") and p.is_file())
    return [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]


def cache_key(loaded: LoadedModel, options: OrtOptions, quantization: str | None) -> dict[str, Any]:
    """Everything the exported file depends on: model files and config, export/quantisation options, versions."""
    key: dict[str, Any] = {
        "model": str(Path(loaded.layout.root).resolve()),
        "weights": _weights_fingerprint(loaded),
        "config": loaded.model.config.to_json_string(use_diff=False),
        "opset": options.opset,
        "attention": "eager when available",
        "quantization": quantization,
        "versions": {dist: distribution_version(dist) for dist in _VERSIONED},
    }
    if quantization == "int8":
        key.update(per_channel=options.per_channel, reduce_range=options.reduce_range)
    return key


def cache_path(loaded: LoadedModel, options: OrtOptions, quantization: str | None) -> Path:
    """``<cache_dir>/<model name>-<fp32|int8>-<hash>/model.onnx``."""
    key = cache_key(loaded, options, quantization)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(loaded.layout.root).name or "model")[:60]
    return options.cache_dir / f"{name}-{quantization or 'fp32'}-{digest}" / "model.onnx"


@contextlib.contextmanager
def _eager_attention(model: torch.nn.Module) -> Iterator[str | None]:
    """Export with the model's *eager* attention, then restore its implementation.

    The SDPA path of transformers exports as a decomposed attention guarded by ``IsNaN``/``Where``
    (fully masked rows), which ORT runs slowly (measured: 3x slower int8 inference on MiniLM);
    the eager path is the plain MatMul/Softmax pattern that ORT's kernels and fusions handle.
    Yields the implementation used for the export.
    """
    config = getattr(model, "config", None)
    current = getattr(config, "_attn_implementation", None)
    setter = getattr(model, "set_attn_implementation", None)
    switched = False
    if current not in (None, "eager") and callable(setter):
        try:
            setter("eager")
            switched = True
        except Exception:  # a model without an eager implementation is exported as it is
            switched = False
    try:
        yield "eager" if switched or current == "eager" else current
    finally:
        if switched and callable(setter):
            setter(current)


def _check_exportable(loaded: LoadedModel) -> None:
    check_exportable(loaded, "onnxruntime")
    if loaded.dtype != torch.float32:
        dtype = str(loaded.dtype).replace("torch.", "")
        raise InvalidArgumentError(
            "dtype",
            f"the onnxruntime runtime exports float32 models, not {dtype}; use dtype='float32' "
            "(and quantization='int8' for the fast int8 path)",
        )


def export_fp32(loaded: LoadedModel, options: OrtOptions) -> tuple[Path, bool]:
    """The float32 ONNX file of `loaded` (exported now, or found in the cache); returns (path, from cache)."""
    _check_exportable(loaded)
    target = cache_path(loaded, options, None)
    if target.is_file():
        return target, True
    model = LastHiddenState(loaded.model).eval()
    example = torch.tensor([[1, 2, 3, 4, 5, 6], [1, 2, 3, 0, 0, 0]], dtype=torch.long)
    example = example.clamp(max=int(loaded.model.config.vocab_size) - 1)
    mask = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0]], dtype=torch.long)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    big = sum(p.numel() * p.element_size() for p in loaded.model.parameters()) > EXTERNAL_DATA_BYTES
    options.cache_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".export-", dir=options.cache_dir))
    start = time.perf_counter()
    logger.warning("exporting %s to ONNX (once; cached in %s)", loaded.model_id, target.parent)
    try:
        with (
            quiet_conversion(),
            torch.inference_mode(False),
            torch.no_grad(),
            _eager_attention(loaded.model) as attention,
        ):
            program = torch.onnx.export(
                model,
                (example, mask),
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}),
                opset_version=options.opset,
                dynamo=True,
                verbose=False,
            )
            if program is None:  # only the legacy exporter returns None
                raise RuntimeError("torch.onnx.export returned no program")
            program.save(str(tmp_dir / "model.onnx"), external_data=big)
    except Exception as exc:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        model_type = getattr(loaded.model.config, "model_type", "?")
        raise InvalidArgumentError(
            "runtime",
            f"model type '{model_type}' ({type(loaded.model).__name__}) is not supported by the onnxruntime "
            f"runtime: the ONNX export failed ({type(exc).__name__}: {_first_line(exc)}); "
            "use runtime='torch'",
        ) from exc
    meta = {
        "key": cache_key(loaded, options, None),
        "attention": attention,
        "export_seconds": round(time.perf_counter() - start, 2),
    }
    publish_conversion(tmp_dir, target, meta)
    return target, False


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return (text.splitlines() or [""])[0][:300]


def quantize_int8(loaded: LoadedModel, fp32_path: Path, options: OrtOptions) -> tuple[Path, bool]:
    """Dynamic int8 quantisation (ORT ``quantize_dynamic``) of the MatMul/Gemm weights; cached like the export."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = cache_path(loaded, options, "int8")
    if target.is_file():
        return target, True
    tmp_dir = Path(tempfile.mkdtemp(prefix=".quantize-", dir=options.cache_dir))
    start = time.perf_counter()
    logger.warning("quantising %s to int8 (once; cached in %s)", loaded.model_id, target.parent)
    try:
        with quiet_conversion(), quiet_logger("root"):
            quantize_dynamic(
                fp32_path,
                tmp_dir / "model.onnx",
                op_types_to_quantize=["MatMul", "Gemm"],
                per_channel=options.per_channel,
                reduce_range=options.reduce_range,
                weight_type=QuantType.QInt8,
                use_external_data_format=(fp32_path.parent / "model.onnx.data").exists(),
            )
    except Exception:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    meta = {"key": cache_key(loaded, options, "int8"), "quantize_seconds": round(time.perf_counter() - start, 2)}
    publish_conversion(tmp_dir, target, meta)
    return target, False
