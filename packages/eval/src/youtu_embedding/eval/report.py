"""The evaluation report: Markdown and HTML tables per task type, Mean(Task) / Mean(Type), the
comparison against a baseline, and a per-task bar chart (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from youtu_embedding.eval.baselines import Baseline
from youtu_embedding.eval.results import TYPE_ABBREVIATIONS, TaskScore, overall_means, type_means

PLOT_NAME = "scores.png"
PLOT_DPI = 100
PLOT_WIDTH_IN = 10.0


def plot_size(n_tasks: int) -> tuple[int, int]:
    """Pixel size ``(width, height)`` of the bar chart of ``n_tasks`` tasks."""
    return int(PLOT_WIDTH_IN * PLOT_DPI), round(_plot_height_in(n_tasks) * PLOT_DPI)


def _plot_height_in(n_tasks: int) -> float:
    return max(3.0, 1.5 + 0.4 * n_tasks)


@dataclass(frozen=True)
class ReportFiles:
    """Paths of a written report."""

    markdown: Path
    html: Path
    plot: Path


@dataclass(frozen=True)
class _Row:
    score: TaskScore
    baseline: float | None

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None else self.score.main_score - self.baseline


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _rows(scores: Mapping[str, TaskScore], baseline: Baseline | None) -> dict[str, list[_Row]]:
    grouped: dict[str, list[_Row]] = {}
    for task_type in type_means(scores.values()):
        members = sorted((s for s in scores.values() if s.task_type == task_type), key=lambda s: s.task_name)
        grouped[task_type] = [
            _Row(s, baseline.scores[s.task_name].main_score if baseline and s.task_name in baseline.scores else None)
            for s in members
        ]
    return grouped


def _summary_rows(
    scores: Mapping[str, TaskScore], baseline: Baseline | None
) -> list[tuple[str, int, float, float | None]]:
    """(label, n tasks, model mean, baseline mean over the same tasks)."""
    out = []
    common = [s for s in scores.values() if baseline and s.task_name in baseline.scores]
    base_common = [baseline.scores[s.task_name] for s in common] if baseline else []
    base_types = type_means(base_common)
    for task_type, mean in type_means(scores.values()).items():
        n = sum(1 for s in scores.values() if s.task_type == task_type)
        out.append((task_type, n, mean, base_types.get(task_type)))
    means = overall_means(scores.values())
    base_means = overall_means(base_common) if base_common else {}
    for label, value in means.items():
        out.append((label, len(scores), value, base_means.get(label)))
    return out


def plot_scores(
    scores: Mapping[str, TaskScore], path: str | Path, *, baseline: Baseline | None = None, title: str = ""
) -> Path:
    """A horizontal bar chart of each task's main score (and the baseline's, when given); PNG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    ordered = [r for rows in _rows(scores, baseline).values() for r in rows]
    n = len(ordered)
    fig, ax = plt.subplots(figsize=(PLOT_WIDTH_IN, _plot_height_in(n)), dpi=PLOT_DPI)
    y = np.arange(n)
    has_baseline = baseline is not None and any(r.baseline is not None for r in ordered)
    height = 0.4 if has_baseline else 0.7
    model_scores = [r.score.main_score for r in ordered]
    ax.barh(y - (height / 2 if has_baseline else 0), model_scores, height=height, label="this run", color="#3b6ea5")
    if has_baseline:
        base = [r.baseline if r.baseline is not None else 0.0 for r in ordered]
        ax.barh(y + height / 2, base, height=height, label=baseline.name if baseline else "baseline", color="#e39b3a")
    ax.set_yticks(
        y, [f"{r.score.task_name} ({TYPE_ABBREVIATIONS.get(r.score.task_type, r.score.task_type)})" for r in ordered]
    )
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("main score (0-100)")
    ax.set_title(title or "Main score per task")
    for yi, value in zip(y, model_scores, strict=True):
        ax.text(
            min(value, 100) + 0.5, yi - (height / 2 if has_baseline else 0), f"{value:.1f}", va="center", fontsize=7
        )
    ax.legend(loc="lower right", fontsize=8)
    fig.subplots_adjust(left=0.32, right=0.97, top=1 - 0.6 / _plot_height_in(n), bottom=0.7 / _plot_height_in(n))
    path = Path(path)
    fig.savefig(path, format="png", dpi=PLOT_DPI)  # no bbox_inches="tight": the size stays plot_size(n)
    plt.close(fig)
    return path


def _markdown(scores: Mapping[str, TaskScore], baseline: Baseline | None, title: str, notes: Sequence[str]) -> str:
    lines = [f"# {title}", ""]
    lines += [f"- {note}" for note in notes]
    if notes:
        lines.append("")
    base_label = baseline.name if baseline else None
    for task_type, rows in _rows(scores, baseline).items():
        lines += [f"## {task_type}", ""]
        header = "| task | metric | score |"
        rule = "|---|---|---:|"
        if base_label:
            header += f" {base_label} | delta |"
            rule += "---:|---:|"
        lines += [header, rule]
        for r in rows:
            line = f"| {r.score.task_name} | {r.score.main_metric} | {_fmt(r.score.main_score)} |"
            if base_label:
                line += f" {_fmt(r.baseline)} | {_fmt(r.delta, True)} |"
            lines.append(line)
        lines.append("")
    lines += ["## Summary", ""]
    header = "| | tasks | score |" + (f" {base_label} (same tasks) |" if base_label else "")
    rule = "|---|---:|---:|" + ("---:|" if base_label else "")
    lines += [header, rule]
    for label, n, mean, base_mean in _summary_rows(scores, baseline):
        line = f"| {label} | {n} | {_fmt(mean)} |"
        if base_label:
            line += f" {_fmt(base_mean)} |"
        lines.append(line)
    lines.append("")
    if baseline and baseline.published_means:
        lines += [f"Published aggregates of {baseline.name} (over its full task set):", ""]
        lines += ["| | score |", "|---|---:|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in baseline.published_means.items()]
        lines.append("")
    if baseline and baseline.missing_tasks:
        lines += [f"Per-task scores of {baseline.name} not in our sources: {', '.join(baseline.missing_tasks)}.", ""]
    lines += [f"![main score per task]({PLOT_NAME})", ""]
    return "\n".join(lines)


def _html(scores: Mapping[str, TaskScore], baseline: Baseline | None, title: str, notes: Sequence[str]) -> str:
    e = html.escape
    base_label = baseline.name if baseline else None
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #bbb;padding:3px 8px}td.n{text-align:right}.neg{color:#b00}.pos{color:#070}</style>",
        "</head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    for task_type, rows in _rows(scores, baseline).items():
        parts.append(f"<h2>{e(task_type)}</h2><table><tr><th>task</th><th>metric</th><th>score</th>")
        if base_label:
            parts.append(f"<th>{e(base_label)}</th><th>delta</th>")
        parts.append("</tr>")
        for r in rows:
            parts.append(
                f"<tr><td>{e(r.score.task_name)}</td><td>{e(r.score.main_metric)}</td>"
                f'<td class="n">{_fmt(r.score.main_score)}</td>'
            )
            if base_label:
                cls = "" if r.delta is None else (' class="n pos"' if r.delta >= 0 else ' class="n neg"')
                parts.append(f'<td class="n">{_fmt(r.baseline)}</td><td{cls or " class=n"}>{_fmt(r.delta, True)}</td>')
            parts.append("</tr>")
        parts.append("</table>")
    parts.append("<h2>Summary</h2><table><tr><th></th><th>tasks</th><th>score</th>")
    if base_label:
        parts.append(f"<th>{e(base_label)} (same tasks)</th>")
    parts.append("</tr>")
    for label, n, mean, base_mean in _summary_rows(scores, baseline):
        parts.append(f'<tr><td>{e(label)}</td><td class="n">{n}</td><td class="n">{_fmt(mean)}</td>')
        if base_label:
            parts.append(f'<td class="n">{_fmt(base_mean)}</td>')
        parts.append("</tr>")
    parts.append("</table>")
    if baseline and baseline.published_means:
        parts.append(f"<p>Published aggregates of {e(baseline.name)} (over its full task set):</p><table>")
        parts += [f'<tr><td>{e(k)}</td><td class="n">{_fmt(v)}</td></tr>' for k, v in baseline.published_means.items()]
        parts.append("</table>")
    if baseline and baseline.missing_tasks:
        parts.append(
            f"<p>Per-task scores of {e(baseline.name)} not in our sources: {e(', '.join(baseline.missing_tasks))}.</p>"
        )
    parts.append(f'<p><img src="{PLOT_NAME}" alt="main score per task"></p></body></html>')
    return "\n".join(parts)


def write_report(
    scores: Mapping[str, TaskScore],
    output_dir: str | Path,
    *,
    baseline: Baseline | None = None,
    title: str = "Evaluation report",
    notes: Sequence[str] = (),
) -> ReportFiles:
    """Write ``report.md``, ``report.html`` and ``scores.png`` into ``output_dir``."""
    if not scores:
        raise ValueError("report: no task results to report")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    plot = plot_scores(scores, output_dir / PLOT_NAME, baseline=baseline, title=title)
    md = output_dir / "report.md"
    md.write_text(_markdown(scores, baseline, title, notes), encoding="utf-8")
    page = output_dir / "report.html"
    page.write_text(_html(scores, baseline, title, notes), encoding="utf-8")
    return ReportFiles(md, page, plot)
