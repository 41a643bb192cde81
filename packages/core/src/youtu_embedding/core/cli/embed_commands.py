"""The embedding commands of ``youtu-embed``: ``encode``, ``similarity`` and ``search``.

Registered by the built-in plugin :mod:`youtu_embedding.core.builtins.commands`. Torch and
transformers are imported only when a command loads a model.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from youtu_embedding.core.cli.io import (
    EmbeddingWriter,
    ReadResult,
    Record,
    check_output_path,
    iter_records,
    read_corpus,
    read_records,
    snippet,
)
from youtu_embedding.core.cli.options import (
    ChunkerOption,
    ChunkerOptionsOption,
    InstructionOption,
    JsonOption,
    LongInputsOption,
    NaiveOption,
    OverlapOption,
    PromptNameOption,
    TaskOption,
    TemplateOption,
    encoder_options,
    parse_chunker_options,
    prompt_kwargs,
    stderr_line,
)
from youtu_embedding.core.spec import EncoderSpec

if TYPE_CHECKING:
    import numpy as np

    from youtu_embedding.core.embedding_cache import EmbeddingCache
    from youtu_embedding.core.encoder import Encoder


def _encode_records(encoder: Encoder, records: list[Record], method: str = "encode", **kwargs: Any) -> np.ndarray:
    """Embed the texts of `records`; an over-long text is reported with its file and line."""
    from youtu_embedding.core.errors import InputTooLongError

    try:
        return getattr(encoder, method)([r.text for r in records], **kwargs)
    except InputTooLongError as exc:
        match = re.fullmatch(r"texts\[(\d+)\]", exc.argument)
        if match is None:
            raise
        record = records[int(match.group(1))]
        detail = str(exc).removeprefix(f"{exc.argument}: ").split(" (pass truncate=True", 1)[0]
        where = f"line {record.line} of '{record.source}'" if record.line else f"'{record.source}'"
        raise InputTooLongError(
            "input", f"{where} {detail}; drop --no-truncate to cut it or raise --max-length"
        ) from None


def _encode_records_cached(
    encoder: Encoder, records: list[Record], cache: EmbeddingCache | None, method: str, **kwargs: Any
) -> np.ndarray:
    """:func:`_encode_records` through the embeddings cache: only texts not cached are embedded.

    The key's prefix is the encode method and its options, so that another prompt never reuses
    a vector; the model and its settings are in the cache's fingerprint.
    """
    from youtu_embedding.core.embedding_cache import encode_cached

    options = {key: value for key, value in kwargs.items() if key != "show_progress"}
    prefix = json.dumps({"method": method, **options}, sort_keys=True, default=str)
    by_text = {r.text: r for r in reversed(records)}  # the first record of a text, for error locations
    return encode_cached(
        cache,
        [r.text for r in records],
        prefix,
        lambda texts: _encode_records(encoder, [by_text[t] for t in texts], method, **kwargs),
    )


def _search_cache(encoder: Encoder, spec: EncoderSpec, cache_dir: Path | None) -> EmbeddingCache:
    from youtu_embedding.core.embedding_cache import EmbeddingCache, default_cache_dir, model_fingerprint

    path = Path(cache_dir or default_cache_dir("search")) / "embeddings.sqlite"
    return EmbeddingCache(path, model_fingerprint(encoder, extra={"runtime_options": spec.runtime_options}))


@encoder_options()
def encode(
    spec: EncoderSpec,
    input_file: Annotated[Path, typer.Option("--input", "-i", help="Texts: .txt (one per line), .jsonl or .csv.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Embeddings: .npy (rows in input order) or .jsonl.")],
    prompt_name: PromptNameOption = None,
    instruction: InstructionOption = None,
    task: TaskOption = None,
    template: TemplateOption = None,
    precision: Annotated[
        str, typer.Option("--precision", help="float32, float16, int8, uint8, binary or ubinary.")
    ] = "float32",
    truncate_dim: Annotated[int | None, typer.Option("--truncate-dim", help="Keep the first N dimensions.")] = None,
    no_truncate: Annotated[
        bool, typer.Option("--no-truncate", help="Fail on texts longer than max_length instead of cutting them.")
    ] = False,
    text_field: Annotated[str, typer.Option("--text-field", help="JSON field / CSV column of the text.")] = "text",
    skip_empty: Annotated[bool, typer.Option("--skip-empty", help="Skip blank lines (and report how many).")] = False,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", min=1, help="Texts read, embedded and written per step (bounds memory).")
    ] = 8192,
    long_inputs: LongInputsOption = None,
    overlap: OverlapOption = 0,
    chunker: ChunkerOption = None,
    chunker_option: ChunkerOptionsOption = None,
    naive: NaiveOption = False,
) -> None:
    """Embed the texts of a file and write the embeddings (rows in input order).

    The file is read and embedded chunk by chunk (``--chunk-size`` texts), and the output written
    incrementally, so memory does not grow with the corpus. For int8/uint8 output the quantisation
    ranges are calibrated on the first chunk and shared by all chunks. ``--long-inputs chunk``
    embeds an over-length text in windows combined into one vector; ``--chunker NAME`` writes one
    JSONL line per chunk of each text (late chunking, or ``--naive``), with its span and text.
    """
    from youtu_embedding.core.errors import InvalidArgumentError
    from youtu_embedding.core.quantization import check_precision
    from youtu_embedding.core.streaming import chunked

    start = time.perf_counter()
    check_output_path(output)
    check_precision(precision)
    chunker_options = parse_chunker_options(chunker_option)
    if chunker is None and (chunker_options or naive):
        raise InvalidArgumentError("chunker", "--chunker-option and --naive need --chunker")
    if chunker is not None:
        if output.suffix.lower() != ".jsonl":
            raise InvalidArgumentError("output", f"--chunker writes one JSONL line per chunk; '{output}' is not .jsonl")
        if precision != "float32" or long_inputs is not None:
            raise InvalidArgumentError("chunker", "--chunker takes neither --precision nor --long-inputs")
        from youtu_embedding.core.late_chunking import resolve_chunker

        resolve_chunker(chunker, chunker_options)  # fail on a bad name or option before loading the model
    read = ReadResult([])
    records = iter_records(input_file, text_field=text_field, empty="skip" if skip_empty else "error", result=read)
    prompts = prompt_kwargs(prompt_name, instruction, task, template)
    encoder = spec.build()
    if chunker is not None:
        texts, chunks = _encode_chunk_rows(
            encoder,
            records,
            output,
            chunk_size,
            dict(
                chunker=chunker,
                chunker_options=chunker_options,
                late=not naive,
                overlap=overlap,
                truncate_dim=truncate_dim,
                show_progress=False,
                **prompts,
            ),
        )
        elapsed = time.perf_counter() - start
        stderr_line(f"encoded {texts} texts ({chunks} chunks) from {input_file} -> {output} in {elapsed:.2f}s")
        return
    options: dict[str, Any] = dict(truncate=not no_truncate, truncate_dim=truncate_dim, **prompts)
    if long_inputs is not None:
        options.update(long_inputs=long_inputs.value, overlap=overlap)
    writer = EmbeddingWriter(output)
    out_dtype: Any = None
    width = truncate_dim or encoder.dimension
    try:
        with progress_bar(desc="Encoding", unit="text") as bar:
            for chunk in chunked(records, chunk_size):
                floats = _encode_records(encoder, chunk, show_progress=False, **options)
                if precision in ("int8", "uint8") and "calibration_embeddings" not in options:
                    options["calibration_embeddings"] = floats  # shared ranges for every chunk
                block = floats if precision == "float32" else quantize(floats, precision, options)
                out_dtype, width = block.dtype, block.shape[1]
                writer.write(block, chunk)
                bar.update(len(chunk))
        writer.close(dim=width, dtype=out_dtype or "float32")
    except BaseException:
        writer.abort()
        raise
    if read.skipped:
        stderr_line(f"skipped {read.skipped} empty line(s) of {input_file}")
    stderr_line(
        f"encoded {writer.rows} texts from {input_file} -> {output} "
        f"(shape {writer.rows}x{width}, {out_dtype or 'float32'}) in {time.perf_counter() - start:.2f}s"
    )


def _encode_chunk_rows(
    encoder: Encoder, records: Any, output: Path, chunk_size: int, options: dict[str, Any]
) -> tuple[int, int]:
    """One JSONL line per chunk: index/id of the text, chunk number, character span, text, tokens, embedding."""
    from youtu_embedding.core.streaming import chunked

    partial = output.with_name(output.name + ".partial")
    output.parent.mkdir(parents=True, exist_ok=True)
    index = chunks = 0
    try:
        with partial.open("w", encoding="utf-8") as handle, progress_bar(desc="Encoding", unit="text") as bar:
            for block in chunked(records, chunk_size):
                docs = _encode_records(encoder, block, "encode_chunks", **options)
                for record, doc in zip(block, docs, strict=True):
                    for k, ((a, b), text, tokens, row) in enumerate(
                        zip(doc.spans, doc.texts, doc.tokens, doc.embeddings, strict=True)
                    ):
                        item: dict[str, Any] = {"index": index}
                        if record.id is not None:
                            item["id"] = record.id
                        item.update(chunk=k, start=a, end=b, text=text, tokens=tokens, embedding=row.tolist())
                        handle.write(json.dumps(item, ensure_ascii=False) + "\n")
                    index, chunks = index + 1, chunks + len(doc)
                bar.update(len(block))
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return index, chunks


def quantize(floats: np.ndarray, precision: str, options: dict[str, Any]) -> np.ndarray:
    """Quantise a float chunk with the ranges calibrated on the first chunk."""
    from youtu_embedding.core.quantization import quantize_embeddings

    return quantize_embeddings(floats, precision, calibration_embeddings=options.get("calibration_embeddings"))


def progress_bar(**kwargs: Any) -> Any:
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal)."""
    from tqdm.auto import tqdm

    return tqdm(disable=None, **kwargs)


def _texts_of(values: list[str] | None, file: Path | None, argument: str) -> list[Record]:
    records = [Record(text, source=f"--{argument}") for text in values or []]
    if file is not None:
        records += read_records(file, argument=f"{argument}s").records
    return records


def _similarity_sides(
    texts: list[str] | None,
    query: list[str] | None,
    document: list[str] | None,
    queries: Path | None,
    documents: Path | None,
) -> tuple[list[Record], list[Record], bool]:
    """(left records, right records, whether they are queries/documents rather than two plain texts)."""
    from youtu_embedding.core.errors import InvalidArgumentError

    paired = bool(query or document) or queries is not None or documents is not None
    if paired and texts:
        raise InvalidArgumentError("texts", "give either two texts or --query/--document (or files), not both")
    if not paired:
        if texts is None or len(texts) != 2:
            count = len(texts or [])
            raise InvalidArgumentError("texts", f"give two texts, or --query and --document; got {count} text(s)")
        return [Record(texts[0], source="TEXT_A")], [Record(texts[1], source="TEXT_B")], False
    left, right = _texts_of(query, queries, "query"), _texts_of(document, documents, "document")
    if not left or not right:
        raise InvalidArgumentError("query/document", "give at least one query and one document")
    return left, right, True


@encoder_options()
def similarity(
    spec: EncoderSpec,
    texts: Annotated[
        list[str] | None, typer.Argument(help="Two texts to compare (symmetric).", show_default=False)
    ] = None,
    query: Annotated[list[str] | None, typer.Option("--query", "-q", help="A query (repeatable).")] = None,
    document: Annotated[list[str] | None, typer.Option("--document", "-d", help="A document (repeatable).")] = None,
    queries: Annotated[Path | None, typer.Option("--queries", help="A file of queries (.txt/.jsonl/.csv).")] = None,
    documents: Annotated[Path | None, typer.Option("--documents", help="A file of documents.")] = None,
    prompt_name: PromptNameOption = None,
    instruction: InstructionOption = None,
    task: TaskOption = None,
    template: TemplateOption = None,
    fn: Annotated[
        str | None, typer.Option("--fn", help="cosine, dot, euclidean or manhattan (default: the model's).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score queries against documents (--query/--document, or files), or two texts against each other.

    Queries get the model's query prompt (or --instruction/--task/--prompt-name), documents its
    document prompt (with a --task of a symmetric kind, STS or pair classification, the task's
    instruction too). Two positional texts are embedded alike, with the prompt options if given.
    """
    left, right, paired = _similarity_sides(texts, query, document, queries, documents)
    prompts = prompt_kwargs(prompt_name, instruction, task, template)
    encoder = spec.build()
    if paired:
        a = _encode_records(encoder, left, "encode_queries", **prompts)
        b = _encode_records(encoder, right, "encode_documents", **document_prompts(prompts))
    else:
        a = _encode_records(encoder, left, **prompts)
        b = _encode_records(encoder, right, **prompts)
    scores = encoder.similarity(a, b, fn=fn)
    fn_name = fn or encoder.similarity_fn_name
    if as_json:
        payload = {
            "model": encoder.info()["model_id"],
            "similarity_fn": fn_name,
            "queries": [r.text for r in left],
            "documents": [r.text for r in right],
            "scores": [[float(s) for s in row] for row in scores],
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{fn_name} similarity")
    table.add_column("query" if paired else "text A", overflow="fold")
    table.add_column("document" if paired else "text B", overflow="fold")
    table.add_column("score", justify="right")
    for i, q in enumerate(left):
        for j, d in enumerate(right):
            table.add_row(snippet(q.text, 60), snippet(d.text, 60), f"{float(scores[i][j]):.4f}")
    Console().print(table)


def document_prompts(prompts: dict[str, str]) -> dict[str, str]:
    """The document side of the query prompt options: ``--task`` (with its template) only.

    ``Encoder.encode_documents(task=...)`` gives retrieval documents no instruction and the
    documents of symmetric tasks (STS, pair classification) the task's instruction, like the queries.
    """
    return {k: prompts[k] for k in ("task", "template") if "task" in prompts and k in prompts}


def _top_k(scores: np.ndarray, k: int) -> list[list[int]]:
    import numpy as np

    return [list(np.argsort(-row, kind="stable")[:k]) for row in scores]


@encoder_options()
def search(
    spec: EncoderSpec,
    queries: Annotated[list[str], typer.Argument(help="One or more queries.", show_default=False)],
    corpus: Annotated[
        Path, typer.Option("--corpus", "-c", help="A .txt/.jsonl/.csv file or a folder of .txt/.md/.jsonl files.")
    ],
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Documents to show per query.")] = 10,
    as_json: JsonOption = False,
    prompt_name: PromptNameOption = None,
    instruction: InstructionOption = None,
    task: TaskOption = None,
    template: TemplateOption = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Embed the corpus again instead of reusing cached embeddings.")
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Embeddings cache folder (default: $YOUTU_EMBED_CACHE/search, else ~/.cache/youtu-embedding/search).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Rank the documents of a corpus for each query (documents: title + text, as mteb embeds BEIR corpora).

    Document embeddings are cached (keyed by the model, every encoder option, the prompt and each
    document's text), so searching an unchanged corpus again embeds only the queries; a changed
    document is embedded again, the others are not.
    """
    from youtu_embedding.core.errors import InvalidArgumentError

    if top_k <= 0:
        raise InvalidArgumentError("top-k", f"must be a positive integer, got {top_k}")
    read = read_corpus(corpus)
    if read.skipped:
        stderr_line(f"skipped {read.skipped} empty document(s) of {corpus}")
    if not read.records:
        raise InvalidArgumentError("corpus", f"'{corpus}' has no documents")
    prompts = prompt_kwargs(prompt_name, instruction, task, template)
    encoder = spec.build()
    start = time.perf_counter()
    docs = [Record(r.document_text(), r.id, r.title, r.line, r.source) for r in read.records]
    cache = None if no_cache else _search_cache(encoder, spec, cache_dir)
    try:
        doc_emb = _encode_records_cached(
            encoder, docs, cache, "encode_documents", show_progress=True, **document_prompts(prompts)
        )
    finally:
        if cache is not None:
            cache.close()
    if cache is not None:
        stderr_line(f"embeddings cache: {cache.hits} hits, {cache.misses} misses ({cache.path})")
    query_emb = _encode_records(encoder, [Record(q, source="QUERY") for q in queries], "encode_queries", **prompts)
    scores = encoder.similarity(query_emb, doc_emb)
    stderr_line(f"searched {len(docs)} documents for {len(queries)} queries in {time.perf_counter() - start:.2f}s")
    results = []
    for query, row, order in zip(queries, scores, _top_k(scores, top_k), strict=True):
        hits = [
            {
                "rank": rank,
                "score": float(row[i]),
                "id": read.records[i].id,
                "title": read.records[i].title,
                "snippet": snippet(read.records[i].text, 120),
            }
            for rank, i in enumerate(order, start=1)
        ]
        results.append({"query": query, "hits": hits})
    if as_json:
        payload = {
            "model": encoder.info()["model_id"],
            "corpus": str(corpus),
            "documents": len(docs),
            "results": results,
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    _print_hits(results)


def _print_hits(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for result in results:
        table = Table(title=f"query: {result['query']}", title_justify="left")
        table.add_column("rank", justify="right")
        table.add_column("score", justify="right")
        table.add_column("id", overflow="fold")
        table.add_column("snippet", overflow="fold")
        for hit in result["hits"]:
            table.add_row(str(hit["rank"]), f"{hit['score']:.4f}", str(hit["id"]), hit["snippet"])
        console.print(table)
