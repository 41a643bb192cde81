"""Options of the ``openvino`` runtime (``Encoder(runtime_options=...)`` / ``--runtime-option KEY=VALUE``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.runtimes import check_option_names, option_int

PRECISIONS = ("auto", "f32", "bf16")
DEFAULT_CALIBRATION_SAMPLES = 300


def default_cache_dir() -> Path:
    """``$YOUTU_EMBED_OPENVINO_CACHE``, else ``$XDG_CACHE_HOME/youtu-embedding/openvino`` (``~/.cache/...``)."""
    env = os.environ.get("YOUTU_EMBED_OPENVINO_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "youtu-embedding" / "openvino"


@dataclass(frozen=True)
class OpenVinoOptions:
    """Options of the ``openvino`` runtime.

    Attributes:
        cache_dir: where converted / quantised models (OpenVINO IR) are kept (default
            :func:`default_cache_dir`).
        num_threads: CPU threads OpenVINO uses (default: torch's thread count, which follows
            ``Encoder(num_threads=...)`` and ``YOUTU_EMBED_NUM_THREADS``).
        precision: OpenVINO's inference precision for the float ops: ``auto`` (the model's dtype:
            ``bf16`` for a bfloat16 model, else ``f32``), ``f32`` or ``bf16`` (needs AVX512-BF16 or
            AMX; OpenVINO's own default on such CPUs).
        streams: parallel inference streams (default 1), each on ``num_threads / streams`` threads.
            With more, the model takes that many calls at once (``concurrent_calls``) and
            ``Encoder.encode`` runs that many batches at once, one per stream.
        calibration_file: texts that calibrate the static int8 activation scales
            (``quantization="int8"``, required then): a ``.txt`` file (one text a line) or a
            ``.jsonl`` file (the ``text`` or ``sentence1`` field of each row). The scales are fixed
            once, so a text's vector does not depend on its batch-mates.
        calibration_samples: how many of its texts are used (default 300).
    """

    cache_dir: Path
    num_threads: int
    precision: str = "auto"
    streams: int = 1
    calibration_file: Path | None = None
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES


def parse_options(options: dict[str, Any] | None, quantization: str | None = None) -> OpenVinoOptions:
    """Validate ``runtime_options``; unknown keys and bad values raise InvalidArgumentError naming the key."""
    import torch

    options = dict(options or {})
    check_option_names("openvino", options, [f.name for f in fields(OpenVinoOptions)])
    precision = str(options.get("precision", "auto")).lower()
    if precision not in PRECISIONS:
        raise InvalidArgumentError("runtime_options.precision", f"unknown precision {precision!r}", list(PRECISIONS))
    calibration = options.get("calibration_file")
    calibration_path = Path(calibration).expanduser() if calibration else None
    if quantization == "int8":
        if calibration_path is None:
            raise InvalidArgumentError(
                "runtime_options.calibration_file",
                "quantization='int8' needs calibration texts for its static activation scales: "
                "pass calibration_file=PATH (a .txt file, one text a line, or a .jsonl file with a 'text' field)",
            )
        if not calibration_path.is_file():
            raise InvalidArgumentError("runtime_options.calibration_file", f"no such file: {calibration_path}")
    elif calibration_path is not None:
        raise InvalidArgumentError(
            "runtime_options.calibration_file", "only used with quantization='int8' (static int8 calibration)"
        )
    cache_dir = options.get("cache_dir")
    return OpenVinoOptions(
        cache_dir=Path(cache_dir).expanduser() if cache_dir else default_cache_dir(),
        num_threads=option_int("num_threads", options.get("num_threads", torch.get_num_threads()), 1),
        precision=precision,
        streams=option_int("streams", options.get("streams", 1), 1),
        calibration_file=calibration_path,
        calibration_samples=option_int(
            "calibration_samples", options.get("calibration_samples", DEFAULT_CALIBRATION_SAMPLES), 1
        ),
    )
