"""Fixtures of the Inductor plugin tests: the real all-MiniLM-L6-v2, compiled once per session."""
# isort: skip_file

from youtu_embedding.core.pytest_fixtures import *  # noqa: F403

from pathlib import Path

import pytest

from youtu_embedding.core import Encoder
from youtu_embedding_inductor.runtime import unavailable_reason

# Inductor's CPU backend compiles C++: on a machine without a compiler the runtime reports itself
# unavailable (test_options_cli.py checks that report); these tests then have nothing to run
_REASON = unavailable_reason()
if _REASON is not None:
    pytest.skip(f"inductor runtime unavailable here: {_REASON}", allow_module_level=True)


@pytest.fixture(scope="session")
def torch_minilm(minilm_path: Path) -> Encoder:
    return Encoder(minilm_path, device="cpu")


@pytest.fixture(scope="session")
def compiled_fp32(minilm_path: Path) -> Encoder:
    return Encoder(minilm_path, device="cpu", runtime="inductor")


@pytest.fixture(scope="session")
def compiled_int8(minilm_path: Path) -> Encoder:
    return Encoder(minilm_path, device="cpu", runtime="inductor", quantization="int8")
