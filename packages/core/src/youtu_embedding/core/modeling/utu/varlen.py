"""Packed variable-length ("unpadded") attention for `utu`: all rows of a batch in one token sequence.

A packed batch is ``input_ids`` of shape ``(1, N)`` holding the rows one after another, with
``cu_seqlens`` (``(B + 1,)``, int32: 0, len0, len0 + len1, ..., N) marking where each row starts.
Linear layers, norms and the MLP then run on the N real tokens only (no padding FLOPs); only attention
needs the row boundaries. Kernels (``VARLEN_KERNELS``), chosen per device by the device backend:

* ``flash_attn``: FlashAttention's ``flash_attn_varlen_func`` (CUDA, fp16/bf16, when installed);
* ``sdpa_nested``: SDPA on a nested (jagged) tensor, one kernel call for the whole batch
  (CUDA flash / memory-efficient kernels); bidirectional only, causal rows fall back to ``sdpa_rows``;
* ``sdpa_rows``: SDPA called once per row on that row's tokens (any device; no mask, so each call
  takes SDPA's fastest unmasked kernel).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

VARLEN_KERNELS = ("flash_attn", "sdpa_nested", "sdpa_rows")


@functools.lru_cache(maxsize=1)
def flash_attn_available() -> bool:
    """Whether the ``flash_attn`` package (FlashAttention 2, CUDA) can be imported."""
    try:
        import flash_attn  # noqa: F401
    except Exception:  # ImportError, or a build for another torch / CUDA
        return False
    return torch.cuda.is_available()


@dataclass(frozen=True)
class PackedRows:
    """Row boundaries of a packed batch.

    Attributes:
        cu_seqlens: ``(B + 1,)`` int32 cumulative row lengths, on the model's device.
        lengths: the row lengths (host side, so that no kernel needs a device sync to read them).
        kernel: one of :data:`VARLEN_KERNELS`.
    """

    cu_seqlens: torch.Tensor
    lengths: tuple[int, ...]
    kernel: str = "sdpa_rows"

    @property
    def max_seqlen(self) -> int:
        return max(self.lengths)

    @classmethod
    def from_lengths(cls, lengths: list[int] | tuple[int, ...], device: torch.device, kernel: str) -> PackedRows:
        if kernel not in VARLEN_KERNELS:
            raise ValueError(f"unknown varlen kernel {kernel!r}; choose one of {VARLEN_KERNELS}")
        offsets = torch.zeros(len(lengths) + 1, dtype=torch.int32)
        offsets[1:] = torch.tensor(lengths, dtype=torch.int32).cumsum(0)
        return cls(offsets.to(device), tuple(int(n) for n in lengths), kernel)

    def position_ids(self, device: torch.device) -> torch.Tensor:
        """``(1, N)`` positions restarting at 0 for every row (RoPE sees each row as if alone)."""
        return torch.cat([torch.arange(n, device=device) for n in self.lengths]).unsqueeze(0)


def pack_rows(rows: Sequence[Sequence[int]], device: torch.device, kernel: str) -> tuple[torch.Tensor, PackedRows]:
    """Token-id rows as one packed ``(1, N)`` sequence and its :class:`PackedRows`."""
    ids = torch.tensor([t for row in rows for t in row], dtype=torch.long).unsqueeze(0).to(device)
    return ids, PackedRows.from_lengths([len(r) for r in rows], device, kernel)


def unpack_states(packed: torch.Tensor, lengths: tuple[int, ...] | list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed states ``(1, N, D)`` (or ``(N, D)``) as a right-padded ``(B, T, D)`` batch and its ``(B, T)`` mask."""
    flat = packed.reshape(-1, packed.shape[-1])
    longest = max(lengths)
    mask = torch.arange(longest, device=flat.device)[None, :] < torch.tensor(lengths, device=flat.device)[:, None]
    out = flat.new_zeros(len(lengths), longest, flat.shape[-1])
    out[mask] = flat
    return out, mask.long()


def varlen_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, packed: PackedRows, *, is_causal: bool, scale: float
) -> torch.Tensor:
    """Attention within each row of a packed batch: ``q``/``k``/``v`` ``(N, H, D)`` -> ``(N, H, D)``."""
    if packed.kernel == "flash_attn":
        from flash_attn import flash_attn_varlen_func

        n = packed.max_seqlen
        out: torch.Tensor = flash_attn_varlen_func(
            q, k, v, packed.cu_seqlens, packed.cu_seqlens, n, n, softmax_scale=scale, causal=is_causal
        )
        return out
    if packed.kernel == "sdpa_nested" and not is_causal:  # torch's jagged SDPA has no causal mode
        offsets = packed.cu_seqlens.long()
        nq, nk, nv = (
            torch.nested.nested_tensor_from_jagged(t, offsets, max_seqlen=packed.max_seqlen).transpose(1, 2)
            for t in (q, k, v)
        )
        out = F.scaled_dot_product_attention(nq, nk, nv, is_causal=is_causal, scale=scale)
        return out.transpose(1, 2).values()
    parts = []
    start = 0
    for n in packed.lengths:  # (1, H, n, D) per row: SDPA without a mask
        rq, rk, rv = (t[start : start + n].transpose(0, 1).unsqueeze(0) for t in (q, k, v))
        parts.append(F.scaled_dot_product_attention(rq, rk, rv, is_causal=is_causal, scale=scale)[0].transpose(0, 1))
        start += n
    return torch.cat(parts, dim=0)


__all__ = ["VARLEN_KERNELS", "PackedRows", "flash_attn_available", "pack_rows", "unpack_states", "varlen_attention"]
