"""Helpers for runtime plugins that convert a loaded model into another format and cache it on disk.

Converters (the ONNX exporter, OpenVINO's ``convert_model``, NNCF, ONNX Runtime's quantiser) print
progress and warnings that would break ``--json`` output, and a cache shared by processes must only
ever show finished conversions. Used by the onnxruntime and openvino runtime plugins.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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
