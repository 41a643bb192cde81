"""Turn a pytest-benchmark JSON file into a Markdown table of throughput ratios per group.

Usage: python benchmarks/summarize.py bench.json summary.md
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def summarize(data: dict) -> str:
    groups: dict[str, list[dict]] = defaultdict(list)
    for bench in data["benchmarks"]:
        groups[bench.get("group") or "ungrouped"].append(bench)
    machine = data.get("machine_info", {})
    lines = [
        "# Benchmark summary",
        "",
        f"Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, {machine.get('cpu', {}).get('count', '?')} cores; "
        f"Python {machine.get('python_version', '?')}",
        "",
        "| group | benchmark | mean (s) | speed-up vs baseline | notes |",
        "|---|---|---|---|---|",
    ]
    for group, benches in sorted(groups.items()):
        base = next((b for b in benches if "baseline" in b["name"]), None)
        for b in sorted(benches, key=lambda b: b["name"]):
            mean = b["stats"]["mean"]
            ratio = f"{base['stats']['mean'] / mean:.2f}x" if base else "n/a"
            notes = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in b.get("extra_info", {}).items()
            )
            lines.append(f"| {group} | {b['name']} | {mean:.3f} | {ratio} | {notes} |")
    lines += _latency_section(groups)
    return "\n".join(lines) + "\n"


def _latency_section(groups: dict[str, list[dict]]) -> list[str]:
    """Served benchmarks (``p99_s`` in extra_info): throughput and p99 latency against the group's baseline."""
    served = {g: bs for g, bs in groups.items() if any("p99_s" in b.get("extra_info", {}) for b in bs)}
    if not served:
        return []
    lines = [
        "",
        "## Served throughput and latency vs baseline",
        "",
        "| group | benchmark | texts/s | p50 (s) | p99 (s) | texts/s vs baseline | p99 vs baseline "
        "| min cosine | target met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for group, benches in sorted(served.items()):
        base = next((b for b in benches if "baseline" in b["name"]), None)
        base_info = base.get("extra_info", {}) if base else {}
        for b in sorted(benches, key=lambda b: b["name"]):
            info = b.get("extra_info", {})
            if "p99_s" not in info:
                continue
            if base is not None and b is not base and "p99_s" in base_info:
                speed = f"{base['stats']['mean'] / b['stats']['mean']:.2f}x"
                p99 = f"{info['p99_s'] / base_info['p99_s']:.2f}x"
            else:
                speed = p99 = "baseline" if b is base else "n/a"
            cosine = info.get("min_cosine_vs_infinity", info.get("min_cosine"))
            cosine_text = f"{cosine:.5f}" if isinstance(cosine, float) else "-"
            met = {True: "yes", False: "no"}.get(info.get("target_met"), "-")
            rate, p50, p99_s = info.get("texts_per_s", float("nan")), info.get("p50_s", float("nan")), info["p99_s"]
            lines.append(
                f"| {group} | {b['name']} | {rate:.1f} | {p50:.3f} | {p99_s:.3f} | {speed} | {p99} "
                f"| {cosine_text} | {met} |"
            )
    return lines


def main() -> None:
    src, dest = Path(sys.argv[1]), Path(sys.argv[2])
    text = summarize(json.loads(src.read_text()))
    dest.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
