"""Fixtures of the OpenVINO plugin tests: the real all-MiniLM-L6-v2, real STS-B data, one conversion per session."""
# isort: skip_file

from youtu_embedding.core.pytest_fixtures import *  # noqa: F403

from pathlib import Path

import pytest

from youtu_embedding.core import Encoder

CALIBRATION_SAMPLES = 24  # enough for the tests' quality bounds, and quick to calibrate


@pytest.fixture(scope="session")
def ov_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory shared by the session: the model is converted and quantised once."""
    return tmp_path_factory.mktemp("openvino-cache")


@pytest.fixture(scope="session")
def calibration_file(tmp_path_factory: pytest.TempPathFactory, stsb_sentences: list[str]) -> Path:
    """Calibration texts: STS-B dev sentences (one a line) and a few long ones made of joined sentences."""
    long_texts = [" ".join(stsb_sentences[300 + 10 * k : 310 + 10 * k]) for k in range(6)]
    path = tmp_path_factory.mktemp("calibration") / "calibration.txt"
    path.write_text("\n".join(long_texts + stsb_sentences[200 : 200 + CALIBRATION_SAMPLES]) + "\n")
    return path


@pytest.fixture(scope="session")
def torch_minilm(minilm_path: Path) -> Encoder:
    return Encoder(minilm_path, device="cpu")


@pytest.fixture(scope="session")
def ov_f32(minilm_path: Path, ov_cache: Path) -> Encoder:
    options = {"cache_dir": str(ov_cache), "precision": "f32"}
    return Encoder(minilm_path, device="cpu", runtime="openvino", runtime_options=options)


@pytest.fixture(scope="session")
def ov_int8(minilm_path: Path, ov_cache: Path, calibration_file: Path) -> Encoder:
    options = {"cache_dir": str(ov_cache), "calibration_file": str(calibration_file), "calibration_samples": 30}
    return Encoder(minilm_path, device="cpu", runtime="openvino", quantization="int8", runtime_options=options)
