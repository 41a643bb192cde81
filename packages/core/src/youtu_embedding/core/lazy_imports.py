"""Lazy module attributes (PEP 562): a package's public names imported on first access.

A package ``__init__`` that re-exports names from heavy modules (torch, transformers, grpc...) makes
every ``import package.submodule`` pay for them, the CLI's plugin modules included. Instead::

    from typing import TYPE_CHECKING
    from youtu_embedding.core.lazy_imports import lazy_attributes

    if TYPE_CHECKING:  # what type checkers and IDEs see
        from my_package.model import MyModel

    __getattr__, __dir__ = lazy_attributes(__name__, {"MyModel": "my_package.model"})
    __all__ = ["MyModel"]

``from my_package import MyModel`` keeps working; ``my_package.model`` is imported on that first use.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    module_name: str, attributes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for module `module_name`: name -> the module that defines it."""
    table = dict(attributes)

    def __getattr__(name: str) -> Any:
        source = table.get(name)
        if source is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[module_name], name, value)  # later accesses skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[module_name]), *table})

    return __getattr__, __dir__


__all__ = ["lazy_attributes"]
