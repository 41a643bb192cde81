"""Built-in pooling strategies: every mode sentence-transformers writes (mean, cls, lasttoken, weightedmean,
max, mean_sqrt_len_tokens)."""

from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.pooling import BUILTIN_POOLING, PoolingStrategy


@hookimpl
def register_pooling_strategies() -> list[PoolingStrategy]:
    return list(BUILTIN_POOLING)
