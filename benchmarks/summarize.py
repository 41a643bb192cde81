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
    return "\n".join(lines) + "\n"


def main() -> None:
    src, dest = Path(sys.argv[1]), Path(sys.argv[2])
    text = summarize(json.loads(src.read_text()))
    dest.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
