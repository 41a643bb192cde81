"""Helpers for runtime plugins that export, compile or convert a loaded model (and cache the result on disk).

Converters (the ONNX exporter, OpenVINO's ``convert_model``, NNCF, ONNX Runtime's quantiser) print
progress and warnings that would break ``--json`` output, and a cache shared by processes must only
ever show finished conversions. Used by the onnxruntime and openvino runtime plugins.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch


class LastHiddenState(torch.nn.Module):
    """``(input_ids, attention_mask) -> last_hidden_state``: the call the encoder makes, as one traceable graph."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).last_hidden_state


def distribution_version(dist: str) -> str:
    """The installed version of distribution ``dist``, or ``"?"`` (for cache keys and runtime details)."""
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "?"


@contextlib.contextmanager
def quiet_conversion() -> Iterator[None]:
    """Keep a converter's prints and warnings off stdout (``--json`` output must stay clean)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """Raise logger ``name`` (``"root"``: the root logger) to ERROR for the block, then restore its level."""
    log = logging.getLogger(name if name != "root" else None)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def publish_conversion(tmp_dir: Path, target: Path, meta: dict[str, Any]) -> None:
    """Move a finished conversion folder into place as ``target.parent``, atomically, with its ``meta.json``.

    A concurrent writer of the same key is harmless: whoever renames first wins, the other's copy is removed.
    """
    (tmp_dir / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp_dir, target.parent)
    except OSError:  # another process published the same key first
        shutil.rmtree(tmp_dir, ignore_errors=True)
