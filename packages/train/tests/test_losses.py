"""Each loss against an independent, loop-based computation of the REFERENCE.md formula."""

from __future__ import annotations

import math

import pytest
import torch

from youtu_embedding.train.losses import (
    STSLossWeights,
    descending_average_ranks,
    filtered_infonce,
    ir_infonce,
    pearson_loss,
    pro_loss,
    rank_kl_loss,
    sts_loss,
)


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def ref_ir(q, pos, neg, tau):
    """Loop version: for slot j, candidates = j-th positive of every query + every hard negative."""
    b, p = len(q), len(pos[0])
    dot = lambda a, c: sum(x * y for x, y in zip(a, c, strict=False))  # noqa: E731
    negs = [n for row in neg for n in row]
    per_slot = []
    for j in range(p):
        cands = [pos[i][j] for i in range(b)] + negs
        total = 0.0
        for i in range(b):
            logits = [dot(q[i], c) / tau for c in cands]
            total += _logsumexp(logits) - logits[i]
        per_slot.append(total / b)
    return sum(per_slot) / p


def ref_pearson(s, y):
    n = len(s)
    ms, my = sum(s) / n, sum(y) / n
    if all(v == y[0] for v in y):
        return 0.0
    cov = sum((a - ms) * (b - my) for a, b in zip(s, y, strict=False)) / n
    vs = sum((a - ms) ** 2 for a in s) / n
    vy = sum((b - my) ** 2 for b in y) / n
    return 1 - cov / math.sqrt(vs * vy)


def ref_ranks(y):
    """0-based descending average ranks, by counting."""
    out = []
    for v in y:
        higher = sum(1 for w in y if w > v)
        ties = sum(1 for w in y if w == v)
        out.append(higher + (ties - 1) / 2)
    return out


def ref_kl(s, y, t=0.05):
    n = len(s)
    if n < 2:
        return 0.0
    r = ref_ranks(y)
    tl = [((n - 1 - ri) / (n - 1)) / t for ri in r]
    lz = _logsumexp(tl)
    p = [math.exp(v - lz) for v in tl]
    ql = [v / t for v in s]
    lq = _logsumexp(ql)
    return sum(pi * (math.log(pi) - (qi - lq)) for pi, qi in zip(p, ql, strict=False)) / n


def ref_pro(s, y, t=0.05):
    order = sorted(range(len(y)), key=lambda i: -y[i])
    total, count = 0.0, 0
    for a, k in enumerate(order):
        negs = [(j, y[k] - y[j]) for j in order[a + 1 :] if y[k] - y[j] > 1e-8]
        if not negs:
            continue
        pos = (s[k] / t) * max(d for _, d in negs)
        logits = [pos] + [(s[j] / t) * d for j, d in negs]
        total += _logsumexp(logits) - pos
        count += 1
    return total / count if count else 0.0


def ref_infonce(a, b, y, thr, tau):
    rows = [i for i in range(len(y)) if y[i] >= thr]
    if len(rows) < 2:
        return 0.0
    total = 0.0
    for i in rows:
        logits = [sum(x * z for x, z in zip(a[i], b[j], strict=False)) / tau for j in rows]
        total += _logsumexp(logits) - logits[rows.index(i)]
    return total / len(rows)


def _unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


@pytest.mark.parametrize(("b", "p", "n"), [(1, 1, 0), (1, 2, 3), (3, 2, 4), (4, 1, 0), (5, 3, 1)])
def test_ir_infonce_matches_loop(b, p, n):
    q, pos, neg = _unit(b, 8, seed=1), _unit(b, p, 8, seed=2), _unit(b, n, 8, seed=3)
    got = ir_infonce(q, pos, neg if n else None, temperature=0.02)
    want = ref_ir(q.tolist(), pos.tolist(), neg.tolist(), 0.02)
    assert got.item() == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_ir_infonce_query_offset_selects_global_target():
    q, pos, neg = _unit(4, 8, seed=4), _unit(4, 2, 8, seed=5), _unit(4, 2, 8, seed=6)
    full = ir_infonce(q, pos, neg)
    halves = (ir_infonce(q[:2], pos, neg, query_offset=0) + ir_infonce(q[2:], pos, neg, query_offset=2)) / 2
    assert halves.item() == pytest.approx(full.item(), rel=1e-12)


def test_ir_other_positives_not_in_denominator():
    # query 0's second positive is identical to the query: it must not act as a negative for slot 0
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    pos = torch.tensor([[[0.6, 0.8], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]], dtype=torch.float64)
    got = ir_infonce(q, pos, None, temperature=0.5)
    assert got.item() == pytest.approx(ref_ir(q.tolist(), pos.tolist(), [[], []], 0.5), rel=1e-12)


CASES = {
    "distinct": ([0.9, 0.1, 0.5, 0.3, 0.7], [1.0, 0.0, 0.4, 0.2, 0.8]),
    "ties": ([0.2, 0.4, 0.4, 0.9, -0.1, 0.5], [0.6, 0.6, 0.2, 1.0, 0.2, 0.6]),
    "all_equal_gold": ([0.1, 0.5, 0.9], [0.5, 0.5, 0.5]),
    "all_equal_pred": ([0.3, 0.3, 0.3, 0.3], [0.0, 0.25, 0.5, 1.0]),
    "batch_of_one": ([0.7], [0.4]),
    "two": ([0.2, 0.8], [0.9, 0.1]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_pearson_matches_loop(case):
    s, y = CASES[case]
    got = pearson_loss(torch.tensor(s, dtype=torch.float64), torch.tensor(y, dtype=torch.float64))
    if case == "all_equal_pred":  # zero variance of s: pearson is 0 by the clamp, loss 1
        assert got.item() == pytest.approx(1.0)
        return
    assert got.item() == pytest.approx(ref_pearson(s, y) if len(s) > 1 else 0.0, abs=1e-6)


@pytest.mark.parametrize("case", list(CASES))
def test_rank_kl_matches_loop(case):
    s, y = CASES[case]
    got = rank_kl_loss(torch.tensor(s), torch.tensor(y))
    assert got.item() == pytest.approx(ref_kl(s, y), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("case", list(CASES))
def test_pro_matches_loop(case):
    s, y = CASES[case]
    got = pro_loss(torch.tensor(s), torch.tensor(y))
    assert got.item() == pytest.approx(ref_pro(s, y), rel=1e-5, abs=1e-6)


def test_average_ranks_with_ties():
    y = [0.6, 0.6, 0.2, 1.0, 0.2, 0.6]
    assert descending_average_ranks(torch.tensor(y)).tolist() == ref_ranks(y) == [2.0, 2.0, 4.5, 0.0, 4.5, 2.0]


@pytest.mark.parametrize("gold", [[1.0, 0.2, 1.0, 1.0, 0.5], [1.0, 0.3, 0.1], [0.2, 0.3], [1.0]])
def test_filtered_infonce_matches_loop(gold):
    a, b = _unit(len(gold), 6, seed=7), _unit(len(gold), 6, seed=8)
    got = filtered_infonce(a, b, torch.tensor(gold, dtype=torch.float64), threshold=1.0, temperature=0.02)
    assert got.item() == pytest.approx(ref_infonce(a.tolist(), b.tolist(), gold, 1.0, 0.02), rel=1e-9, abs=1e-9)


def test_sts_loss_combines_with_reference_weights():
    a, b = _unit(6, 8, seed=9), _unit(6, 8, seed=10)
    ma, mb = _unit(6, 8, seed=11), _unit(6, 8, seed=12)
    y = [1.0, 0.2, 1.0, 0.6, 0.6, 0.0]
    total, parts = sts_loss(a, b, torch.tensor(y, dtype=torch.float64), mid_first=ma, mid_second=mb)
    s = (a * b).sum(-1).tolist()
    want = (
        1 * ref_infonce(ma.tolist(), mb.tolist(), y, 1.0, 0.02)
        + 2 * ref_pearson(s, y)
        + 0.5 * ref_pro(s, y)
        + 5 * ref_kl(s, y)
    )
    assert total.item() == pytest.approx(want, rel=1e-5)
    assert set(parts) == {"pearson", "kl", "pro", "mid_infonce"}


def test_sts_loss_weights_are_configurable_and_degenerate_batches_backpropagate():
    a = _unit(1, 4, seed=13).requires_grad_(True)
    b = _unit(1, 4, seed=14)
    total, parts = sts_loss(a, b, torch.tensor([0.5], dtype=torch.float64), mid_first=a, mid_second=b)
    assert total.item() == 0.0 and all(v == 0.0 for v in parts.values())
    total.backward()  # connected to the graph even when every term is degenerate
    assert a.grad is not None and torch.all(a.grad == 0)
    only_kl = STSLossWeights(mid_infonce=0, pearson=0, pro=0, kl=1.0)
    a2, b2 = _unit(5, 4, seed=15), _unit(5, 4, seed=16)
    y = CASES["distinct"][1]
    t2, p2 = sts_loss(a2, b2, torch.tensor(y, dtype=torch.float64), weights=only_kl)
    assert set(p2) == {"kl"}
    assert t2.item() == pytest.approx(ref_kl((a2 * b2).sum(-1).tolist(), y), rel=1e-4)
