"""Bad options fail with clear errors naming the field; the CLI exposes the runtime (plugins, info, encode)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner
from youtu_embedding_openvino.convert import read_calibration_texts

from youtu_embedding.core import Encoder
from youtu_embedding.core.cli import build_app
from youtu_embedding.core.errors import InvalidArgumentError


def _ov(path: Path, cache: Path, quantization: str | None = None, **options: object) -> Encoder:
    opts = {"cache_dir": str(cache), **options}
    return Encoder(path, device="cpu", runtime="openvino", quantization=quantization, runtime_options=opts)


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"threads": 2}, "runtime_options", "unknown option 'threads'"),
        ({"num_threads": 0}, "runtime_options.num_threads", "integer >= 1"),
        ({"precision": "f16"}, "runtime_options.precision", "unknown precision 'f16'"),
        ({"streams": "many"}, "runtime_options.streams", "integer >= 1"),
        ({"calibration_file": "x.txt"}, "runtime_options.calibration_file", "only used with quantization='int8'"),
    ],
)
def test_bad_runtime_options(minilm_path: Path, ov_cache: Path, options: dict, field: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as err:
        _ov(minilm_path, ov_cache, **options)
    assert err.value.argument == field


def test_int8_needs_calibration_texts(minilm_path: Path, ov_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="needs calibration texts") as err:
        _ov(minilm_path, ov_cache, "int8")
    assert err.value.argument == "runtime_options.calibration_file"
    with pytest.raises(InvalidArgumentError, match="no such file"):
        _ov(minilm_path, ov_cache, "int8", calibration_file=str(tmp_path / "missing.txt"))


def test_unknown_quantization_lists_int8(minilm_path: Path, ov_cache: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown quantization 'int4' for runtime 'openvino'.*int8"):
        _ov(minilm_path, ov_cache, "int4")


def test_calibration_file_formats(tmp_path: Path) -> None:
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"text": "a first text"}\n\n{"sentence1": "a second one", "score": 1}\n{"text": "third"}\n')
    assert read_calibration_texts(jsonl, 2) == ["a first text", "a second one"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"label": 3}\n')
    with pytest.raises(InvalidArgumentError, match=r"bad.jsonl:2: no 'text'") as err:
        read_calibration_texts(bad, 10)
    assert err.value.argument == "runtime_options.calibration_file"
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(InvalidArgumentError, match="holds no texts"):
        read_calibration_texts(empty, 10)


def test_utu_is_refused(tiny_utu: Path, ov_cache: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="model type 'utu' is not supported by the openvino runtime"):
        _ov(tiny_utu, ov_cache)


def test_cli_lists_and_uses_the_runtime(minilm_path: Path, ov_cache: Path, ov_f32: Encoder, tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(build_app(), ["plugins"])
    assert listed.exit_code == 0 and "openvino" in listed.output
    texts = tmp_path / "texts.txt"
    texts.write_text("A man is playing a guitar.\nThe weather is lovely today.\n")
    out = tmp_path / "out.npy"
    args = ["encode", "--model", str(minilm_path), "--input", str(texts), "--output", str(out), "--device", "cpu"]
    args += ["--runtime", "openvino", "--runtime-option", f"cache_dir={ov_cache}", "--runtime-option", "precision=f32"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(out), ov_f32.encode(texts.read_text().splitlines()), atol=1e-6)
