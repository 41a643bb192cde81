"""The ``mean_sqrt_len`` pooling strategy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from youtu_embedding.core.pooling import PoolingStrategy

if TYPE_CHECKING:  # tensors arrive from the core; importing this module (the CLI does) stays cheap
    import torch


def mean_sqrt_len_pool(token_embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of the masked token embeddings divided by sqrt(number of pooled tokens).

    Same as sentence-transformers' ``pooling_mode_mean_sqrt_len_tokens``: the mean multiplied by
    ``sqrt(n)``, so longer texts get longer (unnormalised) vectors.
    """
    m = mask.unsqueeze(-1).to(token_embeddings.dtype)
    summed = (token_embeddings * m).sum(dim=1)
    counts = m.sum(dim=1).clamp(min=1e-9)
    return summed / counts.sqrt()


MEAN_SQRT_LEN = PoolingStrategy(
    "mean_sqrt_len", mean_sqrt_len_pool, "sum of token embeddings / sqrt(token count) (example plugin)"
)
