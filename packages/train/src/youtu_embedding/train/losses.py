"""CoDiEmb losses (REFERENCE.md section 2), on L2-normalised embeddings; ``s`` = cosine.

* :func:`ir_infonce` - multi-positive InfoNCE with hard and in-batch (and cross-device) negatives;
* :func:`pearson_loss`, :func:`rank_kl_loss`, :func:`pro_loss`, :func:`filtered_infonce` - the STS
  terms, combined by :class:`STSLoss` as ``1*MidNCE + 2*Pearson + 0.5*PRO + 5*KL`` by default.

Degenerate batches give a loss of 0 that stays connected to the graph (so every rank runs the
same backward): Pearson when all gold scores are equal, Rank-KL with one pair, PRO when no pair
has a strictly lower-scored partner, InfoNCE with fewer than two qualifying rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IR_TEMPERATURE = 0.02
STS_TEMPERATURE = 0.05
PRO_MARGIN = 1e-8


def _up(x: torch.Tensor) -> torch.Tensor:
    """Half-precision tensors are computed in float32; float32/64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _zero(like: torch.Tensor) -> torch.Tensor:
    return like.sum() * 0.0


def ir_infonce(
    queries: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor | None,
    *,
    temperature: float = IR_TEMPERATURE,
    query_offset: int = 0,
) -> torch.Tensor:
    """Multi-positive InfoNCE.

    Args:
        queries: ``(b, d)`` query embeddings (this rank's queries).
        positives: ``(B, P, d)`` positives of every query of the global batch.
        negatives: ``(B, N, d)`` hard negatives of every query of the global batch (or ``None``/N=0).
        query_offset: index of this rank's first query in the global batch (its targets).

    For slot j the candidates are the j-th positive of every query plus every query's hard
    negatives; ``loss_j`` is the cross-entropy of ``s(q_i, .)/tau`` with target ``d+_{i,j}``; the
    result is ``mean_j loss_j`` (mean over this rank's queries).
    """
    b = queries.shape[0]
    n_pos = positives.shape[1]
    negs = (
        negatives.reshape(-1, negatives.shape[-1])
        if negatives is not None and negatives.numel()
        else positives.new_zeros((0, positives.shape[-1]))
    )
    targets = torch.arange(query_offset, query_offset + b, device=queries.device)
    losses = []
    for j in range(n_pos):
        candidates = torch.cat([positives[:, j], negs], dim=0)
        logits = queries @ candidates.T / temperature
        losses.append(F.cross_entropy(_up(logits), targets))
    return torch.stack(losses).mean()


def pearson_loss(pred: torch.Tensor, gold: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``1 - pearson(s, y)`` with population variances; 0 when all gold scores are equal."""
    pred, gold = _up(pred), _up(gold).to(_up(pred).dtype)
    if pred.numel() < 2 or torch.all(gold == gold[0]):
        return _zero(pred)
    ps, gs = pred - pred.mean(), gold - gold.mean()
    cov = (ps * gs).mean()
    denom = torch.sqrt((ps.pow(2).mean() * gs.pow(2).mean()).clamp_min(eps))
    return 1.0 - cov / denom


def descending_average_ranks(gold: torch.Tensor) -> torch.Tensor:
    """0-based descending ranks of ``gold``, ties given their average rank."""
    order = torch.argsort(-gold, stable=True)
    ranks = torch.empty(gold.shape, dtype=torch.float64, device=gold.device)
    ranks[order] = torch.arange(gold.numel(), dtype=torch.float64, device=gold.device)
    out = torch.empty_like(ranks)
    for value in torch.unique(gold):
        tied = gold == value
        out[tied] = ranks[tied].mean()
    return out


def rank_kl_loss(pred: torch.Tensor, gold: torch.Tensor, temperature: float = STS_TEMPERATURE) -> torch.Tensor:
    """``KL(p || softmax(s/t))`` with ``p = softmax(((B-1-r)/(B-1))/t)``, batch-mean reduction."""
    n = pred.numel()
    if n < 2:
        return _zero(pred)
    pred = _up(pred)
    r = descending_average_ranks(gold).to(pred.dtype)
    target = torch.softmax(((n - 1 - r) / (n - 1)) / temperature, dim=0)
    log_q = torch.log_softmax(pred / temperature, dim=0)
    # F.kl_div(input=log q, target=p, "batchmean") = sum p (log p - log q) / input.size(0)
    return F.kl_div(log_q, target, reduction="batchmean")


def pro_loss(pred: torch.Tensor, gold: torch.Tensor, temperature: float = STS_TEMPERATURE) -> torch.Tensor:
    """Preference-ranking loss: each item against every strictly lower-scored item, weighted by the gap."""
    pred, gold = _up(pred), _up(gold)
    order = torch.argsort(-gold, stable=True)
    s, y = pred[order], gold[order]
    n = s.numel()
    gaps = y.unsqueeze(1) - y.unsqueeze(0)  # gaps[k, j] = y_k - y_j
    later = torch.triu(torch.ones(n, n, dtype=torch.bool, device=s.device), diagonal=1)
    valid = later & (gaps > PRO_MARGIN)
    rows = valid.any(dim=1)
    if not bool(rows.any()):
        return _zero(pred)
    weights = torch.where(valid, gaps, torch.zeros_like(gaps))
    pos_logit = (s / temperature) * weights.max(dim=1).values  # (n,)
    neg_logits = (s.unsqueeze(0) / temperature) * weights  # [k, j]
    neg_logits = neg_logits.masked_fill(~valid, float("-inf"))
    logits = torch.cat([pos_logit.unsqueeze(1), neg_logits], dim=1)[rows]
    return -torch.log_softmax(logits, dim=1)[:, 0].mean()


def filtered_infonce(
    first: torch.Tensor,
    second: torch.Tensor,
    gold: torch.Tensor,
    *,
    threshold: float = 1.0,
    temperature: float = IR_TEMPERATURE,
) -> torch.Tensor:
    """In-batch InfoNCE over the rows whose gold score is ``>= threshold`` (first[i] -> second[i])."""
    keep = gold >= threshold
    if int(keep.sum()) < 2:
        return _zero(first) + _zero(second)
    q, p = first[keep], second[keep]
    logits = _up(q @ p.T / temperature)
    return F.cross_entropy(logits, torch.arange(q.shape[0], device=q.device))


@dataclass
class STSLossWeights:
    """Weights and temperatures of the STS loss (defaults: the reference values)."""

    mid_infonce: float = 1.0
    pearson: float = 2.0
    pro: float = 0.5
    kl: float = 5.0
    last_infonce: float = 0.0
    temperature: float = STS_TEMPERATURE
    infonce_temperature: float = IR_TEMPERATURE
    infonce_threshold: float = 1.0


def sts_loss(
    first: torch.Tensor,
    second: torch.Tensor,
    gold: torch.Tensor,
    *,
    mid_first: torch.Tensor | None = None,
    mid_second: torch.Tensor | None = None,
    weights: STSLossWeights | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """``L_STS`` on one device's batch of pairs; returns the total and its (weighted-before) parts."""
    w = weights or STSLossWeights()
    pred = (first * second).sum(-1)
    parts: dict[str, torch.Tensor] = {}
    if w.pearson:
        parts["pearson"] = pearson_loss(pred, gold)
    if w.kl:
        parts["kl"] = rank_kl_loss(pred, gold, w.temperature)
    if w.pro:
        parts["pro"] = pro_loss(pred, gold, w.temperature)
    if w.mid_infonce:
        if mid_first is None or mid_second is None:
            raise ValueError("sts_loss: mid_infonce weight is set but no mid-layer embeddings were given")
        parts["mid_infonce"] = filtered_infonce(
            mid_first, mid_second, gold, threshold=w.infonce_threshold, temperature=w.infonce_temperature
        )
    if w.last_infonce:
        parts["last_infonce"] = filtered_infonce(
            first, second, gold, threshold=w.infonce_threshold, temperature=w.infonce_temperature
        )
    scale = {
        "pearson": w.pearson,
        "kl": w.kl,
        "pro": w.pro,
        "mid_infonce": w.mid_infonce,
        "last_infonce": w.last_infonce,
    }
    total = sum((scale[k] * v for k, v in parts.items()), start=_zero(pred))
    return total, {k: float(v.detach()) for k, v in parts.items()}
