"""Example youtu-embedding plugin.

Provides, through the ``youtu_embedding`` entry-point group:

* the pooling strategy ``mean_sqrt_len`` (sum of the pooled token embeddings divided by the square
  root of their number, as sentence-transformers' ``pooling_mode_mean_sqrt_len_tokens``);
* the instruction template ``instructor`` (``"Represent the {instruction}: "``);
* the CLI command ``youtu-embed count-tokens``.
"""

from youtu_embedding_example_plugin.pooling import MEAN_SQRT_LEN, mean_sqrt_len_pool
from youtu_embedding_example_plugin.templates import INSTRUCTOR, INSTRUCTOR_DEFAULT_INSTRUCTION

__version__ = "0.1.0"

__all__ = ["INSTRUCTOR", "INSTRUCTOR_DEFAULT_INSTRUCTION", "MEAN_SQRT_LEN", "mean_sqrt_len_pool"]
