"""Start-up time of the ``youtu-embed`` CLI: wall time of a fresh process (what a user waits for).

Group ``cli-startup``: ``youtu-embed --help``, ``plugins``, ``client --help`` and every other
subcommand's ``--help``, each run as a subprocess. Baseline: ``python -c "import torch,
transformers"``, what every one of these commands paid before the CLI became lazy (core's
``__init__`` imported both); ``python -c pass`` is the floor. Target: every command under 1.0 s.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import typer

from youtu_embedding.core.cli import build_app

EXE = shutil.which("youtu-embed") or "youtu-embed"


def _subcommands() -> list[str]:
    group = typer.main.get_group(build_app())
    return sorted(name for name in group.commands if name not in ("plugins", "client"))


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)


def _bench(benchmark, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    benchmark.pedantic(_run, args=(argv,), rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["under_1s"] = benchmark.stats.stats.max < 1.0


@pytest.mark.benchmark(group="cli-startup")
def test_cli_startup_import_torch_transformers_baseline(benchmark) -> None:  # type: ignore[no-untyped-def]
    _bench(benchmark, [sys.executable, "-c", "import torch, transformers"])


@pytest.mark.benchmark(group="cli-startup")
def test_cli_startup_python_floor(benchmark) -> None:  # type: ignore[no-untyped-def]
    _bench(benchmark, [sys.executable, "-c", "pass"])


@pytest.mark.benchmark(group="cli-startup")
@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["client", "--help"]], ids=" ".join)
def test_cli_startup(benchmark, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    _bench(benchmark, [EXE, *args])


@pytest.mark.benchmark(group="cli-startup")
@pytest.mark.parametrize("name", _subcommands())
def test_cli_startup_subcommand_help(benchmark, name: str) -> None:  # type: ignore[no-untyped-def]
    _bench(benchmark, [EXE, name, "--help"])
