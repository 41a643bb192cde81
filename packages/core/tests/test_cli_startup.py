"""The CLI answers at once: building the app, ``--help``, ``plugins`` and every subcommand's
``--help`` import no heavy module; commands registered by name load on use; imports stay quiet.

Each check runs in a fresh interpreter (a subprocess), because this test process has long imported
torch. Timings are measured by benchmarks/test_bench_cli_startup.py, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from youtu_embedding.core.cli import build_app
from youtu_embedding.core.cli.lazy import LazyCommand, lazy_command, load_command
from youtu_embedding.core.errors import PluginError

#: What building the app or asking for help must not import.
HEAVY = ("torch", "transformers", "sentence_transformers", "grpc", "ray", "mteb", "numpy", "onnxruntime", "torchao")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300, check=False
    )


def test_building_the_app_and_every_help_imports_no_heavy_module() -> None:
    """One fresh interpreter: build the app, then --help, plugins and each subcommand's --help in turn;
    after each, report which heavy modules are loaded (the first command that loads one is named)."""
    result = _python(
        f"""
        import json, sys
        from typer.testing import CliRunner
        from youtu_embedding.core.cli import build_app

        heavy = {HEAVY!r}
        loaded = lambda: [m for m in heavy if m in sys.modules]
        app = build_app()
        steps = {{"build_app": [0, loaded()]}}
        runner = CliRunner()
        names = [c.name for c in app.registered_commands]
        for args in (["--help"], ["plugins"], ["plugins", "--json"], *([n, "--help"] for n in names)):
            r = runner.invoke(app, args)
            steps[" ".join(args)] = [r.exit_code, loaded()]
        print(json.dumps(steps))
        """
    )
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"encode --help", "search --help", "similarity --help", "info --help"} <= set(steps)
    for step, (code, modules) in steps.items():
        assert code == 0, step
        assert modules == [], f"'{step}' imported {modules}"


def test_importing_core_imports_no_heavy_module_and_encoder_resolves_lazily() -> None:
    result = _python(
        """
        import sys
        import youtu_embedding.core as core
        before = [m for m in ("torch", "transformers") if m in sys.modules]
        from youtu_embedding.core import Encoder, similarity
        print(before, Encoder.__module__, "torch" in sys.modules, "Encoder" in dir(core))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "youtu_embedding.core.encoder", "True", "True"]


def test_loading_core_torch_transformers_and_the_runtime_plugins_prints_nothing() -> None:
    """With torchao installed (the inductor plugin's dependency), transformers' import of it used to
    print "Failed to load .../torchao/_C_mxfp8..." and torch two pytree warnings."""
    result = _python(
        """
        from youtu_embedding.core import Encoder
        import transformers.modeling_utils
        from youtu_embedding.core.plugins import get_registry
        runtimes = get_registry().collect("register_runtimes")
        for _, runtime in runtimes.values():
            runtime.unavailable_reason()  # imports the runtime plugins' heavy modules (torchao...)
        print(sorted(runtimes))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "torch" in result.stdout


def test_a_model_load_prints_only_our_own_lines(minilm_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "youtu_embedding.core.cli", "info", "--model", str(minilm_path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no "Loading weights" bar, no third-party warnings
    assert json.loads(result.stdout)["model_type"] == "bert"


def test_every_lazy_command_lists_the_help_of_the_command_it_loads() -> None:
    group = typer.main.get_group(build_app())
    lazy = {name: cmd for name, cmd in group.commands.items() if isinstance(cmd, LazyCommand)}
    assert {"encode", "similarity", "search", "info", "plugins"} <= set(lazy)
    for name, placeholder in lazy.items():
        real = placeholder.load()
        assert placeholder.get_short_help_str(200) == real.get_short_help_str(200), name
        assert placeholder.plugin is not None, name


def test_a_lazy_command_passes_its_arguments_to_the_command_it_loads() -> None:
    app = typer.Typer()
    lazy_command(app, "plugins", "youtu_embedding.core.cli.inspect_commands:plugins", help="List plugins.")
    lazy_command(app, "other", "youtu_embedding.core.cli.inspect_commands:info", help="Another.")
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    assert {"pooling", "commands", "disabled"} <= set(json.loads(result.stdout))
    assert CliRunner().invoke(app, ["plugins", "--help"]).stdout.count("--check") == 1


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_colon", "must be 'module:attribute'"),
        ("youtu_embedding.nowhere:cmd", "ModuleNotFoundError"),
        ("youtu_embedding.core.cli.lazy:missing", "AttributeError"),
        ("youtu_embedding.core.plugins:DISABLE_ENV", "is a str, not a function or a typer.Typer"),
    ],
)
def test_a_lazy_command_with_a_bad_target_is_a_clear_error(target: str, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        load_command("broken", target)


def test_a_broken_lazy_command_reports_one_error_line_and_the_others_work() -> None:
    from youtu_embedding.core.cli.app import ErrorReportingGroup

    app = typer.Typer(cls=ErrorReportingGroup)
    lazy_command(app, "broken", "youtu_embedding.nowhere:cmd", help="Broken.")
    lazy_command(app, "plugins", "youtu_embedding.core.cli.inspect_commands:plugins", help="List plugins.")
    result = CliRunner().invoke(app, ["broken", "--help"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: command 'broken' (youtu_embedding.nowhere:cmd) could not be loaded")
    assert CliRunner().invoke(app, ["plugins", "--json"]).exit_code == 0
