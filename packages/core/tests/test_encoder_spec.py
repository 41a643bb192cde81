"""One option bundle: ``EncoderSpec`` and the CLI option set generated from it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from youtu_embedding.core.cli import build_app
from youtu_embedding.core.cli.lazy import LazyCommand
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.spec import DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_TOKENS, EncoderSpec

#: Every command that loads a model, with the distribution that provides it.
MODEL_COMMANDS = {
    "encode": "youtu_embedding.core",
    "similarity": "youtu_embedding.core",
    "search": "youtu_embedding.core",
    "info": "youtu_embedding.core",
    "batch": "youtu_embedding.bulk",
    "eval": "youtu_embedding.eval",
    "serve": "youtu_embedding.serve",
    "count-tokens": "youtu_embedding_example_plugin",
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def commands() -> dict[str, Any]:
    group = typer.main.get_group(build_app())
    return {
        name: cmd.load() if isinstance(cmd, LazyCommand) else cmd
        for name, cmd in group.commands.items()
        if name in MODEL_COMMANDS
    }


@pytest.mark.parametrize("name", sorted(MODEL_COMMANDS))
def test_every_model_command_exposes_every_spec_option(commands, name: str) -> None:  # type: ignore[no-untyped-def]
    if not _installed(MODEL_COMMANDS[name]):
        pytest.skip(f"{MODEL_COMMANDS[name]} is not installed")
    params = {p.name: p for p in commands[name].params}
    missing = sorted(set(EncoderSpec.field_names()) - set(params))
    assert not missing, f"'{name}' lacks {missing}"
    for field, info in EncoderSpec.model_fields.items():
        assert params[field].help == info.description, (name, field)  # one help text, from the spec


def test_search_and_similarity_take_runtime_and_quantization(commands) -> None:  # type: ignore[no-untyped-def]
    for name in ("search", "similarity"):
        flags = {opt for p in commands[name].params for opt in p.opts}
        assert {"--runtime", "--runtime-option", "--quantization", "--max-batch-tokens", "--revision"} <= flags


def test_spec_defaults_are_the_encoders() -> None:
    from youtu_embedding.core.encoder import DEFAULT_BATCH_SIZE as ENCODER_BATCH_SIZE
    from youtu_embedding.core.encoder import DEFAULT_MAX_BATCH_TOKENS as ENCODER_MAX_BATCH_TOKENS

    assert (DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_TOKENS) == (ENCODER_BATCH_SIZE, ENCODER_MAX_BATCH_TOKENS)
    spec = EncoderSpec(model="m")
    assert spec.encoder_kwargs() == {
        "model": "m",
        "device": "auto",
        "dtype": "auto",
        "attention": None,
        "pooling": None,
        "normalize": None,
        "max_length": None,
        "batch_size": DEFAULT_BATCH_SIZE,
        "max_batch_tokens": DEFAULT_MAX_BATCH_TOKENS,
        "trust_remote_code": False,
        "allow_pickle": False,
        "revision": None,
        "runtime": "torch",
        "runtime_options": {},
        "quantization": None,
        "unpadded": None,
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"max_length": 0}, "max_length"),
        ({"dtype": "float64"}, "dtype"),
        ({"attention": "sideways"}, "attention"),
        ({"batch_size": -1}, "batch_size"),
        ({"not_an_option": 1}, "not_an_option"),
    ],
)
def test_a_bad_spec_value_names_its_field(values: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        EncoderSpec.from_options(model="m", **values)
    assert info.value.argument == field


def test_the_cli_reports_a_bad_option_in_one_line_naming_it() -> None:
    result = CliRunner().invoke(build_app(), ["info", "--model", "all-MiniLM-L6-v2", "--max-length", "0"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: max_length: Input should be greater than 0"
    result = CliRunner().invoke(build_app(), ["info", "--model", "m", "--runtime-option", "novalue"])
    assert result.exit_code == 2 and "runtime-option: expected KEY=VALUE, got 'novalue'" in result.stderr


def test_info_builds_the_encoder_that_the_options_describe(minilm_path: Path) -> None:
    args = ["info", "--model", str(minilm_path), "--device", "cpu", "--dtype", "float32", "--json"]
    extra = ["--max-length", "64", "--quantization", "int8", "--pooling", "cls", "--no-normalize"]
    result = CliRunner().invoke(build_app(), [*args, *extra])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["max_length"], info["quantization"], info["pooling"], info["normalize"]) == (64, "int8", "cls", False)


def test_search_runs_with_a_runtime_and_int8(tmp_path: Path, minilm_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the mat.\nStock markets fell sharply today.\nA kitten sleeps on a rug.\n")
    args = ["search", "--model", str(minilm_path), "--corpus", str(corpus), "--top-k", "2", "--json"]
    options = ["--runtime", "torch", "--quantization", "int8", "--no-cache"]
    result = CliRunner().invoke(build_app(), [*args, *options, "cat"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["results"][0]["hits"]
    assert {h["snippet"] for h in hits} == {"The cat sat on the mat.", "A kitten sleeps on a rug."}


def test_only_given_options_reach_a_command_that_merges_them_with_a_config() -> None:
    from youtu_embedding.core.cli.options import encoder_options

    app = typer.Typer()

    @app.command("run")
    @encoder_options(only_given=True)
    def run(spec_options: dict[str, Any], port: int = 1) -> None:
        typer.echo(json.dumps({"port": port, **spec_options}, sort_keys=True))

    @app.command("other")
    def other() -> None:  # a second command, so that typer keeps the subcommand name
        pass

    result = CliRunner().invoke(app, ["run", "--dtype", "bfloat16", "--runtime-option", "num_threads=2", "--port", "7"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"dtype": "bfloat16", "port": 7, "runtime_options": {"num_threads": 2}}
    assert json.loads(CliRunner().invoke(app, ["run"]).stdout) == {"port": 1}  # --model is optional here
    result = CliRunner().invoke(app, ["run", "--batch-size", "64", "--no-normalize", "--trust-remote-code"])
    assert json.loads(result.stdout) == {"batch_size": 64, "normalize": False, "port": 1, "trust_remote_code": True}
