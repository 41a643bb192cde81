"""``youtu-embed eval`` and ``youtu-embed eval-report`` (added through the ``register_commands`` hook)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from youtu_embedding.core.cli.options import encoder_options, stderr_line
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.spec import EncoderSpec


def _split_names(values: list[str] | None) -> list[str]:
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def _instruction_overrides(values: list[str] | None) -> dict[str, str]:
    overrides = {}
    for value in values or []:
        task, sep, text = value.partition("=")
        if not sep or not task.strip():
            raise InvalidArgumentError("instruction", f"expected TASK=TEXT, got {value!r}")
        overrides[task.strip()] = text
    return overrides


def _print_summary(run) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    from youtu_embedding.eval.results import overall_means, type_means

    table = Table(title=f"results in {run.output}")
    for column in ("task", "type", "metric", "score", "instruction"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for s in sorted(run.scores.values(), key=lambda s: (s.task_type, s.task_name)):
        table.add_row(s.task_name, s.task_type, s.main_metric, f"{s.main_score:.2f}", (s.instruction or "-")[:60])
    for label, value in {**type_means(run.scores.values()), **overall_means(run.scores.values())}.items():
        table.add_row(label, "", "", f"{value:.2f}", "", style="bold")
    Console().print(table)


@encoder_options()
def eval_command(
    spec: EncoderSpec,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Folder searched (any depth) for task folders with a meta.json.")
    ] = None,
    tasks: Annotated[
        list[str] | None, typer.Option("--tasks", "-t", help="Registered mteb tasks (comma-separated or repeated).")
    ] = None,
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", "-b", help='Registered mteb benchmark, e.g. "MTEB(cmn, v1)" (C-MTEB).')
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output folder (default: results/<model name>).")
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline", help="Results folder, or 'youtu-embedding-v1' (released scores), to compare against."
        ),
    ] = None,
    template: Annotated[
        str,
        typer.Option("--template", help="Instruction template; auto = youtu for utu models, none otherwise."),
    ] = "auto",
    instruction: Annotated[
        list[str] | None, typer.Option("--instruction", help="TASK=TEXT: override a task's instruction (repeatable).")
    ] = None,
    max_samples: Annotated[
        int | None, typer.Option("--max-samples", help="Subsample local splits to N rows/queries (quick checks).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Sampling and evaluation seed.")] = 42,
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Embeddings cache folder (default ~/.cache/youtu-embedding/eval)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the embeddings cache.")] = False,
    online: Annotated[
        bool, typer.Option("--online", help="Let registered tasks download missing datasets (default: cache only).")
    ] = False,
) -> None:
    """Evaluate a model on local task folders and/or registered mteb (C-MTEB) tasks; write results and a report."""
    import re

    from youtu_embedding.eval.runner import evaluate

    task_names = _split_names(tasks)
    if data_dir is None and not task_names and not benchmark:
        raise InvalidArgumentError("tasks", "give --data-dir, --tasks or --benchmark")
    if output is None:
        output = Path("results") / re.sub(r"[^\w.\-]+", "__", spec.model.strip("/"))
    encoder_kwargs = spec.encoder_kwargs()
    run = evaluate(
        encoder_kwargs.pop("model"),
        data_dir=data_dir,
        tasks=task_names,
        benchmark=benchmark,
        output=output,
        template=template,
        instructions=_instruction_overrides(instruction),
        baseline=baseline,
        max_samples=max_samples,
        seed=seed,
        batch_size=spec.batch_size,
        cache_dir=cache_dir,
        use_cache=not no_cache,
        offline=not online,
        encoder_kwargs=encoder_kwargs,
    )
    _print_summary(run)
    if run.cache_hits or run.cache_misses:
        stderr_line(f"embeddings cache: {run.cache_hits} hits, {run.cache_misses} misses")
    if run.report:
        stderr_line(f"report: {run.report.markdown}, {run.report.html}, {run.report.plot}")


def eval_report_command(
    results: Annotated[Path, typer.Option("--results", "-r", help="A results folder (ours or plain mteb).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Report folder (default: the results folder).")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Results folder or 'youtu-embedding-v1' to compare against.")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Report title.")] = None,
) -> None:
    """Write the report (Markdown, HTML, PNG) of an existing results folder, optionally against a baseline."""
    from youtu_embedding.eval.baselines import load_baseline
    from youtu_embedding.eval.report import write_report
    from youtu_embedding.eval.results import read_results_folder

    scores = read_results_folder(results)
    if not scores:
        raise InvalidArgumentError("results", f"no task result files in '{results}'")
    files = write_report(
        scores,
        output or results,
        baseline=load_baseline(baseline) if baseline else None,
        title=title or f"Results in {results}",
    )
    stderr_line(f"report: {files.markdown}, {files.html}, {files.plot}")


@encoder_options()
def eval_long_documents_command(
    spec: EncoderSpec,
    source: Annotated[
        Path, typer.Option("--source", help="A Retrieval task folder whose passages come from longer documents.")
    ],
    group_by: Annotated[str, typer.Option("--group-by", help="Corpus field naming a passage's document.")] = "title",
    strategies: Annotated[
        str, typer.Option("--strategies", help="Comma-separated: late, naive, truncate, windows.")
    ] = "late,naive,truncate,windows",
    chunker: Annotated[str, typer.Option("--chunker", help="Chunker of late/naive chunking.")] = "paragraphs",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the results as JSON here.")] = None,
) -> None:
    """Document-level retrieval built from a Retrieval folder (passages grouped into documents):
    nDCG@10 of late chunking, naive chunking and whole-document embeddings."""
    import time

    from youtu_embedding.eval.long_documents import (
        STRATEGIES,
        build_document_task,
        evaluate_long_documents,
        markdown_table,
        write_results,
    )

    chosen = _split_names([strategies])
    for name in chosen:
        if name not in STRATEGIES:
            raise InvalidArgumentError("strategies", f"unknown strategy '{name}'", STRATEGIES)
    task = build_document_task(source, group_by=group_by)
    encoder = spec.build()
    start = time.perf_counter()
    rows = evaluate_long_documents(encoder, task, chosen, chunker=chunker)
    typer.echo(markdown_table(spec.model, rows))
    stderr_line(f"{task.name}: {task.describe()}, max_length {encoder.max_length}, {time.perf_counter() - start:.1f}s")
    if output is not None:
        write_results(
            output,
            {
                "model": spec.model,
                "task": task.name,
                "source": str(source),
                "chunker": chunker,
                "max_length": encoder.max_length,
                **task.describe(),
                "results": rows,
            },
        )
