"""The collator's prefix and text mask; config files, flags and their errors."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from youtu_embedding.core.prompts import count_prefix_tokens
from youtu_embedding.train.collate import TRAINING_PREFIX, collate_texts, render_prefix
from youtu_embedding.train.commands import parse_option_flags
from youtu_embedding.train.config import ConfigError, load_config
from youtu_embedding.train.data import Text


def test_prefix_rendering():
    assert render_prefix(Text("Find similar text", "", "a")) == "Instruction: Find similar text Query: "
    assert render_prefix(Text("", "", "a")) == ""
    assert render_prefix(Text("T", "Be brief", "a")) == "Instruction: T Query: Be brief "


@pytest.mark.parametrize("model", ["utu", "minilm"])
def test_text_mask_excludes_the_instruction(model, tiny_utu, minilm_path):
    tok = AutoTokenizer.from_pretrained(tiny_utu if model == "utu" else minilm_path)
    texts = [
        Text("Retrieve semantically similar text", "", "A man is playing a guitar."),
        Text("", "", "Two dogs run."),
    ]
    batch = collate_texts(tok, texts, max_length=64)
    prefix = TRAINING_PREFIX.format(task_instruction=texts[0].task_instruction)
    # where tokenisation does not merge across the boundary, offsets and the release's count agree
    n_prefix = count_prefix_tokens(tok, prefix)
    row = batch.pool_mask[0]
    assert row[:n_prefix].sum() == 0 and row[n_prefix] == 1
    assert int(batch.attention_mask[0].sum()) > int(row.sum())  # prefix attended, not pooled
    assert tok.decode(batch.input_ids[0][row.bool()]).strip().lower().startswith("a man")
    assert bool((batch.pool_mask[1] == batch.attention_mask[1]).all())  # no instruction: pool everything


def test_truncation_keeps_one_pooled_token(tiny_utu):
    tok = AutoTokenizer.from_pretrained(tiny_utu)
    batch = collate_texts(tok, [Text("a very long instruction " * 20, "", "text")], max_length=8)
    assert batch.input_ids.shape[1] == 8 and int(batch.pool_mask.sum()) == 1


def test_yaml_and_toml_configs(tmp_path):
    (tmp_path / "c.yaml").write_text("model: m\ndata: [d]\noutput_dir: out\nlearning_rate: 1.0e-4\nsampler: mixed\n")
    cfg = load_config(tmp_path / "c.yaml", {"epochs": "3"})
    assert cfg.learning_rate == 1e-4 and cfg.sampler == "mixed" and cfg.epochs == 3
    assert cfg.data == [str(tmp_path / "d")] and cfg.output_dir == str(tmp_path / "out")
    assert cfg.ir_temperature == 0.02 and cfg.sts_weight_kl == 5.0 and cfg.seed == 49  # reference defaults
    (tmp_path / "c.toml").write_text('[train]\nmodel = "m"\ndata = ["/abs/d"]\noutput_dir = "/o"\nlora = true\n')
    cfg = load_config(tmp_path / "c.toml")
    assert cfg.lora and cfg.data == ["/abs/d"]


def test_config_errors_name_every_field(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "model: m\ndata: []\noutput_dir: o\nsampler: random\nlearnig_rate: 1\nepochs: 0\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "bad.yaml")
    text = str(info.value)
    for needle in (
        "data: Value error, give at least one",
        "sampler: Input should be",
        "learnig_rate: unknown option",
        "epochs: Input should be greater than or equal to 1",
    ):
        assert needle in text, text
    (tmp_path / "bad.toml").write_text("model = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="use a .yaml, .yml or .toml"):
        (tmp_path / "c.json").write_text("{}")
        load_config(tmp_path / "c.json")


def test_flags_parse_to_options():
    opts = parse_option_flags(
        [
            "--model",
            "m",
            "--data",
            "a",
            "--data=b,c",
            "--no-save-final",
            "--lora",
            "--max-steps",
            "none",
            "--dataset-batch-sizes",
            "sts/x=4",
            "--gradient-checkpointing",
            "false",
        ]
    )
    assert opts == {
        "model": "m",
        "data": ["a", "b", "c"],
        "save_final": False,
        "lora": True,
        "max_steps": None,
        "dataset_batch_sizes": {"sts/x": "4"},
        "gradient_checkpointing": "false",
    }
    with pytest.raises(ConfigError, match="unknown option '--lr'"):
        parse_option_flags(["--lr", "1"])
    with pytest.raises(ConfigError, match="needs a value"):
        parse_option_flags(["--model"])
