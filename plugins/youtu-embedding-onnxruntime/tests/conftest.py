"""Fixtures of the ONNX Runtime plugin tests: the real all-MiniLM-L6-v2, real STS-B data, one export per session."""
# isort: skip_file

from youtu_embedding.core.pytest_fixtures import *  # noqa: F403

from pathlib import Path

import pytest

from youtu_embedding.core import Encoder


@pytest.fixture(scope="session")
def ort_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory shared by the session: the model is exported and quantised once."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def torch_minilm(minilm_path: Path) -> Encoder:
    return Encoder(minilm_path, device="cpu")


@pytest.fixture(scope="session")
def ort_fp32(minilm_path: Path, ort_cache: Path) -> Encoder:
    return Encoder(minilm_path, device="cpu", runtime="onnxruntime", runtime_options={"cache_dir": str(ort_cache)})


@pytest.fixture(scope="session")
def ort_int8(minilm_path: Path, ort_cache: Path) -> Encoder:
    return Encoder(
        minilm_path,
        device="cpu",
        runtime="onnxruntime",
        quantization="int8",
        runtime_options={"cache_dir": str(ort_cache)},
    )
