"""Run a bulk embedding job on Ray Data: plan partitions, skip finished ones, embed the rest with an actor pool.

The pipeline is ``ray.data.from_items(pending partitions).map_batches(PartitionEmbedder, concurrency=N)``:
each pool actor holds one encoder (one actor per GPU; without GPUs, CPU actors with
``threads_per_actor`` torch threads, sized per node) and writes each partition's Parquet file
itself, so embeddings never travel through the driver. The driver only plans, streams the small
result rows (one per partition) and reports progress.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from youtu_embedding.bulk.actors import PartitionEmbedder
from youtu_embedding.bulk.output import EMBEDDING_FORMATS, FORMAT_VERSION, clean_unfinished, prepare_output, read_marker
from youtu_embedding.bulk.partitions import DEFAULT_ROWS_PER_PARTITION, Partition, plan_partitions
from youtu_embedding.core.errors import InvalidArgumentError, YoutuEmbeddingError
from youtu_embedding.core.spec import EncoderSpec


class BulkJobError(YoutuEmbeddingError):
    """A partition failed (bad input found by an actor); the message names the partition and the row."""


@dataclass
class ActorPlan:
    """How many model actors run and what each one reserves."""

    num_actors: int
    threads_per_actor: int
    gpus_per_actor: float
    cpus_per_actor: float


@dataclass
class BulkResult:
    """Outcome of :func:`embed_to_parquet`.

    Attributes:
        output_dir: the output folder.
        partitions: partitions of the job.
        written: indices of the partitions written by this run.
        already_done: indices of the partitions found finished and skipped.
        rows: texts embedded by this run.
        skipped_empty: empty texts dropped by this run (``skip_empty=True``).
        seconds: wall time of this run (planning, Ray start-up and embedding).
        actors: the actor pool used (None when nothing was left to do).
    """

    output_dir: Path
    partitions: list[Partition]
    written: list[int] = field(default_factory=list)
    already_done: list[int] = field(default_factory=list)
    rows: int = 0
    skipped_empty: int = 0
    seconds: float = 0.0
    actors: ActorPlan | None = None


def _alive_nodes() -> list[dict[str, float]]:
    import ray

    return [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]


#: Resident memory of one CPU actor beyond its weights: the torch/transformers process and batch activations.
ACTOR_BASE_MEMORY = 1 << 30


def actor_memory_bytes(weight_bytes: int) -> int:
    """Estimated resident memory of one model actor: the weights twice (loading, runtime copies) plus a base."""
    return 2 * weight_bytes + ACTOR_BASE_MEMORY


def model_weight_bytes(model: str, **resolve_kwargs: Any) -> int | None:
    """Size of the model's weight files, when the driver can see them (None otherwise, e.g. a cluster path)."""
    from youtu_embedding.core.hub import resolve_model_dir

    try:
        _, root = resolve_model_dir(model, local_files_only=True, **resolve_kwargs)
    except Exception:
        return None
    sizes = [f.stat().st_size for pattern in ("*.safetensors", "*.bin") for f in root.rglob(pattern) if f.is_file()]
    return sum(sizes) or None


def plan_actors(
    device: str,
    num_actors: int | None,
    threads_per_actor: int | None,
    *,
    local: bool = True,
    weight_bytes: int | None = None,
) -> ActorPlan:
    """Size the actor pool from the cluster's nodes: one actor per GPU, else CPU actors with threads.

    Without either count, CPU nodes run as many single-threaded actors as they have CPUs when their
    memory holds that many model copies (``weight_bytes`` known; measured on 2 cores with
    all-MiniLM-L6-v2: 2 actors x 1 thread embed 1.18x faster than 1 actor x 2 threads, which
    spends time synchronising its threads), else fewer actors with more threads each, down to one
    actor per node using all its CPUs (also the plan when the weights' size is unknown). With only
    ``num_actors``, the cluster's CPUs are shared among them; with only ``threads_per_actor``,
    every node gets ``its CPUs // threads_per_actor`` actors.
    """
    for name, value in (("num_actors", num_actors), ("threads_per_actor", threads_per_actor)):
        if value is not None and value < 1:
            raise InvalidArgumentError(name, f"must be at least 1, got {value}")
    nodes = _alive_nodes()
    gpus = int(sum(node.get("GPU", 0) for node in nodes))
    use_gpu = gpus > 0 and not device.startswith(("cpu", "mps"))
    if device.startswith("cuda") and gpus == 0:
        raise InvalidArgumentError("device", f"'{device}' was asked for but the Ray cluster has no GPU")
    if use_gpu:
        return ActorPlan(num_actors or gpus, threads_per_actor or 1, 1.0, 1.0)
    cpu_nodes = [node for node in nodes if node.get("CPU", 0) >= 1]
    cpus = [int(node["CPU"]) for node in cpu_nodes]
    if not cpus:
        raise InvalidArgumentError("ray_address", "the Ray cluster has no node with a CPU")
    if threads_per_actor is None and num_actors is not None:
        threads_per_actor = max(1, min(min(cpus), sum(cpus) // num_actors))
    if threads_per_actor is None and weight_bytes:
        per_actor = actor_memory_bytes(weight_bytes)
        fits = [
            max(1, min(c, int(node.get("memory", 0)) // per_actor)) for c, node in zip(cpus, cpu_nodes, strict=True)
        ]
        threads_per_actor = max(-(-c // n) for c, n in zip(cpus, fits, strict=True))  # the tightest node decides
    threads = threads_per_actor or min(cpus)
    actors = num_actors or max(1, sum(c // threads for c in cpus))
    if local and actors * threads > sum(cpus):
        raise InvalidArgumentError(
            "num_actors",
            f"{actors} actors x {threads} threads need {actors * threads} CPUs but Ray has {sum(cpus)}; "
            "lower --num-actors or --threads-per-actor",
        )
    return ActorPlan(actors, threads, 0.0, float(threads))


def _check_output_location(output_dir: Path, spec: str, partitions: list[Partition]) -> None:
    """Refuse an output that the input would pick up on a rerun (inside the input folder, or matched by the glob)."""
    if Path(spec).is_dir() and output_dir.is_relative_to(Path(spec).resolve()):
        raise InvalidArgumentError("output", f"'{output_dir}' is inside the input folder '{spec}'; choose another")
    if any(char in spec for char in "*?[") and fnmatch.fnmatch(
        str(output_dir / "part-00000.parquet"), str(Path(spec).absolute())
    ):
        raise InvalidArgumentError("output", f"the input glob '{spec}' would match the output files; choose another")
    for partition in partitions:
        if Path(partition.source).is_relative_to(output_dir):
            raise InvalidArgumentError("output", f"input file '{partition.source}' is inside the output folder")


def _manifest(root: Path, partitions: list[Partition], settings: dict[str, Any]) -> dict[str, Any]:
    """The job's identity: settings and partition plan (a rerun resumes only when both are equal)."""
    keys = ("relpath", "kind", "first_row", "num_rows", "row_groups", "byte_start", "byte_end")
    plan = []
    for partition in partitions:
        entry: dict[str, Any] = {"name": partition.name}
        for key in keys:
            value = getattr(partition, key)
            entry[key] = list(value) if isinstance(value, tuple) else value
        plan.append(entry)
    return {"format_version": FORMAT_VERSION, "input_root": str(root), "settings": settings, "partitions": plan}


class _Progress:
    """A tqdm bar on a terminal, else one line per finished partition on stderr."""

    def __init__(self, total_rows: int, total_partitions: int, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.enabled, self.total_partitions, self.done, self.rows = enabled, total_partitions, 0, 0
        self.start = time.perf_counter()
        self.bar = tqdm(total=total_rows, desc="Embedding", unit="text", disable=None if enabled else True)
        self.lines = enabled and self.bar.disable

    def update(self, rows: int) -> None:
        self.done, self.rows = self.done + 1, self.rows + rows
        self.bar.update(rows)
        self.bar.set_postfix_str(f"{self.done}/{self.total_partitions} partitions", refresh=False)
        if self.lines:
            rate = self.rows / max(time.perf_counter() - self.start, 1e-9)
            print(
                f"[{self.done}/{self.total_partitions} partitions] {self.rows} texts, {rate:.0f} texts/s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        self.bar.close()


def _start_ray(ray_address: str | None, num_cpus: int | None) -> bool:
    """Connect to (or start) Ray; returns True when this call started it (and should shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    common: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
    if ray_address:
        ray.init(address=ray_address, **common)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, **common)
    return True


def _chunk_settings(
    long_inputs: str | None, overlap: int, chunker: str | None, options: dict[str, Any] | None, late: bool
) -> dict[str, Any] | None:
    """Check the long-input options on the driver (before Ray starts); the ``encode_chunks`` options or None."""
    from youtu_embedding.core.chunking import LONG_INPUTS
    from youtu_embedding.core.late_chunking import resolve_chunker

    if long_inputs is not None and long_inputs not in LONG_INPUTS:
        raise InvalidArgumentError("long_inputs", f"unknown mode {long_inputs!r}", LONG_INPUTS)
    if not isinstance(overlap, int) or overlap < 0:
        raise InvalidArgumentError("overlap", f"must be a non-negative integer, got {overlap!r}")
    if chunker is None:
        if options or not late:
            raise InvalidArgumentError("chunker", "chunker_options and late=False need a chunker")
        return None
    if long_inputs is not None:
        raise InvalidArgumentError("long_inputs", "a chunked job windows whole texts itself; leave long_inputs unset")
    _, checked = resolve_chunker(chunker, options)
    return {"chunker": chunker, "chunker_options": checked, "late": late}


def embed_to_parquet(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    model: str | EncoderSpec,
    *,
    text_column: str = "text",
    id_column: str | None = "id",
    skip_empty: bool = False,
    rows_per_partition: int = DEFAULT_ROWS_PER_PARTITION,
    embedding_format: str = "list",
    prompt_name: str | None = None,
    instruction: str | None = None,
    task: str | None = None,
    template: str | None = None,
    normalize: bool | None = None,
    truncate_dim: int | None = None,
    long_inputs: str | None = None,
    overlap: int = 0,
    chunker: str | None = None,
    chunker_options: dict[str, Any] | None = None,
    late: bool = True,
    ray_address: str | None = None,
    num_cpus: int | None = None,
    num_actors: int | None = None,
    threads_per_actor: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    **encoder_options: Any,
) -> BulkResult:
    """Embed the texts of a partitioned Parquet/JSONL input into a partitioned Parquet output with Ray Data.

    Args:
        input: a ``.parquet``/``.jsonl`` file, a folder of them (recursive) or a glob pattern.
        output: the output folder (``part-NNNNN.parquet`` files with columns id, text, embedding).
        model: model directory, Hugging Face id or alias, or an
            :class:`~youtu_embedding.core.spec.EncoderSpec`: what every actor loads.
        text_column / id_column: input columns (JSON fields); ``id_column=None`` generates ids
            ``"{relative path}:{row}"``. Ids are written as strings.
        skip_empty: drop empty texts instead of failing on them.
        rows_per_partition: rows per partition (Parquet partitions are whole row groups).
        embedding_format: ``list`` (fixed-size list<float32>) or ``binary`` (fixed-size binary of
            little-endian float32).
        encoder_options: fields of :class:`~youtu_embedding.core.spec.EncoderSpec` (device, dtype,
            attention, pooling, max_length, batch_size, runtime, quantization...): how each
            actor builds its encoder (they override the fields of a ``model`` spec).
        prompt_name, instruction, task, template, normalize, truncate_dim: ``Encoder.encode`` options.
        long_inputs / overlap: over-length texts (``"chunk"``: windows combined into one vector).
        chunker / chunker_options / late: one output row per chunk (``Encoder.encode_chunks``), with
            int32 columns ``chunk`` (index in its document), ``start`` and ``end`` (character span);
            ``id`` is the document's and ``text`` the chunk's.
        ray_address: an existing cluster (``auto``, ``host:6379``, ``ray://host:10001``); default:
            start Ray locally with ``num_cpus`` CPUs. An already initialised Ray is reused as is.
        num_actors / threads_per_actor: actor pool size and torch threads per CPU actor (default:
            one actor per GPU, else one single-threaded actor per CPU as far as node memory holds
            the model copies; see :func:`plan_actors`).
        overwrite: replace an earlier job with other settings in ``output`` instead of failing.
        progress: show a progress bar (terminal) or one line per partition (otherwise) on stderr.

    Partitions finished by an earlier run of the same job are skipped; the others are (re)computed.
    """
    import ray

    if isinstance(model, EncoderSpec):
        spec = EncoderSpec.from_options(**{**model.encoder_kwargs(), **encoder_options}) if encoder_options else model
    else:
        spec = EncoderSpec.from_options(model=model, **encoder_options)
    start = time.perf_counter()
    if embedding_format not in EMBEDDING_FORMATS:
        raise InvalidArgumentError("embedding_format", f"unknown format '{embedding_format}'", EMBEDDING_FORMATS)
    given = {"prompt_name": prompt_name, "instruction": instruction, "task": task}
    if sum(value is not None for value in given.values()) > 1:
        raise InvalidArgumentError("prompt", "give at most one of prompt_name, instruction and task")
    from youtu_embedding.core.runtimes import get_runtime

    get_runtime(spec.runtime, spec.quantization)  # an unknown / unavailable runtime fails here, not in every actor
    chunk_kwargs = _chunk_settings(long_inputs, overlap, chunker, chunker_options, late)
    output_dir = Path(output).resolve()
    root, partitions = plan_partitions(
        input, rows_per_partition=rows_per_partition, text_column=text_column, id_column=id_column
    )
    _check_output_location(output_dir, os.fspath(input), partitions)
    encoder_kwargs: dict[str, Any] = {**spec.encoder_kwargs(), "template": template or "youtu"}
    if normalize is None:
        normalize = spec.normalize
    encode_kwargs = {
        k: v for k, v in {**given, "normalize": normalize, "truncate_dim": truncate_dim}.items() if v is not None
    }
    if long_inputs is not None:
        encode_kwargs.update(long_inputs=long_inputs, overlap=overlap)
    elif chunk_kwargs is not None and overlap:
        encode_kwargs["overlap"] = overlap
    settings: dict[str, Any] = {
        "model": spec.model,
        "dtype": spec.dtype,
        "attention": spec.attention,
        "pooling": spec.pooling,
        "max_length": spec.max_length,
        "template": template,
        "text_column": text_column,
        "id_column": id_column,
        "skip_empty": skip_empty,
        "rows_per_partition": rows_per_partition,
        "embedding_format": embedding_format,
        **encode_kwargs,
    }
    if chunk_kwargs is not None:  # absent by default, as the runtime keys below
        settings["chunking"] = chunk_kwargs
    if spec.runtime != "torch" or spec.runtime_options or spec.quantization:  # absent by default: older manifests match
        settings.update(runtime=spec.runtime, runtime_options=spec.runtime_options, quantization=spec.quantization)
    resumed = prepare_output(output_dir, _manifest(root, partitions, settings), overwrite=overwrite)
    if resumed:
        clean_unfinished(output_dir, [p.name for p in partitions])
    done = [p.index for p in partitions if read_marker(output_dir, p.name) is not None]
    pending = [p for p in partitions if p.index not in set(done)]
    result = BulkResult(output_dir, partitions, already_done=done)
    if not pending:
        result.seconds = time.perf_counter() - start
        return result
    owns_ray = _start_ray(ray_address, num_cpus)
    bar: _Progress | None = None
    try:
        weights = model_weight_bytes(spec.model, allow_pickle=spec.allow_pickle) if num_actors is None else None
        plan = plan_actors(spec.device, num_actors, threads_per_actor, local=ray_address is None, weight_bytes=weights)
        result.actors = plan
        if plan.gpus_per_actor == 0:
            encoder_kwargs["num_threads"] = plan.threads_per_actor
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # our bar counts texts; Ray's would count partitions
        context.verbose_stats_logs = False
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled"
        metadata = {"model": spec.model, "format": embedding_format, **{k: str(v) for k, v in encode_kwargs.items()}}
        dataset = ray.data.from_items(
            [{"partition": p.to_json()} for p in pending], override_num_blocks=len(pending)
        ).map_batches(
            PartitionEmbedder,
            fn_constructor_kwargs=dict(
                output_dir=str(output_dir),
                encoder_kwargs=encoder_kwargs,
                encode_kwargs=encode_kwargs,
                text_column=text_column,
                id_column=id_column,
                skip_empty=skip_empty,
                embedding_format=embedding_format,
                metadata=metadata,
                chunk_kwargs=chunk_kwargs,
            ),
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=plan.num_actors),
            num_cpus=plan.cpus_per_actor,
            num_gpus=plan.gpus_per_actor or None,
        )
        bar = _Progress(sum(p.num_rows for p in pending), len(pending), progress)
        by_index = {p.index: p for p in pending}
        for row in dataset.iter_rows():
            index = int(row["index"])
            if row["error"]:
                partition = by_index[index]
                raise BulkJobError(f"{partition.name} ({partition.relpath}): {row['error']}")
            result.written.append(index)
            result.rows += int(row["rows"])
            result.skipped_empty += int(row["skipped_empty"])
            bar.update(int(row["rows"]) + int(row["skipped_empty"]))
    finally:
        if bar is not None:
            bar.close()
        if owns_ray:
            ray.shutdown()
    result.seconds = time.perf_counter() - start
    return result
