"""Bad options and unsupported models fail with clear errors; the CLI exposes the runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from youtu_embedding.core import Encoder
from youtu_embedding.core.cli import build_app
from youtu_embedding.core.errors import InvalidArgumentError


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"threads": 2}, "runtime_options", "unknown option 'threads' of runtime 'inductor'"),
        ({"warmup": "later"}, "runtime_options.warmup", "true or false"),
        ({"max_batch": 1}, "runtime_options.max_batch", "integer >= 2"),
        ({"compute_dtype": "float16"}, "runtime_options.compute_dtype", "unknown dtype 'float16'"),
    ],
)
def test_bad_runtime_options(minilm_path: Path, options: dict, field: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as err:
        Encoder(minilm_path, device="cpu", runtime="inductor", runtime_options=options)
    assert err.value.argument == field


def test_unknown_quantization_names_the_runtime(minilm_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown quantization 'int4' for runtime 'inductor'.*int8"):
        Encoder(minilm_path, device="cpu", runtime="inductor", quantization="int4")


def test_unavailable_without_a_compiler(minilm_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a C++ compiler the runtime is listed as unavailable and asking for it says why."""
    import youtu_embedding_inductor.runtime as runtime

    monkeypatch.setattr(runtime, "cpp_compiler", lambda: None)
    with pytest.raises(InvalidArgumentError, match="runtime 'inductor' is not available: no C\\+\\+ compiler found"):
        Encoder(minilm_path, device="cpu", runtime="inductor")


def test_lazy_compilation_on_first_call(minilm_path: Path, torch_minilm: Encoder) -> None:
    """warmup=false: nothing is compiled until the first encode, which then gives the same vectors."""
    enc = Encoder(minilm_path, device="cpu", runtime="inductor", runtime_options={"warmup": False})
    assert enc.info()["runtime_details"]["compile_seconds"] is None
    texts = ["the cat sat on the mat", "a dog runs in the park"]
    assert np.allclose(enc.encode(texts), torch_minilm.encode(texts), atol=1e-5)
    assert enc.info()["runtime_details"]["compile_seconds"] > 0


@pytest.fixture(scope="module")
def run():
    app, runner = build_app(), CliRunner()

    def invoke(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})

    return invoke


def test_cli_encode_and_info(run, minilm_path: Path, compiled_int8: Encoder, tmp_path: Path) -> None:
    texts = ["How do I bake bread?", "Bread needs flour, water, salt and yeast.", "The train leaves at noon."]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    result = run(
        "encode", "--model", minilm_path, "--input", tmp_path / "in.txt", "--output", tmp_path / "out.npy",
        "--runtime", "inductor", "--quantization", "int8",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert np.allclose(np.load(tmp_path / "out.npy"), compiled_int8.encode(texts), atol=1e-5)
    result = run("info", "--model", minilm_path, "--runtime", "inductor", "--runtime-option", "warmup=false", "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["runtime"] == "inductor" and info["runtime_details"]["compiler"].startswith("torch.compile")


def test_plugins_lists_the_runtime(run) -> None:
    result = run("plugins", "--json", "--check")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    plugin = next(p for p in report["plugins"] if p["name"] == "inductor")
    assert plugin["distribution"] == "youtu-embedding-inductor" and not plugin["builtin"]
    assert plugin["provides"] == {"runtimes": ["inductor"]}
    assert report["runtimes"]["inductor"]["available"] is True
    assert report["runtimes"]["inductor"]["quantizations"] == ["int8"]
