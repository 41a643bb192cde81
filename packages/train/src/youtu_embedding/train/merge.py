"""Merging fine-tuned checkpoints of one base: the uniform soup and delta-guided fusion.

With base weights ``theta_0`` and K fine-tunes ``theta_k``, every floating-point tensor is merged
element by element from the deltas ``delta_k = theta_k - theta_0``:

* ``uniform`` (Model Soup): ``theta = theta_0 + (1/K) sum_k delta_k`` (= the mean of the checkpoints);
* ``delta`` (delta-guided fusion): ``theta = theta_0 + sum_k w_k * delta_k`` with per-parameter weights
  ``w_k = |delta_k|^alpha / sum_j |delta_j|^alpha`` (a softmax of ``alpha * log|delta_k|``).

  ``alpha = -1`` (default, *consensus*): the checkpoint that moved a parameter **less** gets more
  weight. For two checkpoints: agreeing moves give their harmonic mean ``2ab/(a+b)``, opposite moves
  cancel exactly (the parameter stays at the base), a parameter that only one run moved stays put.
  Suited to runs of one recipe (seeds, data orders), whose disagreements are noise.
  ``alpha = +1`` (*dominant*): the larger move wins (``(a^2+b^2)/(a+b)`` when agreeing, ``a+b``
  when opposite), suited to specialists tuned on different tasks. ``alpha = 0`` is the uniform soup.

Weights are read tensor by tensor from safetensors files (memory: one merged model), so the base
and the fine-tunes may be large. Non-float tensors are copied from the first fine-tune.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

METHODS = ("delta", "uniform")


def _weight_files(model_dir: Path) -> dict[str, Path]:
    """Tensor name -> safetensors file of a model directory (single file or sharded index)."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        mapping = json.loads(index.read_text())["weight_map"]
        return {k: model_dir / v for k, v in mapping.items()}
    single = model_dir / "model.safetensors"
    if not single.is_file():
        raise FileNotFoundError(f"'{model_dir}' has no model.safetensors (merging reads safetensors only)")
    from safetensors import safe_open

    with safe_open(single, "pt") as fh:
        return {k: single for k in fh.keys()}  # noqa: SIM118 - safe_open has no __iter__


def _resolve(model: str | Path) -> Path:
    from youtu_embedding.core.hub import resolve_model_dir
    from youtu_embedding.core.st_format import read_layout

    _, root = resolve_model_dir(str(model))
    return read_layout(root).transformer_dir


def _strip(name: str, prefixes: Sequence[str] = ("model.",)) -> str:
    for p in prefixes:
        if name.startswith(p):
            return name[len(p) :]
    return name


#: Default exponent: -1, the consensus rule (see the module doc and docs/train.md).
DEFAULT_ALPHA = -1.0


def merge_tensors(
    base: torch.Tensor, tuned: Sequence[torch.Tensor], method: str = "delta", alpha: float = DEFAULT_ALPHA
) -> torch.Tensor:
    """Merge one tensor (float32 arithmetic, result in the fine-tunes' dtype)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got '{method}'")
    b = base.float()
    deltas = torch.stack([t.float() - b for t in tuned])
    if method == "uniform" or alpha == 0:
        merged = deltas.mean(0)
    else:
        # w_k = |d_k|^alpha / sum_j |d_j|^alpha, computed as a softmax of alpha * log|d_k| (stable for any
        # alpha, including negative ones; all-zero deltas give equal logits, i.e. uniform weights)
        logits = alpha * torch.log(deltas.abs().clamp_min(1e-30))
        weights = torch.softmax(logits, dim=0)
        merged = (weights * deltas).sum(0)
    return (b + merged).to(tuned[0].dtype)


def merge_models(
    base: str | Path,
    checkpoints: Sequence[str | Path],
    output: str | Path,
    *,
    method: str = "delta",
    alpha: float = DEFAULT_ALPHA,
    overwrite: bool = False,
) -> Path:
    """Merge fine-tuned model directories of ``base`` into ``output`` (layout copied from the first).

    Args:
        base: the pre-trained model (directory, Hub id or alias) the checkpoints were tuned from.
        checkpoints: fine-tuned model directories (e.g. ``youtu-embed train`` final models).
        method: ``delta`` (delta-guided, see the module doc) or ``uniform`` (Model Soup).
        alpha: exponent of the delta magnitudes (``delta`` only): -1 (default) consensus, 0 uniform,
            +1 magnitude-dominant.
    """
    from safetensors import safe_open
    from safetensors.torch import save_file

    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got '{method}'")
    if not -8.0 <= alpha <= 8.0:
        raise ValueError(f"alpha must be within [-8, 8], got {alpha}")
    if not checkpoints:
        raise ValueError("give at least one fine-tuned checkpoint")
    output = Path(output)
    if output.exists() and any(output.iterdir()) and not overwrite:
        raise FileExistsError(f"output '{output}' exists and is not empty (pass overwrite=True / --overwrite)")
    base_dir = _resolve(base)
    tuned_dirs = [_resolve(c) for c in checkpoints]
    base_files = {_strip(k): (k, f) for k, f in _weight_files(base_dir).items()}
    tuned_files = [_weight_files(d) for d in tuned_dirs]
    names = list(tuned_files[0])
    for d, files in zip(tuned_dirs[1:], tuned_files[1:], strict=True):
        if set(files) != set(names):
            diff = sorted(set(files) ^ set(names))[:5]
            raise ValueError(f"checkpoint '{d}' has different tensors than '{tuned_dirs[0]}' (e.g. {diff})")
    merged: dict[str, torch.Tensor] = {}
    for name in names:
        tensors = []
        for files in tuned_files:
            with safe_open(files[name], "pt") as fh:
                tensors.append(fh.get_tensor(name))
        key = _strip(name)
        if not tensors[0].is_floating_point():
            merged[name] = tensors[0].contiguous()
            continue
        if key not in base_files:
            raise ValueError(f"tensor '{name}' of the checkpoints is not in the base model '{base_dir}'")
        bname, bfile = base_files[key]
        with safe_open(bfile, "pt") as fh:
            b = fh.get_tensor(bname)
        if b.shape != tensors[0].shape:
            raise ValueError(f"tensor '{name}': base shape {tuple(b.shape)} != checkpoint {tuple(tensors[0].shape)}")
        merged[name] = merge_tensors(b, tensors, method, alpha).contiguous()
    tmp = output.with_name(output.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    first_root = Path(checkpoints[0]) if Path(checkpoints[0]).is_dir() else tuned_dirs[0]
    shutil.copytree(
        first_root, tmp, ignore=shutil.ignore_patterns("*.safetensors", "model.safetensors.index.json", "checkpoints")
    )
    rel = tuned_dirs[0].relative_to(first_root) if tuned_dirs[0].is_relative_to(first_root) else Path()
    save_file(merged, str(tmp / rel / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "merge_info.json").write_text(
        json.dumps(
            {"base": str(base), "checkpoints": [str(c) for c in checkpoints], "method": method, "alpha": alpha},
            indent=2,
        )
    )
    if output.exists():
        shutil.rmtree(output)
    tmp.rename(output)
    return output
