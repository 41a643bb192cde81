"""The training loop on real data with tiny real models: exact resume after kill -9, options, saved layout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from youtu_embedding.train import load_config, train


@pytest.fixture(scope="module")
def small_data(tmp_path_factory, data_dir) -> Path:
    """A folder with 3 real sub-datasets (IR with hard negatives, IR without, STS), 96 items each."""
    root = tmp_path_factory.mktemp("data")
    for src in ("ir/simclue-rank", "ir/sick-entailment", "sts/stsb-en"):
        (root / src).parent.mkdir(parents=True, exist_ok=True)
        lines = (data_dir / "train" / f"{src}.jsonl").read_text(encoding="utf-8").splitlines()[:96]
        (root / f"{src}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, minilm_path) -> Path:
    """A 2-layer, hidden-32 BERT (random weights, dropout 0.1) with MiniLM's real tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    path = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(cfg).save_pretrained(path)
    AutoTokenizer.from_pretrained(minilm_path).save_pretrained(path)
    return path


def _youtu() -> str:
    return shutil.which("youtu-embed") or str(Path(sys.executable).parent / "youtu-embed")


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_kill_9_then_resume_reproduces_the_loss_curve(tiny_bert, small_data, tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(
        f"model: {tiny_bert}\ndata: [{small_data}]\noutput_dir: run\nmax_steps: 36\nsave_steps: 5\n"
        "ir_batch_size: 8\nsts_batch_size: 16\nmax_length: 64\nnum_threads: 1\nlearning_rate: 1.0e-3\n"
        "progress: false\nkeep_checkpoints: 2\nseed: 3\nsave_final: false\nepochs: 2\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    # the uninterrupted run
    subprocess.run(
        [_youtu(), "train", str(config), "--output-dir", str(tmp_path / "full")],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    full = _losses(tmp_path / "full")
    assert len(full) == 36
    # the same run, killed with SIGKILL in the middle, then resumed
    crashed = tmp_path / "crash"
    proc = subprocess.Popen(
        [_youtu(), "train", str(config), "--output-dir", str(crashed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    metrics = crashed / "metrics.jsonl"
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 13:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(_losses(crashed))
    assert 13 <= done < 36
    checkpoints = sorted(p.name for p in (crashed / "checkpoints").glob("step-*"))
    assert checkpoints and all(not p.startswith(".tmp") for p in checkpoints)
    resumed = subprocess.run(
        [_youtu(), "train", str(config), "--output-dir", str(crashed), "--resume", "auto"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = _losses(crashed)
    assert len(after) == 36
    np.testing.assert_allclose(after, full, rtol=0, atol=1e-6)


def test_training_options_and_saved_layout(tiny_utu, small_data, tmp_path):
    base = {
        "model": str(tiny_utu),
        "data": [str(small_data)],
        "max_length": 48,
        "num_threads": 1,
        "ir_batch_size": 4,
        "sts_batch_size": 8,
        "progress": False,
        "learning_rate": 2e-3,
    }
    # plain fp32 run: the loss goes down on real data
    res = train({**base, "output_dir": str(tmp_path / "plain"), "max_steps": 24, "save_every_epoch": False})
    assert res.global_step == 24 and len(res.losses) == 24
    first = [json.loads(x) for x in (tmp_path / "plain" / "metrics.jsonl").read_text().splitlines()]
    ir_losses = [m["loss"] for m in first if m["task"] == "ir"]
    assert np.mean(ir_losses[-4:]) < np.mean(ir_losses[:4])
    assert {"sts_pearson", "sts_kl", "sts_pro", "sts_mid_infonce"} <= set(next(m for m in first if m["task"] == "sts"))
    # the final utu model loads in the core and in sentence-transformers (which also pools BOS)
    from sentence_transformers import SentenceTransformer

    from youtu_embedding.core import Encoder

    texts = ["A man is playing a guitar.", "Two dogs run through the snow."]
    ours = Encoder(str(res.final_model), device="cpu").encode(texts)
    st = SentenceTransformer(str(res.final_model), device="cpu").encode(texts, normalize_embeddings=True)
    assert ours.shape == st.shape == (2, 64) and float((ours * st).sum(1).min()) > 0.95
    info = json.loads((res.final_model / "1_Pooling" / "config.json").read_text())
    assert info["include_prompt"] is False and info["pooling_mode_mean_tokens"] is True
    # options: grad accumulation, gradient checkpointing, bf16 autocast, mixed sampler, LoRA
    for name, extra in {
        "accum-ckpt-bf16": {"grad_accum": 2, "gradient_checkpointing": True, "precision": "bf16"},
        "mixed": {"sampler": "mixed", "batch_size": 6},
        "lora": {"lora": True, "lora_r": 4, "lora_target_modules": ["q_proj", "v_proj"]},
        "infonce": {"sts_loss": "infonce", "sts_infonce_threshold": 0.5},
    }.items():
        r = train({**base, **extra, "output_dir": str(tmp_path / name), "max_steps": 3, "save_every_epoch": False})
        assert r.global_step == 3 and all(np.isfinite(r.losses)), name
        assert Encoder(str(r.final_model), device="cpu").encode(texts).shape == (2, 64)
    lora_state = json.loads((tmp_path / "lora" / "final" / "config.json").read_text())
    assert lora_state["model_type"] == "utu"  # adapters merged back into a plain utu checkpoint


def test_encoder_final_model_matches_sentence_transformers(tiny_bert, small_data, tmp_path):
    from sentence_transformers import SentenceTransformer

    from youtu_embedding.core import Encoder

    res = train(
        {
            "model": str(tiny_bert),
            "data": [str(small_data)],
            "output_dir": str(tmp_path / "bert"),
            "max_steps": 2,
            "ir_batch_size": 4,
            "sts_batch_size": 4,
            "max_length": 32,
            "num_threads": 1,
            "progress": False,
            "prefix_template": "",
            "save_every_epoch": False,
        }
    )
    texts = ["A man is playing a guitar.", "Two dogs run through the snow."]
    ours = Encoder(str(res.final_model), device="cpu").encode(texts)
    st = SentenceTransformer(str(res.final_model), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(ours, st, atol=1e-5)
    before = Encoder(str(tiny_bert), device="cpu").encode(texts)
    assert not np.allclose(before, ours, atol=1e-4)  # it was trained


def test_bad_data_fails_with_file_line_errors_in_the_cli(tiny_utu, tmp_path):
    broken = Path(__file__).parent / "fixtures" / "broken.jsonl"
    cmd = [_youtu(), "train", "--model", str(tiny_utu), "--data", str(broken), "--output-dir", str(tmp_path / "o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: 7 invalid training line(s):")
    assert f"{broken}:2: invalid JSON" in proc.stderr and f"{broken}:6: query[2] (text) is empty" in proc.stderr
    ok = subprocess.run(
        [_youtu(), "train-data", "validate", str(broken), "--skip-invalid"], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0 and "2 sts item(s), 7 skipped" in ok.stdout and f"{broken}:4:" in ok.stderr


def test_config_file_and_flags_through_load_config(tmp_path):
    (tmp_path / "c.toml").write_text('model = "m"\ndata = ["d"]\noutput_dir = "o"\n')
    cfg = load_config(tmp_path / "c.toml", {"sampler": "single"})
    assert cfg.sampler == "single" and cfg.batch_sizes()["all"] == 32
