"""The checked-in stubs are what grpc_tools generates from the checked-in protos."""

from __future__ import annotations

import re
from pathlib import Path

from youtu_embedding.serve.codegen import GENERATED_DIR, generate

# Lines that only record which grpcio-tools / protobuf produced the files.
_VERSION_LINES = re.compile(
    r"^(# Protobuf Python Version: .*|GRPC_GENERATED_VERSION = .*|    \d+,|    '',)$", flags=re.MULTILINE
)


def _content(text: str) -> str:
    return _VERSION_LINES.sub("", text)


def test_generated_stubs_are_current(tmp_path: Path) -> None:
    written = generate(tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in GENERATED_DIR.iterdir() if p.is_file() and p.suffix in (".py", ".pyi"))
    for path in written:
        current = (GENERATED_DIR / path.name).read_text(encoding="utf-8")
        assert _content(current) == _content(path.read_text(encoding="utf-8")), (
            f"{path.name} is stale: run `python -m youtu_embedding.serve.codegen`"
        )


def test_only_tool_versions_are_ignored() -> None:
    """The comparison ignores which tool versions ran, not what the protos say."""
    pb2 = (GENERATED_DIR / "embedding_pb2.py").read_text()
    assert _content(pb2) != _content(pb2.replace("dimensions", "dims"))
    assert _content(pb2) == _content(pb2.replace("Protobuf Python Version: 7", "Protobuf Python Version: 9"))
