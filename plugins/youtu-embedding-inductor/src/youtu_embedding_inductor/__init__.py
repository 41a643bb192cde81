"""torch.compile (Inductor) runtime for youtu-embedding (``Encoder(model, runtime="inductor")``)."""

from youtu_embedding_inductor.options import InductorOptions, parse_options
from youtu_embedding_inductor.runtime import INDUCTOR, InductorModel, prepare_inductor

__all__ = ["INDUCTOR", "InductorModel", "InductorOptions", "parse_options", "prepare_inductor"]
