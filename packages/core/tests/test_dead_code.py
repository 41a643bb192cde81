"""Names that had no caller left are gone (issue 13): nothing re-adds them unnoticed."""

from __future__ import annotations

import importlib

import pytest

REMOVED = [
    ("youtu_embedding.core.pooling", "available_pooling"),
    ("youtu_embedding.core.templates", "available_templates"),
    ("youtu_embedding.core.templates", "TASK_KINDS"),
    ("youtu_embedding.core.cli.io", "read_embeddings_jsonl"),  # test-only: now youtu_embedding.core.testing
    ("youtu_embedding.core.cli.options", "load_encoder"),  # replaced by EncoderSpec.build
    ("youtu_embedding.st.export", "LAYOUT_FILES"),
    ("youtu_embedding.st.mteb_support", "MTEB_TASK_TYPES"),
]


@pytest.mark.parametrize(("module", "name"), REMOVED, ids=lambda v: v if isinstance(v, str) else "")
def test_removed_name_stays_removed(module: str, name: str) -> None:
    try:
        loaded = importlib.import_module(module)
    except ImportError:
        pytest.skip(f"{module} is not installed")
    assert not hasattr(loaded, name)
