"""The memory estimator against real models: parameter counts, the bytes autograd really saves, AdamW state.

Activation pieces are checked by counting the storages autograd saves for backward
(``torch.autograd.graph.saved_tensors_hooks``) in a tiny ``utu`` model's forward pass on CPU,
with bf16 autocast (CPU autocast uses the same casting rules as CUDA) and in fp32, with and without
gradient checkpointing: two depths give the per-layer bytes exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from youtu_embedding.core.testing import make_tiny_utu
from youtu_embedding.train.memory import (
    GIB,
    YOUTU_2B,
    MemoryEstimateError,
    ModelShape,
    estimate_memory,
    max_texts_that_fit,
    resolve_shape,
    texts_per_step,
)
from youtu_embedding.train.model import load_backbone
from youtu_embedding.train.plugin import register_commands

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SHAPES = {"small": {"hidden_size": 64, "intermediate_size": 128}, "wide": {"hidden_size": 96, "intermediate_size": 160}}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory, stsb_sentences: list[str]) -> dict[tuple[str, int], Path]:
    """Tiny utu checkpoints of two widths, each at depth 2 and 4 (head_dim 16)."""
    out = {}
    for name, dims in SHAPES.items():
        for layers in (2, 4):
            out[name, layers] = make_tiny_utu(
                tmp_path_factory.mktemp(f"utu-{name}-{layers}"),
                num_layers=layers,
                num_heads=dims["hidden_size"] // 16,
                head_dim=16,
                texts=stsb_sentences[:200],
                **dims,
            )
    return out


def _saved_bytes(path: Path, *, autocast: bool, checkpointing: bool, batch: int = 4, length: int = 48) -> int:
    """Bytes of the non-parameter storages autograd saves in one forward pass (each storage once)."""
    model = load_backbone(str(path), device=torch.device("cpu"), attention="bidirectional").model
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 200, (batch, length), generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
    with hooks, torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        model(input_ids=ids, attention_mask=mask)
    return sum(saved.values())


def test_parameter_count_equals_a_real_tiny_utu(tiny_models: dict) -> None:
    for path in tiny_models.values():
        shape = resolve_shape(path)
        backbone = load_backbone(str(path), device=torch.device("cpu"), attention="bidirectional").model
        assert shape.num_parameters() == sum(p.numel() for p in backbone.parameters())
        assert shape.embedding_parameters() == backbone.embed_tokens.weight.numel()
        layer = backbone.layers[0]
        assert shape.layer_parameters() == sum(p.numel() for p in layer.parameters())
        linear = sum(m.weight.numel() for m in layer.modules() if isinstance(m, torch.nn.Linear))
        assert shape.layer_linear_parameters() == linear
        assert shape.num_layers == len(backbone.layers)


def test_the_2b_shape_gives_the_released_parameter_count() -> None:
    # REFERENCE.md: 2,672,957,440 parameters counting the tied LM head (the embedding matrix again)
    assert YOUTU_2B.num_parameters() + YOUTU_2B.embedding_parameters() == 2_672_957_440
    assert resolve_shape("youtu-2b") == YOUTU_2B
    with pytest.raises(MemoryEstimateError, match="model: 'no-such/model' is neither a local directory"):
        resolve_shape("no-such/model")


@pytest.mark.parametrize("autocast", [True, False], ids=["bf16-autocast", "fp32"])
def test_activation_bytes_per_layer_equal_what_autograd_saves(tiny_models: dict, autocast: bool) -> None:
    batch, length = 4, 48
    tokens = batch * length
    for name in SHAPES:
        shape = resolve_shape(tiny_models[name, 2])
        two = _saved_bytes(tiny_models[name, 2], autocast=autocast, checkpointing=False)
        four = _saved_bytes(tiny_models[name, 4], autocast=autocast, checkpointing=False)
        per_layer = (four - two) // 2
        # autocast: every linear also saves its bf16 weight copy for the backward pass
        copies = 2 * shape.layer_linear_parameters() if autocast else 0
        assert per_layer == tokens * shape.layer_activation_bytes_per_token(autocast) + copies, name
        # the rest: the final norm, plus RoPE's cos/sin tables (per position, shared by the batch)
        rest = two - 2 * per_layer - tokens * shape.final_bytes_per_token()
        assert 0 <= rest <= 2 * 4 * length * shape.head_dim, (name, rest)


def test_checkpointed_layers_keep_only_their_input(tiny_models: dict) -> None:
    batch, length = 4, 48
    for name in SHAPES:
        shape = resolve_shape(tiny_models[name, 2])
        two = _saved_bytes(tiny_models[name, 2], autocast=True, checkpointing=True)
        four = _saved_bytes(tiny_models[name, 4], autocast=True, checkpointing=True)
        assert (four - two) // 2 == batch * length * shape.checkpointed_layer_bytes_per_token()
        assert two - 2 * batch * length * shape.checkpointed_layer_bytes_per_token() == (
            batch * length * shape.final_bytes_per_token()
        )


def test_model_state_bytes_equal_a_real_adamw_step(tiny_models: dict) -> None:
    path = tiny_models["small", 2]
    shape = resolve_shape(path)
    model = load_backbone(str(path), device=torch.device("cpu"), attention="bidirectional").model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    out = model(input_ids=torch.tensor([[5, 6, 7, 8]]), attention_mask=torch.ones(1, 4, dtype=torch.long))
    out.last_hidden_state.pow(2).mean().backward()
    optimizer.step()
    est = estimate_memory(shape, max_length=4, texts=1, precision="fp32", gradient_checkpointing=False)

    def nbytes(tensors) -> int:  # type: ignore[no-untyped-def]
        return sum(t.numel() * t.element_size() for t in tensors)

    assert est.params == nbytes(model.parameters())
    assert est.grads == nbytes(p.grad for p in model.parameters() if p.grad is not None)
    states = [v for s in optimizer.state.values() for k, v in s.items() if k in ("exp_avg", "exp_avg_sq")]
    assert est.optimizer == nbytes(states)


def test_strategy_pieces() -> None:
    p = YOUTU_2B.num_parameters()
    common = {"max_length": 1024, "texts": 64, "precision": "bf16", "gradient_checkpointing": True}
    one = estimate_memory(YOUTU_2B, strategy="ddp", world_size=1, **common)
    ddp = estimate_memory(YOUTU_2B, strategy="ddp", world_size=8, **common)
    fsdp = estimate_memory(YOUTU_2B, strategy="fsdp", world_size=8, **common)
    fsdp16 = estimate_memory(YOUTU_2B, strategy="fsdp", world_size=16, **common)
    assert one.params + one.grads + one.optimizer == 16 * p and one.ddp_buckets == 0
    assert ddp.ddp_buckets == 4 * p and ddp.peak - one.peak == 4 * p  # DDP adds its buckets, nothing else
    assert fsdp.params + fsdp.grads + fsdp.optimizer == 16 * -(-p // 8)
    assert fsdp.peak < ddp.peak and fsdp16.peak < fsdp.peak
    # the unsharded working set: root unit (embedding + final norm) and two layers, params and grads
    root = p - YOUTU_2B.num_layers * YOUTU_2B.layer_parameters()
    assert fsdp.fsdp_unsharded == 2 * (4 * root + 8 * YOUTU_2B.layer_parameters())
    assert fsdp.autocast_weight_copies == 2 * YOUTU_2B.num_layers * YOUTU_2B.layer_linear_parameters()
    assert any("does not shard" in note for note in fsdp.notes)
    # activations scale with tokens; checkpointing trades them for recomputation
    longer = estimate_memory(YOUTU_2B, strategy="fsdp", world_size=8, **{**common, "max_length": 8192})
    assert longer.activations_saved == 8 * fsdp.activations_saved
    no_gc = estimate_memory(YOUTU_2B, strategy="fsdp", world_size=8, **{**common, "gradient_checkpointing": False})
    assert no_gc.activations_saved > 10 * fsdp.activations_saved
    fits = max_texts_that_fit(YOUTU_2B, 80, max_length=1024, strategy="fsdp", world_size=8)
    assert estimate_memory(YOUTU_2B, texts=fits, max_length=1024, strategy="fsdp", world_size=8).peak <= 80 * GIB
    assert estimate_memory(YOUTU_2B, texts=fits + 1, max_length=1024, strategy="fsdp", world_size=8).peak > 80 * GIB
    assert texts_per_step("ir", 28, 2, 4) == 196 and texts_per_step("sts", 32) == 64
    for bad, match in (
        ({"strategy": "zero3"}, "strategy: unknown 'zero3'"),
        ({"world_size": 0}, "world_size: must be >= 1"),
        ({"precision": "int8"}, "precision: unknown 'int8'"),
    ):
        with pytest.raises(MemoryEstimateError, match=match):
            estimate_memory(YOUTU_2B, max_length=16, texts=1, **bad)  # type: ignore[arg-type]


def _cli() -> typer.Typer:
    app = typer.Typer()
    register_commands(app)

    @app.command("other")
    def other() -> None:  # a second command, so typer keeps the subcommand name
        pass

    return app


def test_cli(tiny_models: dict) -> None:
    runner = CliRunner()
    path = tiny_models["small", 2]
    ok = runner.invoke(
        _cli(), ["train-memory", "--model", str(path), "--max-length", "64", "--batch-size", "2", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["parameters"] == ModelShape.num_parameters(resolve_shape(path))
    assert data["texts_per_step"] == 14 and data["tokens"] == 14 * 64 and data["strategy"] == "ddp"

    release = runner.invoke(
        _cli(),
        [
            "train-memory",
            "--config",
            str(CONFIGS / "youtu-2b-codiemb.yaml"),
            "--world-size",
            "16",
            "--gpu-memory",
            "80",
        ],
    )
    assert release.exit_code == 0, release.output
    assert "2,410,289,152 parameters" in release.stdout and "fsdp x 16" in release.stdout
    assert "largest step that fits in 80 GiB" in release.stdout

    bad = runner.invoke(_cli(), ["train-memory", "--model", "youtu-2b", "--strategy", "zero3"])
    assert bad.exit_code == 2 and "error: strategy: unknown 'zero3' (allowed: ddp, fsdp)" in bad.output
    missing = runner.invoke(_cli(), ["train-memory"])
    assert missing.exit_code == 2 and "--model: required" in missing.output
    bad_batch = runner.invoke(_cli(), ["train-memory", "--model", "youtu-2b", "--batch-size", "0"])
    assert bad_batch.exit_code == 2 and "--batch-size: must be >= 1" in bad_batch.output


@pytest.mark.parametrize("name", ["youtu-2b-fsdp-2node-1024.yaml", "youtu-2b-fsdp-2node-8192.yaml"])
def test_multinode_configs_fit_80gb_gpus_by_the_estimate(name: str) -> None:
    """The shipped 2-node x 8-GPU configs: both tasks' steps fit in 80 GiB (estimate, 10% headroom)."""
    from youtu_embedding.train.config import load_config

    cfg = load_config(CONFIGS / name)
    assert cfg.strategy == "fsdp" and cfg.precision == "bf16" and cfg.gradient_checkpointing
    options = {"max_length": cfg.max_length, "strategy": "fsdp", "world_size": 16}
    ir = texts_per_step("ir", cfg.ir_batch_size, cfg.num_positives, cfg.num_negatives)
    sts = texts_per_step("sts", cfg.sts_batch_size)
    for texts in (ir, sts):
        assert estimate_memory(resolve_shape(cfg.model), texts=texts, **options).peak <= 0.9 * 80 * GIB
    # the release's per-GPU IR batch (28) padded to this length would not fit: why the configs use less
    assert estimate_memory(YOUTU_2B, texts=texts_per_step("ir", 28), **options).peak > 80 * GIB
