"""Bad input gets a specific error naming the argument (and the allowed values)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from youtu_embedding.core import Encoder, InputTooLongError, InvalidArgumentError


@pytest.fixture(scope="module")
def enc(tiny_utu: Path) -> Encoder:
    return Encoder(tiny_utu, max_length=128)


def test_empty_list_gives_empty_matrix(enc: Encoder) -> None:
    out = enc.encode([])
    assert out.shape == (0, enc.dimension) and out.dtype == np.float32
    assert enc.encode([], precision="int8").shape == (0, enc.dimension)
    assert enc.encode([], convert_to_tensor=True).shape == (0, enc.dimension)


def test_single_string_gives_vector(enc: Encoder) -> None:
    assert enc.encode("hello").shape == (enc.dimension,)


@pytest.mark.parametrize(
    ("texts", "argument"),
    [
        (None, "texts"),
        (["ok", None], "texts[1]"),
        (["ok", 3], "texts[1]"),
        (["ok", ""], "texts[1]"),
        (["  \n"], "texts[0]"),
        (42, "texts"),
    ],
)
def test_invalid_texts(enc: Encoder, texts: object, argument: str) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        enc.encode(texts)  # type: ignore[arg-type]
    assert err.value.argument == argument and argument in str(err.value)


def test_unknown_prompt_name_lists_allowed(enc: Encoder) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"prompt_name: unknown prompt name 'qeury'.*allowed: document, passage, query"
    ):
        enc.encode(["x"], prompt_name="qeury")


def test_conflicting_prompt_arguments(enc: Encoder) -> None:
    with pytest.raises(InvalidArgumentError, match="prompt_name/instruction"):
        enc.encode(["x"], prompt_name="query", instruction="find")


@pytest.mark.parametrize("value", [0, -5])
def test_max_length_must_be_positive(enc: Encoder, value: int) -> None:
    with pytest.raises(InvalidArgumentError, match="max_length: must be a positive integer"):
        enc.encode(["x"], max_length=value)


@pytest.mark.parametrize("name", ["batch_size", "max_batch_tokens"])
def test_batch_limits_must_be_positive(enc: Encoder, name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"{name}: must be a positive integer"):
        enc.encode(["x"], **{name: 0})


def test_truncate_dim_larger_than_dimension(enc: Encoder) -> None:
    with pytest.raises(InvalidArgumentError, match=r"truncate_dim: 65 is larger than the model dimension 64"):
        enc.encode(["x"], truncate_dim=65)


def test_unknown_precision_lists_allowed(enc: Encoder) -> None:
    with pytest.raises(
        InvalidArgumentError,
        match=r"precision: unknown precision 'int4'.*float32, float16, int8, uint8, binary, ubinary",
    ):
        enc.encode(["x"], precision="int4")


def test_unknown_pooling_lists_allowed(enc: Encoder, tiny_utu: Path) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"pooling: unknown pooling 'avg'.*cls.*lasttoken.*max.*mean.*weightedmean"
    ):
        enc.encode(["x"], pooling="avg")
    with pytest.raises(InvalidArgumentError, match="pooling: unknown pooling 'avg'"):
        Encoder(tiny_utu, pooling="avg")


def test_unknown_template_and_task(enc: Encoder) -> None:
    with pytest.raises(InvalidArgumentError, match=r"template: unknown template 'bert'.*youtu"):
        enc.encode(["x"], instruction="i", template="bert")
    with pytest.raises(
        InvalidArgumentError, match=r"task: template 'youtu' has no instruction for task 'Foo'.*T2Retrieval"
    ):
        enc.encode(["x"], task="Foo")


def test_unknown_options_at_load(tiny_utu: Path) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"attention: unknown attention direction 'sideways'.*causal, bidirectional"
    ):
        Encoder(tiny_utu, attention="sideways")
    with pytest.raises(InvalidArgumentError, match=r"dtype: unknown dtype 'float8'"):
        Encoder(tiny_utu, dtype="float8")
    with pytest.raises(InvalidArgumentError, match=r"device: unknown device 'tpu'.*cpu.*cuda.*mps"):
        Encoder(tiny_utu, device="tpu")
    with pytest.raises(InvalidArgumentError, match="prefix_mask: unknown method 'chars'"):
        Encoder(tiny_utu, prefix_mask="chars")


def test_very_long_input_truncated_or_rejected(enc: Encoder) -> None:
    long_text = ("The weather is lovely today and it is sunny outside. " * 4000)[:200_000]
    assert len(long_text) == 200_000
    vec = enc.encode([long_text, "short"])
    assert vec.shape == (2, enc.dimension) and np.isfinite(vec).all()
    assert len(enc.tokenize(long_text)[0]) == 128
    with pytest.raises(
        InputTooLongError, match=r"texts\[1\]: has \d+ tokens, more than max_length=128, and truncation is off"
    ):
        enc.encode(["short", long_text], truncate=False)
    # nothing lost: the encoder keeps working after an error
    assert enc.encode(["short"]).shape == (1, enc.dimension)


def test_prefix_longer_than_max_length(enc: Encoder) -> None:
    with pytest.raises(InvalidArgumentError, match="leaving no text to embed"):
        enc.encode(["text"], prompt="a very long instruction " * 20, max_length=16)
