"""Delta-guided fusion and the uniform soup, against the formula computed by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from youtu_embedding.train.merge import merge_models, merge_tensors


def test_merge_tensors_formula():
    base = torch.tensor([0.0, 1.0, 2.0, 3.0])
    a = torch.tensor([1.0, 1.0, 1.0, 3.5])  # deltas +1, 0, -1, +0.5
    b = torch.tensor([3.0, 1.0, 2.5, 2.5])  # deltas +3, 0, +0.5, -0.5
    uniform = merge_tensors(base, [a, b], "uniform")
    torch.testing.assert_close(uniform, (a + b) / 2)
    delta = merge_tensors(base, [a, b], "delta", alpha=1.0)
    want = []
    for i in range(4):
        da, db = float(a[i] - base[i]), float(b[i] - base[i])
        wa, wb = (abs(da) / (abs(da) + abs(db)), abs(db) / (abs(da) + abs(db))) if abs(da) + abs(db) else (0.5, 0.5)
        want.append(float(base[i]) + wa * da + wb * db)
    torch.testing.assert_close(delta, torch.tensor(want))
    assert delta[0] == pytest.approx(2.5)  # same sign: closer to the larger move (uniform: 2.0)
    assert delta[2] == pytest.approx(1.5)  # opposite signs: d_a + d_b instead of their mean
    torch.testing.assert_close(merge_tensors(base, [a, b], "delta", alpha=0.0), uniform)
    torch.testing.assert_close(merge_tensors(base, [a, a], "delta"), a)  # identical fine-tunes: unchanged
    # alpha = -1: agreeing deltas -> their harmonic mean, conflicting deltas cancel, an unmoved one wins
    consensus = merge_tensors(base, [a, b], "delta", alpha=-1.0)
    assert consensus[0] == pytest.approx(2 * 1 * 3 / (1 + 3))  # base 0 + harmonic mean of +1 and +3
    assert consensus[2] == pytest.approx(2.0, abs=1e-6) and consensus[3] == pytest.approx(3.0, abs=1e-6)
    assert consensus[1] == pytest.approx(1.0)
    c = torch.tensor([0.0, 1.0, 2.0, 4.0])  # only the last parameter moved
    assert merge_tensors(base, [a, c], "delta", alpha=-1.0)[0] == pytest.approx(0.0, abs=1e-6)


def _fake_tune(src: Path, dst: Path, seed: int) -> Path:
    import shutil

    shutil.copytree(src, dst)
    weights = load_file(dst / "model.safetensors")
    g = torch.Generator().manual_seed(seed)
    tuned = {
        k: v + 0.01 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v for k, v in weights.items()
    }
    save_file(tuned, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def test_merge_models_on_tiny_utu_and_cli(tiny_utu, tmp_path):
    a = _fake_tune(tiny_utu, tmp_path / "a", 1)
    b = _fake_tune(tiny_utu, tmp_path / "b", 2)
    out = merge_models(tiny_utu, [a, b], tmp_path / "soup", method="uniform")
    wa, wb, wm = (load_file(p / "model.safetensors") for p in (a, b, out))
    for k in wm:
        torch.testing.assert_close(wm[k], (wa[k] + wb[k]) / 2)
    assert json.loads((out / "merge_info.json").read_text())["method"] == "uniform"
    youtu = Path(sys.executable).parent / "youtu-embed"
    proc = subprocess.run(
        [str(youtu), "merge", str(tiny_utu), str(a), str(b), "--output", str(tmp_path / "delta")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    from youtu_embedding.core import Encoder

    emb = Encoder(str(tmp_path / "delta"), device="cpu").encode(["A man is playing a guitar."])
    assert emb.shape == (1, 64)
    again = subprocess.run(
        [str(youtu), "merge", str(tiny_utu), str(a), "--output", str(tmp_path / "delta")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 2 and "exists and is not empty" in again.stderr


def test_merge_rejects_mismatched_checkpoints(tiny_utu, tmp_path):
    from youtu_embedding.core.testing import make_tiny_utu

    other = make_tiny_utu(tmp_path / "other", hidden_size=32, head_dim=8)
    with pytest.raises(ValueError, match="base shape"):
        merge_models(tiny_utu, [other], tmp_path / "x")
    with pytest.raises(ValueError, match="method must be one of"):
        merge_models(tiny_utu, [tiny_utu], tmp_path / "y", method="ties")
