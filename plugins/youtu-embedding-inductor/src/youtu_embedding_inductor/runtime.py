"""The ``inductor`` runtime: the network optionally quantised to dynamic int8 (torchao, per-token
activations), captured by ``torch.export`` and compiled by ``torch.compile`` (Inductor C++ kernels,
oneDNN int8/bf16 GEMMs)."""

from __future__ import annotations

import copy
import functools
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

import torch
from transformers.modeling_outputs import BaseModelOutput

from youtu_embedding.core.conversion import LastHiddenState
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.runtimes import Runtime, check_exportable
from youtu_embedding_inductor.options import InductorOptions, parse_options
from youtu_embedding_inductor.plugin import DESCRIPTION, QUANTIZATIONS

if TYPE_CHECKING:
    from youtu_embedding.core.loading import LoadedModel

#: Inductor settings while it compiles: freezing folds the (quantised) weights into constants, which
#: lets it pre-pack them for oneDNN and fuse quantise -> int8 GEMM -> dequantise. They are applied
#: around every call (a recompilation for a new shape class must see them too), not process-wide.
INDUCTOR_CONFIG = {"freezing": True}


@functools.lru_cache(maxsize=1)
def cpp_compiler() -> str | None:
    """The C++ compiler Inductor will use, or None when there is none (Inductor's CPU backend needs one)."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        return str(get_cpp_compiler())
    except Exception:
        return None


def unavailable_reason() -> str | None:
    """None when torch.compile's CPU backend and torchao's int8 quantisation can be used here."""
    try:
        import torchao  # noqa: F401  (its import-time warnings are quietened by the core)
    except ImportError as exc:
        return f"torchao is not installed ({exc}); pip install torchao"
    if cpp_compiler() is None:
        return "no C++ compiler found (Inductor's CPU backend compiles C++ kernels; install g++ or set CXX)"
    return None


def _check_supported(loaded: LoadedModel) -> None:
    check_exportable(loaded, "inductor", allow=("utu",))
    if loaded.dtype not in (torch.float32, torch.bfloat16):
        dtype = str(loaded.dtype).replace("torch.", "")
        raise InvalidArgumentError(
            "dtype", f"the inductor runtime runs float32 or bfloat16 models, not {dtype}", ["float32", "bfloat16"]
        )


def _max_positions(loaded: LoadedModel) -> int:
    """The longest sequence the graph must accept: the model's position table (or the encoder's limit)."""
    positions = int(getattr(loaded.model.config, "max_position_embeddings", 0) or 0)
    return max(positions, int(loaded.max_length or 0), 8)


def _export(module: torch.nn.Module, loaded: LoadedModel, options: InductorOptions) -> torch.fx.GraphModule:
    """``torch.export`` with dynamic batch and sequence axes; unused outputs (e.g. BERT's pooler) removed."""
    example = torch.tensor([[1, 2, 3, 4, 5, 6], [1, 2, 3, 0, 0, 0]], dtype=torch.long)
    example = example.clamp(max=int(loaded.model.config.vocab_size) - 1)
    mask = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0]], dtype=torch.long)
    batch = torch.export.Dim("batch", max=options.max_batch)
    seq = torch.export.Dim("sequence", max=_max_positions(loaded))
    try:
        with torch.inference_mode(False), torch.no_grad():
            program = torch.export.export(module, (example, mask), dynamic_shapes=({0: batch, 1: seq},) * 2)
    except Exception as exc:
        model_type = getattr(loaded.model.config, "model_type", "?")
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise InvalidArgumentError(
            "runtime",
            f"model type '{model_type}' ({type(loaded.model).__name__}) is not supported by the inductor runtime: "
            f"torch.export failed ({type(exc).__name__}: {first}); use runtime='torch'",
        ) from exc
    graph = program.module()
    # dead code (BERT's pooler feeds nothing we return) would otherwise reach the quantiser, whose
    # linear+activation patterns assume every matched partition has an output
    graph.graph.eliminate_dead_code()
    graph.recompile()
    return graph  # type: ignore[return-value]


def quantize_int8_per_token(network: torch.nn.Module) -> torch.nn.Module:
    """int8 weights per output channel, activations quantised per token at run time (in place).

    torchao's ``Int8DynamicActivationInt8WeightConfig`` on every linear layer: symmetric int8
    weights with one scale per output channel, and each token's activation row quantised with
    its own scale, so a text's vector never depends on the other rows of its batch (a per-batch
    scale would let one long outlier-rich row change every other row's rounding). Inductor lowers
    the int8 ``_int_mm`` and its scales to oneDNN int8 GEMMs (VNNI / AMX).
    """
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_(network, Int8DynamicActivationInt8WeightConfig(), filter_fn=_feeds_hidden_states)
    return network


def _feeds_hidden_states(module: torch.nn.Module, name: str) -> bool:
    """Linear layers that compute the last hidden states: BERT's pooler feeds nothing we return."""
    return isinstance(module, torch.nn.Linear) and "pooler" not in name.split(".")


class InductorModel:
    """Calls the compiled graph with the contract of ``Encoder.token_states``.

    ``model(input_ids=..., attention_mask=..., return_dict=True).last_hidden_state`` is a float32
    torch tensor ``(batch, seq, dim)``. With ``dtype`` bfloat16 (the model's, or the
    ``compute_dtype`` option) the graph runs under bf16 autocast (int8 GEMMs with bf16 elsewhere
    when quantised: Intel's "int8-mixed-bf16" recipe).
    """

    def __init__(
        self, compiled: Any, *, quantization: str | None, dtype: torch.dtype, options: InductorOptions
    ) -> None:
        self.compiled = compiled
        self.quantization = quantization
        self.dtype = dtype
        self.options = options
        self.compile_seconds: float | None = None
        self._compile_lock = threading.Lock()
        from torch._inductor import config  # imported here, not at plugin discovery (slow) nor per batch

        self._inductor_config = config

    def _run(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # the compiled graph is dynamic from 2 up; a size of 1 would be specialised and cost a second
        # compilation, so a lone row is duplicated and a lone position gets a masked pad after it
        batch, seq = input_ids.shape
        if batch == 1:
            input_ids, attention_mask = input_ids.expand(2, -1), attention_mask.expand(2, -1)
        if seq == 1:
            input_ids = torch.nn.functional.pad(input_ids, (0, 1))
            attention_mask = torch.nn.functional.pad(attention_mask, (0, 1))
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.dtype == torch.bfloat16)
        with self._inductor_config.patch(INDUCTOR_CONFIG), autocast:
            states = self.compiled(input_ids.contiguous(), attention_mask.contiguous())
        return states[:batch, :seq]  # type: ignore[no-any-return]

    def __call__(
        self, *, input_ids: torch.Tensor, attention_mask: torch.Tensor, return_dict: bool = True, **unused: Any
    ) -> Any:
        if self.compile_seconds is None:  # the first call compiles; concurrent callers wait for it
            with self._compile_lock:
                if self.compile_seconds is None:
                    self.warm_up()
        states = self._run(input_ids, attention_mask).float()
        return BaseModelOutput(last_hidden_state=states) if return_dict else (states,)

    def warm_up(self) -> float:
        """Compile now (one dynamic-shape graph) and return the seconds it took."""
        start = time.perf_counter()
        # the encoder's tensors are inference tensors: compile for those; Inductor's lowering warns
        # about its own tensor copies, which says nothing to the user
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ids = torch.ones(2, 8, dtype=torch.long)
            mask = torch.ones_like(ids)
            mask[1, 5:] = 0
            self._run(ids, mask)
        self.compile_seconds = round(time.perf_counter() - start, 2)
        return self.compile_seconds

    def describe(self) -> dict[str, Any]:
        """What runs: the quantisation, the compute dtype, the compiler and how long compiling took."""
        import torchao

        quantization = (
            "int8 dynamic (torchao Int8DynamicActivationInt8WeightConfig: per-channel int8 weights, "
            "activations quantised per token, independent of batch-mates)"
            if self.quantization == "int8"
            else "none"
        )
        return {
            "compiler": f"torch.compile (inductor, dynamic shapes, freezing) with {cpp_compiler()}",
            "quantization": quantization,
            "compute_dtype": "bfloat16 autocast" if self.dtype == torch.bfloat16 else "float32",
            "compile_seconds": self.compile_seconds,
            "threads": torch.get_num_threads(),
            "torch_version": torch.__version__,
            "torchao_version": torchao.__version__,
        }


def prepare_inductor(loaded: LoadedModel, *, quantization: str | None, options: dict[str, Any]) -> InductorModel:
    """Export (and quantise) the loaded model, compile it, and compile now unless ``warmup=false``."""
    parsed = parse_options(options)
    _check_supported(loaded)
    network = loaded.model.eval()
    if quantization == "int8":
        # quantised from float32 weights, in place (the float weights are not kept twice); a bf16
        # model is quantised from a float32 copy and its dtype stays for autocast
        float_network = network if loaded.dtype == torch.float32 else copy.deepcopy(network).float()
        network = quantize_int8_per_token(float_network)
    graph = _export(LastHiddenState(network).eval(), loaded, parsed)
    compiled = torch.compile(graph, dynamic=True)
    compute = loaded.dtype if parsed.compute_dtype == "auto" else getattr(torch, parsed.compute_dtype)
    model = InductorModel(compiled, quantization=quantization, dtype=compute, options=parsed)
    if parsed.warmup:
        model.warm_up()
    return model


INDUCTOR = Runtime(
    "inductor",
    DESCRIPTION,
    prepare_inductor,
    quantizations=QUANTIZATIONS,
    unavailable_reason=unavailable_reason,
)
