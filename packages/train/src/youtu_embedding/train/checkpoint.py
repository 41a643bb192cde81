"""Training checkpoints: model, optimizer, scheduler, sampler position and every rank's RNG state.

Layout of ``output_dir/checkpoints/step-00000012/``: ``model.safetensors`` (the whole module,
adapters included), ``optimizer.pt``, ``scheduler.pt`` (and ``scaler.pt`` for fp16),
``rng-rank{r}.pt`` and ``trainer_state.json``; the folder is written under a temporary name and
renamed when complete, so a crash never leaves a half-written checkpoint that ``resume: auto``
would pick up.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

COMPLETE = "trainer_state.json"


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU, CUDA) RNG states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if p.is_dir() and (p / COMPLETE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def find_resume_checkpoint(output_dir: str | Path, resume: str | None) -> Path | None:
    """``auto``: the newest complete checkpoint (None if there is none); a path: that checkpoint."""
    if resume is None:
        return None
    if resume == "auto":
        found = list_checkpoints(output_dir)
        return found[-1] if found else None
    path = Path(resume)
    if not (path / COMPLETE).is_file():
        raise FileNotFoundError(f"resume: '{path}' is not a complete checkpoint (no {COMPLETE})")
    return path


def _fsdp_full_state(wrapped: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Full (unsharded) model and optimizer state, gathered collectively (every rank must call)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    return get_state_dict(wrapped, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def full_model_state(wrapped: torch.nn.Module) -> dict[str, Any]:
    """The unsharded state dict of an FSDP-wrapped model (collective; rank 0 gets the tensors)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(wrapped, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def save_checkpoint(
    output_dir: str | Path,
    *,
    step: int,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    state: dict[str, Any],
    rank: int,
    world_size: int,
    keep: int | None,
    barrier: Any,
    fsdp: torch.nn.Module | None = None,
) -> Path:
    """Write a checkpoint collectively (rank 0 writes shared files, every rank its RNG state)."""
    from safetensors.torch import save_file, save_model

    root = checkpoint_root(output_dir)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    torch.save(rng_state(), tmp / f"rng-rank{rank}.pt")
    if fsdp is not None:  # collective: every rank takes part, rank 0 receives the full state
        model_state, optim_state = _fsdp_full_state(fsdp, optimizer)
        if rank == 0:
            save_file({k: v.contiguous() for k, v in model_state.items()}, str(tmp / "model.safetensors"))
            torch.save(optim_state, tmp / "optimizer.pt")
    elif rank == 0:
        save_model(module, str(tmp / "model.safetensors"))
    if rank == 0:
        if fsdp is None:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        if scaler is not None:
            torch.save(scaler.state_dict(), tmp / "scaler.pt")
    barrier()
    if rank == 0:
        (tmp / COMPLETE).write_text(json.dumps({**state, "world_size": world_size}, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        if keep is not None:
            for old in list_checkpoints(output_dir)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    barrier()
    return final


def load_checkpoint(
    path: Path,
    *,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    rank: int,
    world_size: int,
    device: torch.device,
    fsdp: torch.nn.Module | None = None,
) -> dict[str, Any]:
    """Restore everything :func:`save_checkpoint` wrote; returns the trainer state."""
    from safetensors.torch import load_model

    state = json.loads((path / COMPLETE).read_text())
    if state.get("world_size", 1) != world_size:
        raise ValueError(
            f"resume: checkpoint '{path}' was written by {state.get('world_size')} process(es), "
            f"this run has {world_size}; exact resume needs the same world size"
        )
    if fsdp is not None:
        from safetensors.torch import load_file
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

        set_state_dict(
            fsdp,
            optimizer,
            model_state_dict=dict(load_file(str(path / "model.safetensors"))),  # type: ignore[arg-type]
            optim_state_dict=torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False),
            options=StateDictOptions(full_state_dict=True),
        )
    else:
        load_model(module, str(path / "model.safetensors"), device=str(device))
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=device, weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    if scaler is not None and (path / "scaler.pt").is_file():
        scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=False))
    set_rng_state(torch.load(path / f"rng-rank{rank}.pt", weights_only=False))
    return state
