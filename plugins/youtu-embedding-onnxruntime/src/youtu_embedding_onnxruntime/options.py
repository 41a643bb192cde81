"""Options of the ``onnxruntime`` runtime (``Encoder(runtime_options=...)`` / ``--runtime-option KEY=VALUE``)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.runtimes import check_option_names, option_bool, option_int

OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")
MIN_OPSET = 18  # the torch.export-based exporter emits opset 18 and later
DEFAULT_OPSET = 20  # opset 20 has a native Gelu op (one kernel instead of the Erf pattern)


def default_cache_dir() -> Path:
    """``$YOUTU_EMBED_ONNX_CACHE``, else ``$XDG_CACHE_HOME/youtu-embedding/onnx`` (``~/.cache/...``)."""
    env = os.environ.get("YOUTU_EMBED_ONNX_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "youtu-embedding" / "onnx"


@functools.lru_cache(maxsize=1)
def cpu_has_vnni() -> bool:
    """Whether the CPU has VNNI (AVX512-VNNI or AVX-VNNI) int8 dot products.

    Without VNNI, ORT's u8s8 int8 kernels can saturate; ``reduce_range`` (7-bit weights) avoids it.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return any(flag in flags.split() for flag in ("avx512_vnni", "avx_vnni", "amx_int8"))


@dataclass(frozen=True)
class OrtOptions:
    """Options of the ``onnxruntime`` runtime.

    Attributes:
        cache_dir: where exported / quantised models are kept (default :func:`default_cache_dir`).
        num_threads: intra-op threads of the session (default: torch's thread count, which
            follows ``Encoder(num_threads=...)`` and ``YOUTU_EMBED_NUM_THREADS``).
        optimization_level: ORT graph optimisations: disable, basic, extended or all (default;
            fuses LayerNorm, GELU, attention...).
        opset: ONNX opset of the export (>= 18; default 20, which has a native ``Gelu``).
        per_channel: int8 weights quantised per output channel (default True; more accurate).
        reduce_range: 7-bit int8 weights; default: only on CPUs without VNNI.
        allow_spinning: let idle session threads spin-wait between runs (default False: the encoder
            runs torch pooling between batches, and spinning ORT threads then compete with torch's
            threads; measured faster without spinning on a loaded 2-core machine).
    """

    cache_dir: Path
    num_threads: int
    optimization_level: str = "all"
    opset: int = DEFAULT_OPSET
    per_channel: bool = True
    reduce_range: bool = False
    allow_spinning: bool = False


def parse_options(options: dict[str, Any] | None) -> OrtOptions:
    """Validate ``runtime_options``; unknown keys and bad values raise InvalidArgumentError naming the key."""
    import torch

    options = dict(options or {})
    check_option_names("onnxruntime", options, [f.name for f in fields(OrtOptions)])
    level = options.get("optimization_level", "all")
    if level not in OPTIMIZATION_LEVELS:
        raise InvalidArgumentError(
            "runtime_options.optimization_level", f"unknown level {level!r}", list(OPTIMIZATION_LEVELS)
        )
    reduce_range = options.get("reduce_range")
    cache_dir = options.get("cache_dir")
    return OrtOptions(
        cache_dir=Path(cache_dir).expanduser() if cache_dir else default_cache_dir(),
        num_threads=option_int("num_threads", options.get("num_threads", torch.get_num_threads()), 1),
        optimization_level=level,
        opset=option_int("opset", options.get("opset", DEFAULT_OPSET), MIN_OPSET),
        per_channel=option_bool("per_channel", options.get("per_channel", True)),
        reduce_range=not cpu_has_vnni() if reduce_range is None else option_bool("reduce_range", reduce_range),
        allow_spinning=option_bool("allow_spinning", options.get("allow_spinning", False)),
    )
