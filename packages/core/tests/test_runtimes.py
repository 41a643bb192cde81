"""The runtime extension point: the built-in torch runtime, a plugin runtime, and the errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from youtu_embedding.core import Encoder
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.plugins import get_registry, reset_registry
from youtu_embedding.core.runtimes import Runtime, available_runtimes


def _row_by_row(loaded: Any, *, quantization: str | None, options: dict[str, Any]) -> Any:
    """A real runtime: runs each row of a batch alone, unpadded, and re-pads the hidden states."""
    calls = {"rows": 0}

    def run(*, input_ids: torch.Tensor, attention_mask: torch.Tensor, return_dict: bool = True) -> Any:
        out = torch.zeros(*input_ids.shape, loaded.model.config.hidden_size)
        for i in range(input_ids.shape[0]):
            n = int(attention_mask[i].sum())
            out[i, :n] = loaded.model(input_ids=input_ids[i : i + 1, :n], return_dict=True).last_hidden_state[0]
            calls["rows"] += 1
        return SimpleNamespace(last_hidden_state=out)

    run.describe = lambda: {"rows_run": calls["rows"], "options": options}  # type: ignore[attr-defined]
    return run


def _two_at_once(loaded: Any, *, quantization: str | None, options: dict[str, Any]) -> Any:
    """A real runtime that declares ``concurrent_calls = 2`` and records how many calls overlapped."""
    lock, state = threading.Lock(), {"running": 0, "most": 0, "calls": 0}

    def run(*, input_ids: torch.Tensor, attention_mask: torch.Tensor, return_dict: bool = True) -> Any:
        with lock:
            state["running"] += 1
            state["most"], state["calls"] = max(state["most"], state["running"]), state["calls"] + 1
        try:
            time.sleep(0.05)  # long enough for the other thread's call to start
            with torch.inference_mode():
                return loaded.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
        finally:
            with lock:
                state["running"] -= 1

    run.concurrent_calls = 2  # type: ignore[attr-defined]
    run.describe = lambda: dict(state)  # type: ignore[attr-defined]
    return run


class RowByRowPlugin:
    @hookimpl
    def register_runtimes(self) -> list[Runtime]:
        return [
            Runtime("row-by-row", "one row at a time", _row_by_row),
            Runtime("two-at-once", "two calls at once", _two_at_once),
            Runtime("missing", "needs a package", _row_by_row, unavailable_reason=lambda: "package x is missing"),
        ]


@pytest.fixture
def row_by_row() -> Iterator[None]:
    get_registry().register(RowByRowPlugin(), name="row-by-row-test")
    try:
        yield
    finally:
        reset_registry()


def test_torch_is_the_registered_default(minilm_path: Path) -> None:
    assert "torch" in available_runtimes()
    info = Encoder(minilm_path, device="cpu").info()
    assert (info["runtime"], info["runtime_reason"]) == ("torch", "default")
    assert "PyTorch" in info["runtime_details"]["description"]


def test_a_plugin_runtime_serves_the_encoder(minilm_path: Path, row_by_row: None) -> None:
    texts = ["a short one", "a somewhat longer sentence about the weather today", "third"]
    expected = Encoder(minilm_path, device="cpu").encode(texts)
    enc = Encoder(minilm_path, device="cpu", runtime="row-by-row", runtime_options={"k": 1})
    assert np.allclose(enc.encode(texts), expected, atol=1e-5)
    info = enc.info()
    assert (info["runtime"], info["runtime_reason"]) == ("row-by-row", "requested")
    assert info["runtime_details"] == {"description": "one row at a time", "rows_run": 3, "options": {"k": 1}}


def test_a_runtime_with_concurrent_calls_gets_batches_at_once(
    minilm_path: Path, row_by_row: None, short_and_long_texts: list[str]
) -> None:
    """``concurrent_calls = 2``: the Encoder runs two batches at once (a lone batch is halved), and
    the vectors are the torch runtime's, in input order, for plain and windowed (chunked) inputs."""
    texts = short_and_long_texts[:40]
    torch_enc = Encoder(minilm_path, device="cpu")
    enc = Encoder(minilm_path, device="cpu", runtime="two-at-once")
    np.testing.assert_allclose(enc.encode(texts, batch_size=8), torch_enc.encode(texts, batch_size=8), atol=1e-5)
    assert enc.info()["runtime_details"]["most"] == 2
    calls = enc.info()["runtime_details"]["calls"]
    np.testing.assert_allclose(enc.encode(texts[:4]), torch_enc.encode(texts[:4]), atol=1e-5)
    assert enc.info()["runtime_details"]["calls"] == calls + 2  # one batch of 4, run as two halves
    chunked = {"long_inputs": "chunk", "max_length": 24, "batch_size": 4}
    np.testing.assert_allclose(enc.encode(texts, **chunked), torch_enc.encode(texts, **chunked), atol=1e-5)


def test_runtime_errors_list_the_choices(minilm_path: Path, row_by_row: None) -> None:
    with pytest.raises(InvalidArgumentError, match=r"unknown runtime 'nope' \(allowed: .*row-by-row.*torch") as err:
        Encoder(minilm_path, device="cpu", runtime="nope")
    assert err.value.argument == "runtime"
    with pytest.raises(InvalidArgumentError, match="runtime 'missing' is not available: package x is missing"):
        Encoder(minilm_path, device="cpu", runtime="missing")
    with pytest.raises(InvalidArgumentError, match="unknown quantization 'int8' for runtime 'row-by-row'"):
        Encoder(minilm_path, device="cpu", runtime="row-by-row", quantization="int8")
    with pytest.raises(InvalidArgumentError, match="the torch runtime takes no options"):
        Encoder(minilm_path, device="cpu", runtime_options={"threads": 1})
