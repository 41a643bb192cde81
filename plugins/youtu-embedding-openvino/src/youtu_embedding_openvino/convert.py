"""Convert a loaded model to OpenVINO IR and quantise it (NNCF static int8), cached on disk.

The cache key covers the model files and config, the quantisation and its calibration texts, and the
versions of the converting libraries, so a changed input never reuses a stale file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import time
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
from youtu_embedding_openvino.options import OpenVinoOptions

if TYPE_CHECKING:
    import openvino as ov

    from youtu_embedding.core.loading import LoadedModel

logger = logging.getLogger(__name__)

INPUT_NAMES = ("input_ids", "attention_mask")
_VERSIONED = ("torch", "transformers", "openvino", "nncf", "youtu-embedding-openvino")


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_key(loaded: LoadedModel, options: OpenVinoOptions, quantization: str | None) -> dict[str, Any]:
    """Everything the IR depends on: model files and config, quantisation and calibration, versions."""
    folder = Path(loaded.layout.transformer_dir)
    files = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".json") and p.is_file())
    key: dict[str, Any] = {
        "model": str(Path(loaded.layout.root).resolve()),
        "weights": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files],
        "config": loaded.model.config.to_json_string(use_diff=False),
        "quantization": quantization,
        "versions": {dist: distribution_version(dist) for dist in _VERSIONED},
    }
    if quantization == "int8" and options.calibration_file is not None:
        key.update(
            calibration=_file_digest(options.calibration_file),
            calibration_samples=options.calibration_samples,
            max_length=loaded.max_length,
        )
    return key


def cache_path(loaded: LoadedModel, options: OpenVinoOptions, quantization: str | None) -> Path:
    """``<cache_dir>/<model name>-<fp|int8>-<hash>/model.xml``."""
    key = cache_key(loaded, options, quantization)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(loaded.layout.root).name or "model")[:60]
    return options.cache_dir / f"{name}-{quantization or 'fp'}-{digest}" / "model.xml"


def check_supported(loaded: LoadedModel) -> None:
    """The shared export refusals, and float32 weights (precision is OpenVINO's choice, not the checkpoint's)."""
    check_exportable(loaded, "openvino")
    if loaded.dtype not in (torch.float32, torch.bfloat16):
        dtype = str(loaded.dtype).replace("torch.", "")
        raise InvalidArgumentError(
            "dtype", f"the openvino runtime runs float32 or bfloat16 models, not {dtype}", ["float32", "bfloat16"]
        )


def convert(loaded: LoadedModel) -> ov.Model:
    """``openvino.convert_model`` of the encoder's call, with dynamic batch and sequence axes (float32 weights)."""
    import openvino as ov

    model = LastHiddenState(loaded.model).eval()
    if loaded.dtype != torch.float32:  # convert the float32 weights; bf16 is chosen at compile time
        import copy

        model = copy.deepcopy(model).float()
    vocab = int(loaded.model.config.vocab_size)
    example = torch.tensor([[1, 2, 3, 4, 5, 6], [1, 2, 3, 0, 0, 0]], dtype=torch.long).clamp(max=vocab - 1)
    mask = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0]], dtype=torch.long)
    inputs = [(name, ov.PartialShape([-1, -1]), ov.Type.i64) for name in INPUT_NAMES]
    try:
        with quiet_conversion(), torch.inference_mode(False), torch.no_grad():
            converted = ov.convert_model(model, example_input=(example, mask), input=inputs)
    except Exception as exc:
        model_type = getattr(loaded.model.config, "model_type", "?")
        first = (re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines() or [""])[0][:300]
        raise InvalidArgumentError(
            "runtime",
            f"model type '{model_type}' ({type(loaded.model).__name__}) is not supported by the openvino runtime: "
            f"the conversion failed ({type(exc).__name__}: {first}); use runtime='torch'",
        ) from exc
    for port, name in zip(converted.inputs, INPUT_NAMES, strict=True):
        port.get_tensor().set_names({name})
    converted.outputs[0].get_tensor().set_names({"last_hidden_state"})
    return converted


def read_calibration_texts(path: Path, limit: int) -> list[str]:
    """Up to `limit` non-empty texts of a ``.txt`` (one a line) or ``.jsonl`` (``text`` / ``sentence1`` field) file."""
    texts: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            if path.suffix == ".jsonl":
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidArgumentError(
                        "runtime_options.calibration_file", f"{path}:{number}: not JSON ({exc.msg})"
                    ) from exc
                text = next((row[k] for k in ("text", "sentence1", "sentence") if isinstance(row.get(k), str)), None)
                if text is None:
                    raise InvalidArgumentError(
                        "runtime_options.calibration_file", f"{path}:{number}: no 'text' (or 'sentence1') string field"
                    )
                line = text
            texts.append(line)
            if len(texts) >= limit:
                break
    if not texts:
        raise InvalidArgumentError("runtime_options.calibration_file", f"{path} holds no texts")
    return texts


def quantize_int8(converted: ov.Model, loaded: LoadedModel, options: OpenVinoOptions) -> ov.Model:
    """NNCF post-training static int8 (transformer preset): activation scales calibrated on the texts given."""
    import nncf

    assert options.calibration_file is not None  # parse_options requires it for int8
    texts = read_calibration_texts(options.calibration_file, options.calibration_samples)
    tok = loaded.tokenizer
    items = []
    for text in texts:
        ids = tok(text, truncation=True, max_length=loaded.max_length, return_attention_mask=False)["input_ids"]
        row = torch.tensor([ids], dtype=torch.long).numpy()
        items.append({"input_ids": row, "attention_mask": (row * 0 + 1)})
    with quiet_conversion(), quiet_logger("nncf"):
        return nncf.quantize(
            converted,
            nncf.Dataset(items),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(items),
        )


def prepare_ir(loaded: LoadedModel, options: OpenVinoOptions, quantization: str | None) -> tuple[Path, bool]:
    """The IR file for `loaded` (converted, and quantised, now or found in the cache); returns (path, from cache)."""
    import openvino as ov

    check_supported(loaded)
    target = cache_path(loaded, options, quantization)
    if target.is_file():
        return target, True
    options.cache_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".convert-", dir=options.cache_dir))
    start = time.perf_counter()
    logger.warning("converting %s to OpenVINO (once; cached in %s)", loaded.model_id, target.parent)
    try:
        converted = convert(loaded)
        if quantization == "int8":
            converted = quantize_int8(converted, loaded, options)
        ov.save_model(converted, tmp_dir / "model.xml", compress_to_fp16=False)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    meta = {"key": cache_key(loaded, options, quantization), "seconds": round(time.perf_counter() - start, 2)}
    publish_conversion(tmp_dir, target, meta)
    return target, False
