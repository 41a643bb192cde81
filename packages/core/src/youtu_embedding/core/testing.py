"""Helpers that build tiny, real checkpoints for tests (no download): a byte-level BPE tokenizer
in the Llama-3 layout and a random-weight `utu` model saved in Hugging Face layout.

Used by the test suites of every package; also handy for trying the library without the 2B model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"


def read_jsonl(path: str | Path) -> list[dict]:
    """Rows of a JSON-lines file (blank lines ignored)."""
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_embeddings_jsonl(path: str | Path) -> tuple[Any, list[str | None]]:
    """Read back a ``.jsonl`` written by ``youtu-embed encode``: the float32 (or integer) matrix and the ids."""
    import numpy as np

    rows = read_jsonl(path)
    matrix = np.asarray([row["embedding"] for row in rows])
    ids = [row.get("id") for row in rows]
    return (matrix.astype(np.float32) if matrix.dtype.kind == "f" else matrix), ids


def read_stsb_pairs(data_dir: str | Path, split: str = "test") -> tuple[list[str], list[float]]:
    """STS-B en pairs (``<data_dir>/eval/sts/stsb-en``): all first sentences, then all second ones; gold scores."""
    rows = read_jsonl(Path(data_dir) / "eval" / "sts" / "stsb-en" / f"{split}.jsonl")
    return [r["sentence1"] for r in rows] + [r["sentence2"] for r in rows], [float(r["score"]) for r in rows]


def pair_spearman(embeddings: Any, gold: Sequence[float]) -> float:
    """Spearman x 100 of the pair cosines (first half of `embeddings` against the second, normalised) and `gold`."""
    from scipy.stats import spearmanr

    n = len(gold)
    return 100 * float(spearmanr((embeddings[:n] * embeddings[n:]).sum(1), gold).statistic)


_SEED_TEXTS = [
    "What's the weather like? The weather is lovely today. It's so sunny outside! He drove to the stadium.",
    "Instruction: Given a search query, retrieve passages that answer the question \nQuery: ",
    "A man is playing a guitar. A woman is slicing an onion. Two dogs run through the snow.",
    "今天天气很好。一个男人在弹吉他。结算业务系统用户使用。查询出该时间范围内到期的账户冻结列表。",
    "The quick brown fox jumps over the lazy dog; numbers 0123456789 and punctuation .,;:!?'\"()[]{}",
]


def build_tokenizer(path: str | Path, texts: Iterable[str] = (), vocab_size: int = 512) -> Path:
    """Train a byte-level BPE tokenizer (BOS added, Llama-3 style offsets) and save it to `path`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    path = Path(path)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([*_SEED_TEXTS, *texts], trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
            ),
        ]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, model_max_length=131072)
    fast.save_pretrained(path)
    return path


def make_tiny_utu(
    path: str | Path,
    *,
    num_layers: int = 2,
    hidden_size: int = 64,
    num_heads: int = 4,
    head_dim: int = 16,
    intermediate_size: int = 128,
    is_causal: bool | None = None,
    seed: int = 0,
    texts: Iterable[str] = (),
    vocab_size: int = 512,
    sentence_transformers_config: bool = False,
) -> Path:
    """Save a random-weight `utu` checkpoint (release tensor names, safetensors) with a real tokenizer.

    With ``sentence_transformers_config=True`` the release's sentence-transformers files are added
    (``modules.json``, ``1_Pooling``, ``config_sentence_transformers.json`` with the prompts).
    """
    from youtu_embedding.core.modeling.utu import UtuConfig, UtuForCausalLM
    from youtu_embedding.core.templates import YOUTU_RELEASE_PROMPTS

    path = Path(path)
    build_tokenizer(path, texts, vocab_size)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    config = UtuConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=head_dim,
        is_causal=is_causal,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        rope_theta=1_600_000.0,
    )
    torch.manual_seed(seed)
    model = UtuForCausalLM(config)
    with torch.no_grad():  # make the norms non-trivial so tests exercise them
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.uniform_(0.5, 1.5)
    model.save_pretrained(path)
    if sentence_transformers_config:
        write_sentence_transformers_config(path, prompts=dict(YOUTU_RELEASE_PROMPTS), include_prompt=False)
    return path


def write_sentence_transformers_config(
    path: str | Path,
    *,
    prompts: dict[str, str],
    pooling: str = "mean",
    include_prompt: bool = True,
    normalize: bool = True,
    max_seq_length: int | None = None,
) -> None:
    """Write the sentence-transformers layout files next to a Hugging Face checkpoint."""
    path = Path(path)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (path / "2_Normalize").mkdir(exist_ok=True)
    (path / "modules.json").write_text(json.dumps(modules, indent=2))
    (path / "1_Pooling").mkdir(exist_ok=True)
    hidden = json.loads((path / "config.json").read_text())["hidden_size"]
    modes = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")
    names = {
        "cls": "cls_token",
        "mean": "mean_tokens",
        "max": "max_tokens",
        "weightedmean": "weightedmean_tokens",
        "lasttoken": "lasttoken",
        "mean_sqrt_len": "mean_sqrt_len_tokens",
        "mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    }
    pool_cfg: dict[str, object] = {"word_embedding_dimension": hidden}
    pool_cfg.update({f"pooling_mode_{m}": names[pooling] == m for m in modes})
    pool_cfg["include_prompt"] = include_prompt
    (path / "1_Pooling" / "config.json").write_text(json.dumps(pool_cfg, indent=2))
    (path / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length or 8192, "do_lower_case": False}, indent=2)
    )
    (path / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"}, indent=2)
    )


def populate_hub_cache(cache_dir: str | Path, repo_id: str, source: str | Path, commit: str = "0" * 40) -> Path:
    """Place a model directory into a Hugging Face Hub cache as `repo_id` (refs/main -> snapshot).

    The layout is the one ``huggingface_hub`` writes, so offline loading through the normal cache
    path (``snapshot_download(local_files_only=True)``) finds it.
    """
    import shutil

    repo_dir = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / commit
    shutil.copytree(source, snapshot, dirs_exist_ok=True)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    return snapshot
