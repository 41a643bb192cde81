"""No distribution uses another distribution's private (``_``) names.

Every package (``packages/*``) and plugin (``plugins/*``) is scanned with :mod:`ast`, sources and
tests: imports of another distribution's ``_`` modules or names, and attribute uses ``obj._name``
where ``obj`` is (or is built from, or annotated as) something imported from another distribution,
or where ``_name`` is a private name that only another distribution defines. Dunder names are
public; a distribution's own private names (its ``_generated`` protobuf modules...) are its own.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@dataclass
class Distribution:
    name: str
    root: Path
    modules: list[str] = field(default_factory=list)  # top-level module prefixes it owns
    private_names: set[str] = field(default_factory=set)  # `_` names its sources define

    def files(self) -> list[Path]:
        return sorted(
            p for sub in ("src", "tests") for p in (self.root / sub).rglob("*.py") if "_generated" not in p.parts
        )


def find_distributions(root: Path = ROOT) -> list[Distribution]:
    """Each directory of packages/ and plugins/ with a pyproject.toml, and the module prefixes under its src/."""
    found = []
    for parent in ("packages", "plugins"):
        for path in sorted((root / parent).iterdir()):
            src = path / "src"
            if not (path / "pyproject.toml").is_file() or not src.is_dir():
                continue
            dist = Distribution(f"{parent}/{path.name}", path)
            for top in sorted(src.iterdir()):
                if not top.is_dir() or top.name.endswith(".egg-info") or top.name.startswith("."):
                    continue
                if top.name == "youtu_embedding":  # the shared namespace: one sub-package per distribution
                    dist.modules += [f"youtu_embedding.{p.name}" for p in sorted(top.iterdir()) if p.is_dir()]
                else:
                    dist.modules.append(top.name)
            dist.modules = [m for m in dist.modules if not m.endswith("__pycache__")]
            for file in src.rglob("*.py"):
                if "_generated" not in file.parts:
                    dist.private_names |= defined_private_names(ast.parse(file.read_text(encoding="utf-8")))
            found.append(dist)
    return found


def defined_private_names(tree: ast.AST) -> set[str]:
    """`_` names a module defines: functions, classes, assigned names and attributes of ``self``/``cls``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            candidate = node.name
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            candidate = node.id
        elif (  # `self._x = ...`: set on another object (a transformers config...), the name is not ours
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", "cls")
        ):
            candidate = node.attr
        else:
            continue
        if is_private(candidate):
            names.add(candidate)
    return names


def owner(module: str, dists: list[Distribution]) -> Distribution | None:
    best: tuple[int, Distribution] | None = None
    for dist in dists:
        for prefix in dist.modules:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), dist)
    return best[1] if best else None


def _annotation_names(node: ast.AST | None) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} if node is not None else set()


def scan_source(source: str, here: Distribution, dists: list[Distribution], filename: str = "<source>") -> list[str]:
    """Violations in one module of distribution ``here`` (``file:line: what``)."""
    tree = ast.parse(source, filename)
    problems: list[str] = []
    foreign: dict[str, str] = {}  # local name or dotted expression -> the distribution it comes from
    modules: dict[str, str] = {}  # imported module names -> their distribution (`mod.sub._x` counts too)

    def other(module: str) -> Distribution | None:
        dist = owner(module, dists)
        return dist if dist is not None and dist is not here else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                dist = other(alias.name)
                if dist is None:
                    continue
                if any(is_private(part) for part in alias.name.split(".")):
                    problems.append(f"{filename}:{node.lineno}: imports {alias.name} (private module of {dist.name})")
                modules[alias.asname or alias.name] = dist.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            dist = other(node.module)
            if dist is None:
                continue
            if any(is_private(part) for part in node.module.split(".")):
                problems.append(f"{filename}:{node.lineno}: imports from {node.module} (private module of {dist.name})")
            for alias in node.names:
                if is_private(alias.name):
                    problems.append(
                        f"{filename}:{node.lineno}: imports {node.module}.{alias.name} (private to {dist.name})"
                    )
                foreign[alias.asname or alias.name] = dist.name  # an object, or a sub-module:
                modules[alias.asname or alias.name] = dist.name
    # values built from or annotated with foreign names: `enc = Encoder(...)`, `encoder: Encoder`, `self.x = encoder`
    for _ in range(2):  # a second pass follows assignments of names found in the first
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                    hits = _annotation_names(arg.annotation) & foreign.keys()
                    if hits:
                        foreign[arg.arg] = foreign[next(iter(hits))]
            elif isinstance(node, ast.AnnAssign):
                hits = _annotation_names(node.annotation) & foreign.keys()
                if hits:
                    foreign[ast.unparse(node.target)] = foreign[next(iter(hits))]
            elif isinstance(node, ast.Assign):
                value = node.value.func if isinstance(node.value, ast.Call) else node.value
                source_name = ast.unparse(value)
                root = source_name.split(".")[0].split("(")[0]
                dist_name = foreign.get(source_name) or (
                    foreign.get(root) if isinstance(node.value, ast.Call) else None
                )
                if dist_name:
                    for target in node.targets:
                        foreign[ast.unparse(target)] = dist_name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not is_private(node.attr):
            continue
        receiver = ast.unparse(node.value)
        if receiver in ("self", "cls"):
            continue
        dist_name = foreign.get(receiver) or next(
            (d for name, d in modules.items() if receiver == name or receiver.startswith(name + ".")), None
        )
        if dist_name is None and node.attr not in here.private_names:
            dist_name = next((d.name for d in dists if d is not here and node.attr in d.private_names), None)
        if dist_name is not None:
            problems.append(f"{filename}:{node.lineno}: uses {receiver}.{node.attr} (private to {dist_name})")
    return problems


def scan_tree(root: Path = ROOT) -> list[str]:
    dists = find_distributions(root)
    problems: list[str] = []
    for dist in dists:
        for file in dist.files():
            problems += scan_source(file.read_text(encoding="utf-8"), dist, dists, str(file.relative_to(root)))
    return problems


def test_no_distribution_uses_another_distributions_private_names() -> None:
    dists = find_distributions()
    names = {d.name for d in dists}
    assert {"packages/core", "packages/serve", "plugins/youtu-embedding-inductor"} <= names
    assert owner("youtu_embedding.core.encoder", dists).name == "packages/core"  # type: ignore[union-attr]
    assert owner("youtu_embedding_inductor.runtime", dists).name == "plugins/youtu-embedding-inductor"  # type: ignore[union-attr]
    problems = scan_tree()
    assert not problems, "private names used across distributions:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from youtu_embedding.core._quiet_imports import x\n", "private module of packages/core"),
        ("from youtu_embedding.core.encoder import _check_texts\n", "private to packages/core"),
        ("import youtu_embedding.core.encoder as e\ne._positive('a', 1)\n", "e._positive"),
        (  # the pattern serve's engine had: an annotated parameter kept on self
            "from youtu_embedding.core import Encoder\n"
            "class Engine:\n"
            "    def __init__(self, encoder: Encoder):\n"
            "        self.encoder = encoder\n"
            "    def tokenize(self):\n"
            "        return self.encoder._tokenize([], '', 1, True)\n",
            "self.encoder._tokenize",
        ),
        ("from youtu_embedding.core import Encoder\nenc = Encoder('m')\nenc._runner\n", "enc._runner"),
        ("def f(model):\n    return model._requested_dtype\n", "model._requested_dtype"),  # only core defines it
    ],
)
def test_the_scan_finds_each_kind_of_use(source: str, expected: str) -> None:
    dists = find_distributions()
    serve = next(d for d in dists if d.name == "packages/serve")
    problems = scan_source(source, serve, dists)
    assert any(expected in p for p in problems), problems


def test_own_private_names_and_dunders_are_fine() -> None:
    dists = find_distributions()
    serve = next(d for d in dists if d.name == "packages/serve")
    source = (
        "from youtu_embedding.serve._generated import tei_pb2\n"
        "from youtu_embedding.core import Encoder\n"
        "enc = Encoder('m')\n"
        "enc.__class__, enc.__dict__\n"
        "tei_pb2._sym_db\n"
    )
    assert scan_source(source, serve, dists) == []
