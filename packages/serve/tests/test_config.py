"""Settings from flags, environment and file, and their validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.serve.config import load_settings

SERVICES_DIR = Path(__file__).resolve().parents[3] / "services"


def test_precedence_flags_over_environment_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('model = "from-file"\nport = 7000\nmax_batch_tokens = 1000\nmax_batch_requests = 8\n')
    monkeypatch.setenv("YOUTU_SERVE_PORT", "7001")
    monkeypatch.setenv("YOUTU_SERVE_MAX_BATCH_TOKENS", "2000")
    settings = load_settings(config, max_batch_tokens=3000, model=None)
    assert settings.model == "from-file"  # only the file sets it
    assert settings.port == 7001  # environment over file
    assert settings.max_batch_tokens == 3000  # flag over environment
    assert settings.max_batch_requests == 8
    assert settings.host == "127.0.0.1"  # safe default


def test_json_file_and_config_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "serve.json"
    config.write_text('{"model": "m", "grace_period_s": 5}')
    monkeypatch.setenv("YOUTU_SERVE_CONFIG", str(config))
    assert load_settings().grace_period_s == 5


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = SERVICES_DIR / "serve.example.toml"
    if not example.is_file():
        pytest.skip("services/ not in this checkout")
    settings = load_settings(example)
    assert settings.model and settings.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("overrides", "contents", "field"),
    [
        ({"model": "m", "port": 70000}, None, "port"),
        ({"model": "m", "max_concurrent_requests": 0}, None, "max_concurrent_requests"),
        ({"model": "m", "dtype": "int4"}, None, "dtype"),
        ({"model": "m", "quantization": "int4"}, None, "quantization"),
        ({}, 'model = "m"\nruntime_options = "warmup"\n', "runtime_options"),
        ({}, 'model = "m"\nmax_batch_tokns = 5\n', "max_batch_tokns"),
        ({}, "port = 1\n", "model"),
        ({"model": "m", "tls_cert_file": "/nonexistent/cert.pem", "tls_key_file": "/nonexistent/key"}, None, "tls"),
    ],
)
def test_bad_settings_name_the_field(tmp_path: Path, overrides: dict, contents: str | None, field: str) -> None:
    config = None
    if contents is not None:
        config = tmp_path / "bad.toml"
        config.write_text(contents)
    with pytest.raises(InvalidArgumentError) as info:
        load_settings(config, **overrides)
    assert field in str(info.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="config: no such file"):
        load_settings(tmp_path / "absent.toml", model="m")


def test_kubernetes_manifest_probes_use_grpc_health() -> None:
    yaml = pytest.importorskip("yaml")
    manifest = SERVICES_DIR / "kubernetes" / "youtu-embed.yaml"
    if not manifest.is_file():
        pytest.skip("services/ not in this checkout")
    docs = list(yaml.safe_load_all(manifest.read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == 50051, probe
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["serve.toml"]
    tomllib = pytest.importorskip("tomllib")

    settings = tomllib.loads(config)
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > settings["grace_period_s"]
    dockerfile = (SERVICES_DIR / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["youtu-embed", "serve"]' in dockerfile  # exec form: SIGTERM reaches the server


#: A non-default value for every encoder option (EncoderSpec field), as a TOML value and as Python.
SPEC_VALUES = {
    "model": ('"/models/m"', "/models/m"),
    "device": ('"cpu"', "cpu"),
    "dtype": ('"bfloat16"', "bfloat16"),
    "attention": ('"causal"', "causal"),
    "pooling": ('"cls"', "cls"),
    "normalize": ("false", False),
    "max_length": ("128", 128),
    "batch_size": ("8", 8),
    "max_batch_tokens": ("4096", 4096),
    "trust_remote_code": ("true", True),
    "allow_pickle": ("true", True),
    "revision": ('"v1"', "v1"),
    "runtime": ('"inductor"', "inductor"),
    "runtime_options": ('{ num_threads = 2, cache_dir = "/tmp/x" }', {"num_threads": 2, "cache_dir": "/tmp/x"}),
    "quantization": ('"int8"', "int8"),
    "unpadded": ("true", True),
}


def test_every_encoder_option_is_a_config_key_and_round_trips(tmp_path: Path) -> None:
    from youtu_embedding.core.spec import EncoderSpec

    assert set(SPEC_VALUES) == set(EncoderSpec.field_names())  # a new spec field needs a row here
    config = tmp_path / "serve.toml"
    config.write_text("".join(f"{key} = {toml}\n" for key, (toml, _) in SPEC_VALUES.items()))
    settings = load_settings(config)
    expected = {key: value for key, (_, value) in SPEC_VALUES.items()}
    assert settings.encoder_kwargs() == expected  # exactly what Encoder(**kwargs) gets
    again = tmp_path / "again.json"
    again.write_text(settings.model_dump_json(exclude={"api_key"}))
    assert load_settings(again).encoder_kwargs() == expected  # a dumped config loads back the same


def test_encoder_options_from_the_environment_and_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('model = "m"\nmax_length = 64\npooling = "cls"\n')
    monkeypatch.setenv("YOUTU_SERVE_MAX_LENGTH", "96")
    monkeypatch.setenv("YOUTU_SERVE_RUNTIME_OPTIONS", '{"num_threads": 3}')
    settings = load_settings(config, pooling="mean")
    assert (settings.max_length, settings.pooling, settings.runtime_options) == (96, "mean", {"num_threads": 3})
    with pytest.raises(InvalidArgumentError) as info:
        load_settings(config, dtype="float64")
    assert info.value.argument == "dtype"


@pytest.mark.parametrize(
    ("flag", "value", "field"),
    [
        ("--batch-time-slice", "-1", "batch_time_slice_s"),
        ("--max-tokenization-backlog", "0", "max_tokenization_backlog"),
        ("--tokenization-workers", "0", "tokenization_workers"),
    ],
)
def test_scheduler_and_tokenizer_flags_reach_the_settings(flag: str, value: str, field: str) -> None:
    """The flags of the tokenizer pool and the scheduler's time slice are validated as settings: a bad
    value exits 2 naming the field, before any model is loaded."""
    from typer.testing import CliRunner

    from youtu_embedding.core.cli.app import build_app

    result = CliRunner().invoke(build_app(), ["serve", "--model", "no-such-model", flag, value])
    assert result.exit_code == 2, result.output
    assert f"error: {field}:" in result.output
