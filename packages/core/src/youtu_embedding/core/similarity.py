"""Similarity functions between two sets of embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from youtu_embedding.core.errors import InvalidArgumentError

SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dtype in (torch.int8, torch.uint8):
        raise InvalidArgumentError(name, "quantised embeddings cannot be compared; use float embeddings")
    t = t.float()
    if t.ndim == 1:
        t = t.unsqueeze(0)
    if t.ndim != 2:
        raise InvalidArgumentError(name, f"must be a vector or a matrix, got shape {tuple(t.shape)}")
    return t


def similarity(a: Any, b: Any, fn: str = "cosine") -> np.ndarray | torch.Tensor:
    """Matrix of similarities between the rows of `a` and `b` (torch in -> torch out, else numpy)."""
    if fn not in SIMILARITY_FUNCTIONS:
        raise InvalidArgumentError("fn", f"unknown similarity function '{fn}'", SIMILARITY_FUNCTIONS)
    ta, tb = _as_tensor(a, "a"), _as_tensor(b, "b")
    if ta.shape[1] != tb.shape[1]:
        raise InvalidArgumentError("b", f"dimension {tb.shape[1]} does not match a's dimension {ta.shape[1]}")
    if fn == "cosine":
        scores = F.normalize(ta, dim=-1) @ F.normalize(tb, dim=-1).T
    elif fn == "dot":
        scores = ta @ tb.T
    elif fn == "euclidean":
        scores = -torch.cdist(ta, tb, p=2)
    else:
        scores = -torch.cdist(ta, tb, p=1)
    torch_in = isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor)
    return scores if torch_in else scores.numpy()
