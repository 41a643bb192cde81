"""Options of the ``inductor`` runtime (``Encoder(runtime_options=...)`` / ``--runtime-option KEY=VALUE``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.runtimes import check_option_names, option_bool, option_int

COMPUTE_DTYPES = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class InductorOptions:
    """Options of the ``inductor`` runtime.

    Attributes:
        warmup: compile while the encoder is built (default True), so that the first ``encode``
            is not the one paying for compilation.
        max_batch: the largest batch the compiled graph accepts (default 65536; the encoder's
            batches are far smaller).
        compute_dtype: ``auto`` (the model's dtype), ``float32`` or ``bfloat16``: the dtype of the
            graph's float ops, through autocast. With int8 and a float32 model, ``bfloat16`` keeps
            the quantised weights computed from the float32 checkpoint and runs everything else
            in bf16 (int8-mixed-bf16).
    """

    warmup: bool = True
    max_batch: int = 65536
    compute_dtype: str = "auto"


def parse_options(options: dict[str, Any] | None) -> InductorOptions:
    """Validate ``runtime_options``; unknown keys and bad values raise InvalidArgumentError naming the key."""
    options = dict(options or {})
    check_option_names("inductor", options, [f.name for f in fields(InductorOptions)])
    compute_dtype = options.get("compute_dtype", "auto")
    if compute_dtype not in COMPUTE_DTYPES:
        raise InvalidArgumentError(
            "runtime_options.compute_dtype", f"unknown dtype {compute_dtype!r}", list(COMPUTE_DTYPES)
        )
    return InductorOptions(
        warmup=option_bool("warmup", options.get("warmup", True)),
        max_batch=option_int("max_batch", options.get("max_batch", 65536), 2),
        compute_dtype=compute_dtype,
    )
