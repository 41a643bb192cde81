"""Bad options fail with clear errors; the CLI exposes the runtime (info, encode, plugins)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from youtu_embedding.core import Encoder
from youtu_embedding.core.cli import build_app
from youtu_embedding.core.errors import InvalidArgumentError


def _ort(path: Path, cache: Path, **kwargs: object) -> Encoder:
    options = {"cache_dir": str(cache), **kwargs.pop("runtime_options", {})}  # type: ignore[dict-item]
    return Encoder(path, device="cpu", runtime="onnxruntime", runtime_options=options, **kwargs)  # type: ignore[arg-type]


def test_unknown_runtime_lists_the_registered_ones(minilm_path: Path) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        Encoder(minilm_path, device="cpu", runtime="tensorrt")
    assert err.value.argument == "runtime"
    assert "unknown runtime 'tensorrt'" in str(err.value)
    assert "onnxruntime" in str(err.value) and "torch" in str(err.value)


def test_unknown_quantization_names_the_runtime(minilm_path: Path, ort_cache: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown quantization 'int4' for runtime 'onnxruntime'.*int8"):
        _ort(minilm_path, ort_cache, quantization="int4")


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"threads": 2}, "runtime_options", "unknown option 'threads'"),
        ({"num_threads": 0}, "runtime_options.num_threads", "integer >= 1"),
        ({"optimization_level": "max"}, "runtime_options.optimization_level", "unknown level 'max'"),
        ({"opset": 13}, "runtime_options.opset", "integer >= 18"),
        ({"per_channel": "maybe"}, "runtime_options.per_channel", "true or false"),
    ],
)
def test_bad_runtime_options(minilm_path: Path, ort_cache: Path, options: dict, field: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as err:
        _ort(minilm_path, ort_cache, runtime_options=options)
    assert err.value.argument == field


def test_torch_runtime_takes_no_options(minilm_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="the torch runtime takes no options"):
        Encoder(minilm_path, device="cpu", runtime_options={"num_threads": 2})


def test_non_float32_is_refused(minilm_path: Path, ort_cache: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="exports float32 models, not bfloat16") as err:
        _ort(minilm_path, ort_cache, dtype="bfloat16")
    assert err.value.argument == "dtype"


def test_utu_is_refused_clearly(tiny_utu: Path, ort_cache: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="model type 'utu' is not supported by the onnxruntime runtime"):
        _ort(tiny_utu, ort_cache)


def test_threads_option_reaches_the_session(minilm_path: Path, ort_fp32: Encoder, ort_cache: Path) -> None:
    one = _ort(minilm_path, ort_cache, runtime_options={"num_threads": 1, "allow_spinning": True})
    assert one.info()["runtime_details"]["threads"] == 1 and one.info()["runtime_details"]["allow_spinning"] is True
    assert one.runner.session.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]
    texts = ["the cat sat on the mat", "a dog runs in the park"]
    assert np.allclose(one.encode(texts), ort_fp32.encode(texts), atol=1e-6)


@pytest.fixture(scope="module")
def run():
    app, runner = build_app(), CliRunner()

    def invoke(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})

    return invoke


def test_cli_info_shows_the_runtime(run, minilm_path: Path, ort_cache: Path) -> None:
    result = run(
        "info", "--model", minilm_path, "--runtime", "onnxruntime", "--quantization", "int8",
        "--runtime-option", f"cache_dir={ort_cache}", "--runtime-option", "num_threads=1", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)  # the exporter's prints stay off stdout
    assert info["runtime"] == "onnxruntime" and info["quantization"] == "int8"
    assert info["runtime_details"]["threads"] == 1
    assert Path(info["runtime_details"]["onnx_file"]).is_file()


def test_cli_encode_with_the_runtime(
    run, minilm_path: Path, ort_cache: Path, ort_int8: Encoder, tmp_path: Path
) -> None:
    texts = ["How do I bake bread?", "Bread needs flour, water, salt and yeast.", "The train leaves at noon."]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    result = run(
        "encode", "--model", minilm_path, "--input", tmp_path / "in.txt", "--output", tmp_path / "out.npy",
        "--runtime", "onnxruntime", "--quantization", "int8", "--runtime-option", f"cache_dir={ort_cache}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert np.allclose(np.load(tmp_path / "out.npy"), ort_int8.encode(texts), atol=1e-6)


def test_cli_bad_runtime_option_is_an_error_line(run, minilm_path: Path) -> None:
    result = run("info", "--model", minilm_path, "--runtime", "onnxruntime", "--runtime-option", "num_threads")
    assert result.exit_code == 2
    assert "error: runtime-option: expected KEY=VALUE, got 'num_threads'" in result.stderr


def test_plugins_lists_the_runtime(run) -> None:
    result = run("plugins", "--json", "--check")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    plugin = next(p for p in report["plugins"] if p["name"] == "onnxruntime")
    assert plugin["distribution"] == "youtu-embedding-onnxruntime" and not plugin["builtin"]
    assert plugin["provides"] == {"runtimes": ["onnxruntime"]}
    runtimes = report["runtimes"]
    assert runtimes["onnxruntime"]["available"] is True and runtimes["onnxruntime"]["quantizations"] == ["int8"]
    assert runtimes["torch"]["plugin"] == "runtimes"
    table = run("plugins")
    assert "onnxruntime" in table.stdout and "runtimes" in table.stdout
