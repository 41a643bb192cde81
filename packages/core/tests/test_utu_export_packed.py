"""`utu` is capturable by torch.export with dynamic batch and sequence, and its packed (unpadded) path
equals the padded one; both in float32 on a tiny random model, causal and bidirectional."""

from __future__ import annotations

import pytest
import torch

from youtu_embedding.core.modeling.utu import UtuConfig, UtuModel
from youtu_embedding.core.modeling.utu.varlen import VARLEN_KERNELS, pack_rows, unpack_states


def _model(causal: bool) -> UtuModel:
    torch.manual_seed(0)
    config = UtuConfig(
        vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, head_dim=16, is_causal=causal,
    )  # fmt: skip
    return UtuModel(config).eval()


def _padded(rows: list[list[int]], left: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(r) for r in rows)
    ids, mask = torch.zeros(len(rows), longest, dtype=torch.long), torch.zeros(len(rows), longest, dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(longest - len(row), longest) if left else slice(0, len(row))
        ids[i, span], mask[i, span] = torch.tensor(row), 1
    return ids, mask


ROWS = [torch.randint(3, 300, (n,), generator=torch.Generator().manual_seed(n)).tolist() for n in (5, 17, 3, 9, 17)]


class _States(torch.nn.Module):
    def __init__(self, model: UtuModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


@pytest.mark.parametrize("causal", [False, True])
def test_export_with_dynamic_shapes_equals_eager(causal: bool) -> None:
    model = _model(causal)
    batch, seq = torch.export.Dim("batch", max=1024), torch.export.Dim("seq", max=4096)
    example = _padded(ROWS[:2])
    program = torch.export.export(_States(model), example, dynamic_shapes=({0: batch, 1: seq},) * 2).module()
    for rows, left in ((ROWS, False), (ROWS[1:4], True), ([ROWS[1], ROWS[4]], False)):  # padded and unpadded
        ids, mask = _padded(rows, left)
        with torch.inference_mode():
            expected, got = _States(model)(ids, mask), program(ids, mask)
        assert (((got - expected) * mask[..., None]).abs().max()) < 1e-5


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("kernel", [k for k in VARLEN_KERNELS if k != "flash_attn"])
def test_packed_equals_padded(causal: bool, kernel: str) -> None:
    model = _model(causal)
    ids, mask = _padded(ROWS)
    packed_ids, packed = pack_rows(ROWS, torch.device("cpu"), kernel)
    with torch.inference_mode():
        expected = model(input_ids=ids, attention_mask=mask).last_hidden_state
        packed_states = model(input_ids=packed_ids, packed=packed).last_hidden_state
    states, packed_mask = unpack_states(packed_states, packed.lengths)
    assert torch.equal(packed_mask, mask)
    assert ((states - expected) * mask[..., None]).abs().max() < 1e-5


def test_packed_batch_refuses_a_mask() -> None:
    packed_ids, packed = pack_rows(ROWS[:2], torch.device("cpu"), "sdpa_rows")
    with pytest.raises(ValueError, match="packed batch"):
        _model(False)(input_ids=packed_ids, attention_mask=torch.ones_like(packed_ids), packed=packed)


def test_encoder_unpadded_equals_padded(tiny_utu, short_and_long_texts: list[str]) -> None:
    """Mixed real texts (short sentences, long paragraphs), queries with an instruction: packed == padded."""
    from youtu_embedding.core import Encoder

    padded = Encoder(tiny_utu, device="cpu", unpadded=False)
    packed = Encoder(tiny_utu, device="cpu", unpadded=True)
    texts = short_and_long_texts[:64]
    for encode in ("encode_documents", "encode_queries"):
        expected, got = getattr(padded, encode)(texts), getattr(packed, encode)(texts)
        assert abs(got - expected).max() < 1e-5
    assert "packed variable-length" in packed.info()["fast_paths"]["attention"]
    assert "padded batches" in padded.info()["fast_paths"]["attention"]


def test_unpadded_needs_utu_and_torch(minilm_path) -> None:
    from youtu_embedding.core import Encoder
    from youtu_embedding.core.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="need a utu model and the torch runtime") as err:
        Encoder(minilm_path, device="cpu", unpadded=True)
    assert err.value.argument == "unpadded"
    assert "packed" not in Encoder(minilm_path, device="cpu").info()["fast_paths"]["attention"]


def test_unpadded_is_an_encoder_option_of_every_surface(tiny_utu, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``unpadded`` is a spec field: ``--unpadded`` on the CLI builds the packed encoder (same vectors)."""
    import numpy as np
    from typer.testing import CliRunner

    from youtu_embedding.core.cli.app import build_app
    from youtu_embedding.core.spec import EncoderSpec

    built = EncoderSpec(model=str(tiny_utu), device="cpu", unpadded=True).build()
    assert "packed variable-length" in built.info()["fast_paths"]["attention"]
    texts = tmp_path / "texts.txt"
    texts.write_text("a first short text\na second, somewhat longer text about packed batches\n")
    outs = []
    for flag in ("--unpadded", "--no-unpadded"):
        out = tmp_path / f"{flag}.npy"
        args = ["encode", "-m", str(tiny_utu), "--device", "cpu", flag, "--input", str(texts), "--output", str(out)]
        result = CliRunner().invoke(build_app(), args)
        assert result.exit_code == 0, result.output
        outs.append(np.load(out))
    assert abs(outs[0] - outs[1]).max() < 1e-5
    info = CliRunner().invoke(build_app(), ["info", "-m", str(tiny_utu), "--device", "cpu", "--unpadded"])
    assert info.exit_code == 0 and "packed variable-length" in info.output, info.output
