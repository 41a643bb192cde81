"""Project automation: `nox -s tests lint typecheck bench`.

Every install goes through constraints.txt, which pins torch to the CPU wheel (a looser
requirement would pull a multi-GB CUDA build).
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
# core first: pip 23 (the venv default on Python 3.11) fails to resolve a package that needs core when that
# package's editable install is listed before core's in the same command
_FOUND = (p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
PACKAGES = sorted(_FOUND, key=lambda p: (p.name != "core", p.name))
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
