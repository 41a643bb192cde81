"""``youtu-embed train-memory``: per-GPU memory estimate of a training step (computed, not measured).

Registered by name by :mod:`youtu_embedding.train.plugin`; also runnable as
``python -m youtu_embedding.train.memory_commands``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

USAGE_ERROR = 2


def train_memory_command(
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Model directory (config.json), cached Hub id, or youtu-2b.", show_default=False
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="A training config: model, batch sizes, length, strategy...")
    ] = None,
    max_length: Annotated[int | None, typer.Option("--max-length", help="Tokens per text (all padded to it).")] = None,
    task: Annotated[str, typer.Option("--task", help="ir or sts (what one step's forward pass holds).")] = "ir",
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Per-GPU batch: IR queries or STS pairs.")
    ] = None,
    num_positives: Annotated[int | None, typer.Option("--num-positives", help="P per IR query.")] = None,
    num_negatives: Annotated[int | None, typer.Option("--num-negatives", help="N per IR query.")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="ddp or fsdp.")] = None,
    world_size: Annotated[int, typer.Option("--world-size", help="GPUs in the job (all nodes).")] = 1,
    precision: Annotated[str | None, typer.Option("--precision", help="fp32, bf16 or fp16.")] = None,
    gradient_checkpointing: Annotated[
        bool | None, typer.Option("--gradient-checkpointing/--no-gradient-checkpointing")
    ] = None,
    gpu_memory: Annotated[
        float | None, typer.Option("--gpu-memory", help="GiB per GPU: also print the largest batch that fits.")
    ] = None,
    overhead: Annotated[float, typer.Option("--overhead", help="GiB for the CUDA context and NCCL.")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (GiB).")] = False,
) -> None:
    """Estimate GPU memory per device of one training step (params, grads, optimizer, activations).

    Values come from --config (a training config) and are overridden by the flags; without a
    config the trainer's defaults apply, with bf16 and gradient checkpointing on.
    """
    from youtu_embedding.train.memory import (
        GIB,
        MemoryEstimateError,
        estimate_memory,
        max_texts_that_fit,
        resolve_shape,
        texts_per_step,
    )

    def fail(message: str) -> None:
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(USAGE_ERROR)

    settings: dict = {
        "max_length": 1024,
        "ir_batch_size": 28,
        "sts_batch_size": 32,
        "num_positives": 2,
        "num_negatives": 4,
        "strategy": "ddp",
        "precision": "bf16",
        "gradient_checkpointing": True,
    }
    if config is not None:
        from youtu_embedding.train.config import ConfigError, read_config_file

        try:
            raw = read_config_file(config)
        except ConfigError as exc:
            fail(str(exc))
        settings.update({k: raw[k] for k in (*settings, "model") if k in raw})
    chosen_model = model or settings.get("model")
    if not chosen_model:
        fail("--model: required (a model directory, a cached Hub id, or youtu-2b), or give --config")
    overrides = {
        "max_length": max_length,
        "num_positives": num_positives,
        "num_negatives": num_negatives,
        "strategy": strategy,
        "precision": precision,
        "gradient_checkpointing": gradient_checkpointing,
    }
    settings.update({k: v for k, v in overrides.items() if v is not None})
    batch = (
        batch_size
        if batch_size is not None
        else settings[f"{task}_batch_size" if task in ("ir", "sts") else "ir_batch_size"]
    )
    options = {
        "max_length": int(settings["max_length"]),
        "strategy": settings["strategy"],
        "world_size": world_size,
        "precision": settings["precision"],
        "gradient_checkpointing": bool(settings["gradient_checkpointing"]),
        "runtime_overhead_gib": overhead,
    }
    try:
        if batch < 1:
            raise MemoryEstimateError(f"--batch-size: must be >= 1, got {batch}")
        shape = resolve_shape(chosen_model)
        texts = texts_per_step(task, batch, int(settings["num_positives"]), int(settings["num_negatives"]))
        est = estimate_memory(shape, texts=texts, **options)
        fits = max_texts_that_fit(shape, gpu_memory, **options) if gpu_memory else None
    except MemoryEstimateError as exc:
        fail(str(exc))

    if as_json:
        out = {"model": shape.source or str(chosen_model), "task": task, "batch_size": batch, **est.as_dict()}
        if fits is not None:
            out["gpu_memory_gib"] = gpu_memory
            out["max_texts_that_fit"] = fits
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    gc = "on" if est.gradient_checkpointing else "off"
    console.print(
        f"[bold]Estimated[/bold] memory per GPU (computed, not measured): {shape.source or chosen_model}\n"
        f"{est.parameters:,} parameters; {task} batch {batch} = {est.texts_per_step} texts x {est.max_length} tokens "
        f"= {est.tokens:,} tokens; {est.strategy} x {est.world_size}, {est.precision}, gradient checkpointing {gc}"
    )
    table = Table("component", "GiB", "what")
    rows = [
        ("parameters", est.params, "float32 master weights" + (" (shard)" if est.strategy == "fsdp" else "")),
        ("gradients", est.grads, "float32"),
        ("optimizer", est.optimizer, "AdamW exp_avg + exp_avg_sq, float32"),
        ("DDP buckets", est.ddp_buckets, "reducer's gradient buckets"),
        ("FSDP unsharded", est.fsdp_unsharded, "root unit + 2 layers all-gathered, and their gradients"),
        ("autocast weights", est.autocast_weight_copies, "bf16 copies of the layer weights (forward pass)"),
        ("activations saved", est.activations_saved, "kept for the backward pass"),
        ("backward working set", est.activations_backward, "recomputed layer + gradient buffers"),
        ("runtime", est.runtime_overhead, "CUDA context, NCCL (assumed)"),
    ]
    for name, value, what in rows:
        if value:
            table.add_row(name, f"{value / GIB:.2f}", what)
    table.add_row("[bold]peak[/bold]", f"[bold]{est.peak / GIB:.2f}[/bold]", "max(end of forward, backward)")
    console.print(table)
    for note in est.notes:
        console.print(f"note: {note}")
    if fits is not None:
        console.print(f"largest step that fits in {gpu_memory:g} GiB: {fits} texts x {est.max_length} tokens")
    console.print("Allocator fragmentation is not modelled: keep 10-20% headroom.")


def main() -> None:
    """``python -m youtu_embedding.train.memory_commands``."""
    app = typer.Typer(add_completion=False)
    app.command()(train_memory_command)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
