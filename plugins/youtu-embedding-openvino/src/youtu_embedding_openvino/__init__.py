"""OpenVINO runtime for youtu-embedding (``Encoder(model, runtime="openvino")``)."""

from youtu_embedding_openvino.options import OpenVinoOptions, parse_options
from youtu_embedding_openvino.runtime import OPENVINO, OpenVinoModel, prepare_openvino

__all__ = ["OPENVINO", "OpenVinoModel", "OpenVinoOptions", "parse_options", "prepare_openvino"]
