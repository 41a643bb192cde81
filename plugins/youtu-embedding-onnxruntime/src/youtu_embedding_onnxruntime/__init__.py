"""ONNX Runtime runtime for youtu-embedding (``Encoder(model, runtime="onnxruntime")``)."""

from youtu_embedding_onnxruntime.options import OrtOptions, parse_options
from youtu_embedding_onnxruntime.runtime import ONNXRUNTIME, OnnxRuntimeModel, prepare_onnxruntime

__all__ = ["ONNXRUNTIME", "OnnxRuntimeModel", "OrtOptions", "parse_options", "prepare_onnxruntime"]
