"""Project automation: `nox -s tests lint typecheck bench`.

Every install goes through constraints.txt, which pins torch to the CPU wheel (a looser
requirement would pull a multi-GB CUDA build).
"""

from __future__ import annotations

import re
from pathlib import Path

import nox
import tomllib

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))


def _local_requirements(package: Path, names: set[str]) -> set[str]:
    """Names of this repository's distributions that `package` requires (dependencies and extras)."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    found = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in requirements}
    return found & names


def _install_order(packages: list[Path]) -> list[Path]:
    """Packages ordered so that each comes after the local packages it requires (then by name).

    pip 23 (the venv default on Python 3.11) fails to resolve a package that needs another local package
    (core, or serve for the adapters' test extras) when the needed package's editable install is listed
    after it in the same command.
    """
    by_name = {tomllib.loads((p / "pyproject.toml").read_text())["project"]["name"]: p for p in packages}
    needs = {name: _local_requirements(path, set(by_name)) - {name} for name, path in by_name.items()}
    ordered: list[str] = []
    while len(ordered) < len(by_name):
        ready = sorted(n for n in by_name if n not in ordered and needs[n] <= set(ordered))
        if not ready:
            raise RuntimeError(f"dependency cycle among {sorted(set(by_name) - set(ordered))}")
        ordered.append(ready[0])
    return [by_name[n] for n in ordered]


PACKAGES = _install_order([p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file()])
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"


def install_packages(session: nox.Session, *, extras: str = "test") -> None:
    """Install torch first (pinned), then every package (editable, with extras) and the example plugins."""
    session.install(*CONSTRAINTS, "torch")
    editable = []
    for package in PACKAGES:
        editable += ["-e", f"{package}[{extras}]" if extras else str(package)]
    for plugin in PLUGINS:
        editable += ["-e", str(plugin)]
    session.install(*CONSTRAINTS, *editable)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suites of every package and plugin."""
    install_packages(session)
    # a per-test limit (pytest-timeout) turns any hang into a failure with a stack trace; durations show where time went
    env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    session.run("pytest", "--timeout=900", "--durations=15", *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check over the whole tree."""
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


def typecheck_sources() -> list[str]:
    """Source folders mypy checks: each package's ``youtu_embedding/<name>`` and each plugin's module."""
    packages = [
        module
        for package in PACKAGES
        for module in sorted((package / "src" / "youtu_embedding").iterdir())
        if module.is_dir() and not module.name.startswith(("_", "."))
    ]
    plugins = [
        module
        for plugin in PLUGINS
        for module in sorted((plugin / "src").iterdir())
        if module.is_dir() and not module.name.startswith(("_", ".")) and (module / "__init__.py").is_file()
    ]
    return [str(module.relative_to(ROOT)) for module in packages + plugins]


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy on the source of every package (core first among them) and of every plugin."""
    install_packages(session, extras="")
    session.install(*CONSTRAINTS, "mypy")
    session.run("mypy", *typecheck_sources())


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (pytest-benchmark): JSON results and a Markdown summary of ratios in benchmarks/results/."""
    install_packages(session)
    session.install(*CONSTRAINTS, "pytest-benchmark")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    session.run(
        "pytest",
        "benchmarks",
        "-p",
        "no:cacheprovider",
        "--benchmark-only",
        f"--benchmark-json={out / 'bench.json'}",
        *(session.posargs or []),
        env={"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )
    session.run("python", str(ROOT / "benchmarks" / "summarize.py"), str(out / "bench.json"), str(out / "summary.md"))
