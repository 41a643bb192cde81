"""Pooling strategies: turn token embeddings into one vector per text.

Every function takes ``token_embeddings`` (B, T, D) and ``mask`` (B, T) where 1 marks the tokens
to pool (padding and excluded instruction tokens are 0), and returns (B, D). They are published as
plugins by :mod:`youtu_embedding.core.builtins.pooling`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by the functions that need it: registering them stays cheap
    import torch

PoolingFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


@dataclass(frozen=True)
class PoolingStrategy:
    """A named pooling function (see module docstring for its contract)."""

    name: str
    fn: PoolingFn
    description: str = ""

    def __call__(self, token_embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.fn(token_embeddings, mask)


def mean_pool(token_embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of the masked token embeddings."""
    m = mask.unsqueeze(-1).to(token_embeddings.dtype)
    summed = (token_embeddings * m).sum(dim=1)
    counts = m.sum(dim=1).clamp(min=1e-9)
    return summed / counts


def cls_pool(token_embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Embedding of the first pooled token (the [CLS] token when nothing is excluded)."""
    import torch

    first = mask.to(torch.int64).argmax(dim=1)
    return token_embeddings[torch.arange(token_embeddings.shape[0], device=first.device), first]


def last_token_pool(token_embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Embedding of the last pooled token (works with right or left padding)."""
    import torch

    seq_len = mask.shape[1]
    positions = torch.arange(seq_len, device=mask.device).expand_as(mask)
    last = torch.where(mask.bool(), positions, torch.full_like(positions, -1)).max(dim=1).values.clamp(min=0)
    return token_embeddings[torch.arange(token_embeddings.shape[0], device=last.device), last]


def weighted_mean_pool(token_embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Position-weighted mean (weight = 1-based position), as sentence-transformers' weightedmean."""
    import torch

    weights = torch.arange(1, mask.shape[1] + 1, device=mask.device, dtype=token_embeddings.dtype)
    m = mask.to(token_embeddings.dtype) * weights
    return (token_embeddings * m.unsqueeze(-1)).sum(dim=1) / m.sum(dim=1, keepdim=True).clamp(min=1e-9)


def mean_sqrt_len_pool(token_embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of the masked token embeddings divided by sqrt(their count), as sentence-transformers'
    ``mean_sqrt_len_tokens`` (the mean times sqrt(n): longer texts get longer unnormalised vectors)."""
    import torch

    m = mask.unsqueeze(-1).to(token_embeddings.dtype)
    return (token_embeddings * m).sum(dim=1) / torch.sqrt(m.sum(dim=1).clamp(min=1e-9))


def max_pool(token_embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over the pooled tokens."""
    import torch

    filled = token_embeddings.masked_fill(~mask.bool().unsqueeze(-1), torch.finfo(token_embeddings.dtype).min)
    return filled.max(dim=1).values


BUILTIN_POOLING = [
    PoolingStrategy("mean", mean_pool, "average of token embeddings (Youtu-Embedding's pooling)"),
    PoolingStrategy("cls", cls_pool, "first token ([CLS])"),
    PoolingStrategy("lasttoken", last_token_pool, "last non-padding token (decoder embedders)"),
    PoolingStrategy("weightedmean", weighted_mean_pool, "position-weighted mean"),
    PoolingStrategy("max", max_pool, "element-wise max over tokens"),
    PoolingStrategy(
        "mean_sqrt_len_tokens",
        mean_sqrt_len_pool,
        "sum of token embeddings / sqrt(token count) (sentence-transformers)",
    ),
]

# sentence-transformers `1_Pooling/config.json` keys -> our strategy names (a `pooling_mode` string
# there is one of these names already: ST's modes are cls, lasttoken, max, mean, mean_sqrt_len_tokens, weightedmean)
ST_POOLING_MODES = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_lasttoken": "lasttoken",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
}


def get_pooling(name: str) -> PoolingStrategy:
    """The pooling strategy registered as `name` (built-in or plugin)."""
    from youtu_embedding.core.plugins import lookup

    return lookup("register_pooling_strategies", "pooling", name)
