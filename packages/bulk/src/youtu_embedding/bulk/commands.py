"""The ``youtu-embed batch`` command (registered by name by :mod:`youtu_embedding.bulk.plugin`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from youtu_embedding.core.cli.options import (
    ChunkerOption,
    ChunkerOptionsOption,
    InstructionOption,
    LongInputsOption,
    NaiveOption,
    OverlapOption,
    PromptNameOption,
    TaskOption,
    TemplateOption,
    encoder_options,
    parse_chunker_options,
    stderr_line,
)
from youtu_embedding.core.spec import EncoderSpec


@encoder_options()
def batch(
    spec: EncoderSpec,
    input_spec: Annotated[
        str,
        typer.Option("--input", "-i", help="A .parquet/.jsonl file, a folder of them, or a glob.", show_default=False),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output folder of Parquet partitions.", show_default=False)
    ],
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Ray cluster (auto, host:6379, ray://host:10001); default: local."),
    ] = None,
    num_cpus: Annotated[
        int | None, typer.Option("--num-cpus", min=1, help="CPUs of the local Ray instance (default: all).")
    ] = None,
    num_actors: Annotated[
        int | None,
        typer.Option(
            "--num-actors", min=1, help="Model actors (default: one per GPU, else one per CPU as memory allows)."
        ),
    ] = None,
    threads_per_actor: Annotated[
        int | None,
        typer.Option("--threads-per-actor", min=1, help="Torch threads per CPU actor (default: 1 as memory allows)."),
    ] = None,
    text_column: Annotated[str, typer.Option("--text-column", help="Column / JSON field of the text.")] = "text",
    id_column: Annotated[str, typer.Option("--id-column", help="Column / JSON field of the id.")] = "id",
    generate_ids: Annotated[
        bool, typer.Option("--generate-ids", help="No id column: ids are '<relative path>:<row>'.")
    ] = False,
    skip_empty: Annotated[bool, typer.Option("--skip-empty", help="Drop empty texts instead of failing.")] = False,
    rows_per_partition: Annotated[
        int, typer.Option("--rows-per-partition", min=1, help="Rows per partition (unit of output and of resumption).")
    ] = 50_000,
    embedding_format: Annotated[
        str, typer.Option("--embedding-format", help="list (fixed-size list<float32>) or binary (float32 bytes).")
    ] = "list",
    prompt_name: PromptNameOption = None,
    instruction: InstructionOption = None,
    task: TaskOption = None,
    template: TemplateOption = None,
    truncate_dim: Annotated[int | None, typer.Option("--truncate-dim", help="Keep the first N dimensions.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an earlier job with other settings in --output.")
    ] = False,
    long_inputs: LongInputsOption = None,
    overlap: OverlapOption = 0,
    chunker: ChunkerOption = None,
    chunker_option: ChunkerOptionsOption = None,
    naive: NaiveOption = False,
) -> None:
    """Embed a partitioned Parquet/JSONL corpus into partitioned Parquet with Ray Data (resumable).

    Each partition (about --rows-per-partition rows of one input file) becomes one output file
    written atomically; rerunning the same command skips finished partitions.
    """
    from youtu_embedding.bulk.runner import embed_to_parquet

    result = embed_to_parquet(
        input_spec,
        output,
        spec,
        text_column=text_column,
        id_column=None if generate_ids else id_column,
        skip_empty=skip_empty,
        rows_per_partition=rows_per_partition,
        embedding_format=embedding_format,
        prompt_name=prompt_name,
        instruction=instruction,
        task=task,
        template=template,
        truncate_dim=truncate_dim,
        long_inputs=long_inputs.value if long_inputs is not None else None,
        overlap=overlap,
        chunker=chunker,
        chunker_options=parse_chunker_options(chunker_option),
        late=not naive,
        ray_address=ray_address,
        num_cpus=num_cpus,
        num_actors=num_actors,
        threads_per_actor=threads_per_actor,
        overwrite=overwrite,
    )
    rate = result.rows / result.seconds if result.seconds else 0.0
    pool = f" on {result.actors.num_actors} actor(s)" if result.actors else ""
    stderr_line(
        f"wrote {len(result.written)} partition(s), {result.rows} texts{pool} in {result.seconds:.1f}s "
        f"({rate:.0f} texts/s); "
        f"{len(result.already_done)} already done; {len(result.partitions)} in '{result.output_dir}'"
        + (f"; {result.skipped_empty} empty texts skipped" if result.skipped_empty else "")
    )
