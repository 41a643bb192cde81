"""One client cannot stall or bloat the server: streams, huge inputs, the tokenisation backlog,
oversize messages, bad calibration ranges, health List, and protos that coexist with other TEI
clients. Real servers on 127.0.0.1, real gRPC stubs; the timing targets are benchmarks
(benchmarks/test_bench_serve_robustness.py), not asserted here."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from youtu_embedding.core import Encoder
from youtu_embedding.serve._generated import embedding_pb2 as pb
from youtu_embedding.serve._generated import embedding_pb2_grpc as pb_grpc
from youtu_embedding.serve._generated import tei_pb2, tei_pb2_grpc
from youtu_embedding.serve.pipeline import Backlog, Overloaded
from youtu_embedding.serve.testing import ServerProcess


def _failures(metrics: str, api: str, method: str, reason: str) -> float:
    pattern = rf'youtu_serve_request_failures_total{{api="{api}",method="{method}",reason="{reason}"}} ([0-9.e+]+)'
    match = re.search(pattern, metrics)
    return float(match.group(1)) if match else 0.0


def _fails(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


@pytest.fixture(scope="module")
def channel(minilm_server) -> Iterator[grpc.Channel]:
    options = [("grpc.max_send_message_length", 64 * 1024 * 1024), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(minilm_server.target, options=options) as ch:
        yield ch


def _still_serving(channel: grpc.Channel) -> None:
    response = pb_grpc.EmbeddingServiceStub(channel).Embed(pb.EmbedRequest(inputs=["still here"]), timeout=30)
    assert len(response.embeddings[0].values) == 384


# -- streams are slowed, not aborted ---------------------------------------------------------------
def test_many_streams_all_complete_with_default_limits(minilm_server, mixed_texts: list[str]) -> None:
    """20 streams x 40 messages (more messages in flight than max_concurrent_requests=512 allows
    RPCs): every stream completes, in order, nothing is refused."""
    streams, messages = 20, 40
    short = [t for t in mixed_texts if len(t) < 200]

    async def one_stream(stub: pb_grpc.EmbeddingServiceStub, s: int) -> list[int]:
        requests = [pb.EmbedRequest(inputs=[short[(s * messages + i) % len(short)]]) for i in range(messages)]
        call = stub.EmbedStream(iter(requests), timeout=300)
        return [len(r.embeddings) async for r in call]

    async def main() -> list[list[int] | BaseException]:
        async with grpc.aio.insecure_channel(minilm_server.target) as ch:
            stub = pb_grpc.EmbeddingServiceStub(ch)
            return await asyncio.gather(*(one_stream(stub, s) for s in range(streams)), return_exceptions=True)

    results = asyncio.run(main())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    assert all(r == [1] * messages for r in results)


# -- input limits on every RPC -------------------------------------------------------------------------
def test_tei_tokenize_and_decode_apply_the_input_limits(channel: grpc.Channel) -> None:
    stub = tei_pb2_grpc.TokenizeStub(channel)
    huge = "lorem ipsum dolor sit amet " * 40_000  # 1.08 M characters
    start = time.monotonic()
    code, details = _fails(lambda: stub.Tokenize(tei_pb2.EncodeRequest(inputs=huge, add_special_tokens=True)))
    assert time.monotonic() - start < 20  # refused on its head, not after tokenising a million characters
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("inputs:") and "max_input_length=256" in details, details
    # just over the limit, short enough to be tokenised whole: still refused, with the exact count
    code, details = _fails(lambda: stub.Tokenize(tei_pb2.EncodeRequest(inputs="word " * 300)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "has 300 tokens" in details, details
    ok = stub.Tokenize(tei_pb2.EncodeRequest(inputs="word " * 100, add_special_tokens=True))
    assert len(ok.tokens) == 102
    code, details = _fails(lambda: stub.Decode(tei_pb2.DecodeRequest(ids=[1037] * 1000)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("ids:") and "max_input_length" in details
    _still_serving(channel)


def test_untruncated_huge_input_is_refused_on_its_head(channel: grpc.Channel) -> None:
    stub = pb_grpc.EmbeddingServiceStub(channel)
    huge = "lorem ipsum dolor sit amet " * 40_000
    for call in (
        lambda: stub.Embed(pb.EmbedRequest(inputs=["fine", huge], truncate=False), timeout=60),
        lambda: tei_pb2_grpc.EmbedStub(channel).Embed(tei_pb2.EmbedRequest(inputs=huge, truncate=False), timeout=60),
    ):
        code, details = _fails(call)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "max_input_length=256" in details, details
        assert details.startswith(("inputs[1]:", "inputs[0]:")), details  # TEI: its one input
    _still_serving(channel)


# -- tokenizer pool --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def minilm_encoder(minilm_path: Path) -> Encoder:
    return Encoder("all-MiniLM-L6-v2", device="cpu")


def test_concurrent_tokenisation_on_the_pool_is_consistent(
    minilm_server, minilm_encoder: Encoder, mixed_texts: list[str]
) -> None:
    """Requests with different truncation sides tokenised at once on the pool's threads give the
    vectors they get one at a time, and right-truncated ones equal the core's (each thread has its
    own tokenizer; a shared one would mix the settings of concurrent calls)."""
    long_texts = [t * 4 for t in sorted(mixed_texts, key=len)[-8:]]
    distinct = [(long_texts[i : i + 2], i % 4 == 0) for i in range(0, 8, 2)]  # 2 left, 2 right
    jobs = distinct * 3

    def call(job: tuple[list[str], bool]) -> np.ndarray:
        texts, left = job
        direction = pb.TRUNCATION_DIRECTION_LEFT if left else pb.TRUNCATION_DIRECTION_RIGHT
        with grpc.insecure_channel(minilm_server.target) as ch:
            request = pb.EmbedRequest(inputs=texts, truncate=True, truncation_direction=direction)
            response = pb_grpc.EmbeddingServiceStub(ch).Embed(request, timeout=120)
        return np.array([e.values for e in response.embeddings], dtype=np.float32)

    one_at_a_time = [call(job) for job in distinct]
    with ThreadPoolExecutor(len(jobs)) as pool:
        served = list(pool.map(call, jobs))
    for i, ((texts, left), got) in enumerate(zip(jobs, served, strict=True)):
        np.testing.assert_allclose(got, one_at_a_time[i % len(distinct)], atol=1e-6)
        if not left:
            np.testing.assert_allclose(got, minilm_encoder.encode(texts, truncate=True), atol=1e-5)


def test_backlog_refuses_or_waits_and_names_the_limit() -> None:
    async def main() -> None:
        backlog = Backlog(100)
        first = backlog.admit(80)
        with pytest.raises(Overloaded) as info:
            backlog.admit(30)
        assert str(info.value).startswith("max_tokenization_backlog:") and "max_tokenization_backlog=100" in str(
            info.value
        )
        waiting = asyncio.ensure_future(backlog.wait(30))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # a stream waits instead
        first.release()
        second = await asyncio.wait_for(waiting, 1)
        assert backlog.used == 30
        second.release()
        second.release()  # idempotent
        alone = backlog.admit(10_000)  # a request alone always fits
        assert backlog.used == 10_000
        alone.release()
        assert backlog.used == 0

    asyncio.run(main())


@pytest.fixture(scope="module")
def small_backlog_server(minilm_path: Path, server_logs: Path) -> Iterator[ServerProcess]:
    server = ServerProcess("all-MiniLM-L6-v2", server_logs, env={"YOUTU_SERVE_MAX_TOKENIZATION_BACKLOG": "200000"})
    try:
        server.wait_serving()
        yield server
    finally:
        assert server.terminate() == 0


def test_backlog_over_grpc(small_backlog_server: ServerProcess, mixed_texts: list[str]) -> None:
    """With max_tokenization_backlog=200000 characters: concurrent Tokenize calls of about 150 k
    characters each are refused with RESOURCE_EXHAUSTED naming the limit when they overlap (each
    alone fits); a stream of messages of 150 k characters waits instead and completes."""
    texts = [((t + " ") * 8)[:600] for t in sorted(mixed_texts, key=len)[-256:]]
    request = pb.TokenizeRequest(inputs=texts)
    assert 100_000 < sum(len(t) for t in texts) <= 200_000

    def call(_: int) -> tuple[grpc.StatusCode, str]:
        with grpc.insecure_channel(small_backlog_server.target) as ch:
            try:
                pb_grpc.EmbeddingServiceStub(ch).Tokenize(request, timeout=300)
                return grpc.StatusCode.OK, ""
            except grpc.RpcError as exc:
                return exc.code(), exc.details()

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(call, range(16)))
    codes = {code for code, _ in outcomes}
    assert codes == {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
    refusal = next(d for c, d in outcomes if c == grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert refusal.startswith("max_tokenization_backlog:") and "max_tokenization_backlog=200000" in refusal
    assert _failures(small_backlog_server.metrics(), "youtu", "Tokenize", "resource_exhausted") >= 1
    big = pb.EmbedRequest(inputs=[(" ".join(texts) + " ")[:150_000]], truncate=True)
    with grpc.insecure_channel(small_backlog_server.target) as ch:
        answers = list(pb_grpc.EmbeddingServiceStub(ch).EmbedStream(iter([big] * 4), timeout=300))
    assert [len(a.embeddings) for a in answers] == [1] * 4


# -- oversize messages, calibration ranges, health List ----------------------------------------------
def test_oversize_messages_are_counted(minilm_server, channel: grpc.Channel) -> None:
    before = _failures(minilm_server.metrics(), "youtu", "Embed", "resource_exhausted")
    stub = pb_grpc.EmbeddingServiceStub(channel)
    big = "x" * (17 * 1024 * 1024)  # over max_message_bytes = 16 MiB
    for _ in range(2):
        code, details = _fails(lambda: stub.Embed(pb.EmbedRequest(inputs=[big]), timeout=60))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details, details
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = _failures(minilm_server.metrics(), "youtu", "Embed", "resource_exhausted")
        if after >= before + 2:
            break
        time.sleep(0.1)
    assert after == before + 2
    _still_serving(channel)


@pytest.mark.parametrize(
    "ranges",
    [
        [float("nan")] + [0.0] * 383 + [1.0] * 384,
        [-1.0] * 384 + [1.0] * 383 + [float("inf")],
        [float("-inf")] * 384 + [1.0] * 384,
        [1.0] * 384 + [-1.0] * 384,  # min > max
    ],
)
def test_int8_ranges_must_be_finite_and_ordered(channel: grpc.Channel, ranges: list[float]) -> None:
    stub = pb_grpc.EmbeddingServiceStub(channel)
    request = pb.EmbedRequest(inputs=["calibrate me"], encoding=pb.ENCODING_INT8_BYTES, int8_ranges=ranges)
    code, details = _fails(lambda: stub.Embed(request, timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("int8_ranges:"), details
    assert "dimension" in details
    ok = stub.Embed(
        pb.EmbedRequest(
            inputs=["calibrate me"], encoding=pb.ENCODING_INT8_BYTES, int8_ranges=[-1.0] * 384 + [1.0] * 384
        )
    )
    assert len(ok.embeddings[0].packed) == 384


def test_health_list_answers_without_an_error_log(minilm_server, channel: grpc.Channel) -> None:
    answer = health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest(), timeout=10)
    statuses = {
        name: health_pb2.HealthCheckResponse.ServingStatus.Name(s.status) for name, s in answer.statuses.items()
    }
    assert statuses[""] == "SERVING" and statuses["tei.v1.Embed"] == "SERVING"
    assert statuses["youtu.embedding.v1.EmbeddingService"] == "SERVING"
    levels = [json.loads(line)["level"] for line in minilm_server.log().splitlines() if line.startswith("{")]
    assert "error" not in levels
    assert "Traceback" not in minilm_server.log()


# -- protos that coexist with other TEI client packages ------------------------------------------------
def test_reflection_serves_package_qualified_files(channel: grpc.Channel) -> None:
    from google.protobuf import descriptor_pb2
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    names = {}
    for symbol in ("tei.v1.Embed", "youtu.embedding.v1.EmbeddingService", "grpc.health.v1.Health"):
        request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
        answer = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=10)))
        proto = descriptor_pb2.FileDescriptorProto.FromString(answer.file_descriptor_response.file_descriptor_proto[0])
        names[symbol] = proto.name
    assert names == {
        "tei.v1.Embed": "youtu_embedding/serve/proto/tei.proto",
        "youtu.embedding.v1.EmbeddingService": "youtu_embedding/serve/proto/embedding.proto",
        "grpc.health.v1.Health": "grpc_health/v1/health.proto",
    }


_BOTH = """
import sys, grpc
from tei_client.stubs import tei_pb2 as theirs, tei_pb2_grpc as theirs_grpc
from youtu_embedding.serve._generated import tei_pb2 as ours, tei_pb2_grpc as ours_grpc
assert theirs.DESCRIPTOR.name == "tei.proto" and ours.DESCRIPTOR.name == "youtu_embedding/serve/proto/tei.proto"
with grpc.insecure_channel(sys.argv[1]) as ch:
    a = theirs_grpc.EmbedStub(ch).Embed(theirs.EmbedRequest(inputs="both in one process"), timeout=60)
    b = ours_grpc.EmbedStub(ch).Embed(ours.EmbedRequest(inputs="both in one process"), timeout=60)
print(len(a.embeddings), max(abs(x - y) for x, y in zip(a.embeddings, b.embeddings)))
"""


def test_tei_client_package_and_ours_in_one_process(minilm_server) -> None:
    """``tei-client`` registers ``tei.proto`` (package tei.v1) in protobuf's default pool; ours
    lives in its own pool under a package-qualified name, so both import in one process (theirs
    first here; ours first is the same, our pool is our own) and both talk to the server."""
    if importlib.util.find_spec("tei_client") is None:  # not imported here: it would take tei.proto in this process
        pytest.skip("tei-client is not installed (a test extra of youtu-embedding-serve)")
    out = subprocess.run(
        [sys.executable, "-c", _BOTH, minilm_server.target], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    n, diff = out.stdout.split()
    assert int(n) == 384 and float(diff) == 0.0


# -- the scheduler: round robin over plans, batches cut to a time slice -------------------------------
def _scheduler(encoder: Encoder, **kwargs):  # type: ignore[no-untyped-def]
    from youtu_embedding.serve.engine import Engine
    from youtu_embedding.serve.metrics import ServeMetrics
    from youtu_embedding.serve.scheduler import Scheduler

    engine = Engine(encoder)
    return engine, Scheduler(engine, ServeMetrics(), **kwargs)


def _run_jobs(scheduler, jobs: dict[str, tuple[object, float]]) -> list[str]:  # type: ignore[no-untyped-def]
    """Submit each named job after its delay; the names in the order the jobs finished."""
    finished: list[str] = []

    async def run(name: str, job, delay: float) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(delay)
        await scheduler.submit(job)
        finished.append(name)

    async def main() -> None:
        await asyncio.gather(*(run(name, job, delay) for name, (job, delay) in jobs.items()))

    scheduler.start()
    try:
        asyncio.run(main())
    finally:
        scheduler.stop(10)
    return finished


def test_small_request_goes_ahead_of_a_large_plan(minilm_encoder: Encoder, mixed_texts: list[str]) -> None:
    """A one-text job queued while a 96-row job's batches (4 rows each) run finishes long before
    it: the workers take one batch of each plan in turn."""
    from youtu_embedding.serve.scheduler import Job

    engine, scheduler = _scheduler(minilm_encoder, max_batch_tokens=4096, max_batch_requests=4, workers=1)
    big = engine.tokenize(sorted(mixed_texts, key=len)[-96:], "", truncate=True)
    small = engine.tokenize(["a one-text request"], "", truncate=True)
    order = _run_jobs(scheduler, {"big": (Job(big.ids, big.skips), 0.0), "small": (Job(small.ids, small.skips), 0.3)})
    assert order == ["small", "big"]


def test_two_large_requests_share_the_workers(minilm_encoder: Encoder, mixed_texts: list[str]) -> None:
    """A second 48-row job queued just after a first one of 96 rows finishes first (it gets every
    other batch, it is half the size), and both return every row equal to the core's vectors."""
    from youtu_embedding.serve.scheduler import Job

    engine, scheduler = _scheduler(minilm_encoder, max_batch_tokens=4096, max_batch_requests=4, workers=1)
    texts = sorted(mixed_texts, key=len)[-144:]
    first, second = engine.tokenize(texts[:96], "", truncate=True), engine.tokenize(texts[96:], "", truncate=True)
    jobs = {"first": Job(first.ids, first.skips), "second": Job(second.ids, second.skips)}
    order = _run_jobs(scheduler, {"first": (jobs["first"], 0.0), "second": (jobs["second"], 0.3)})
    assert order == ["second", "first"]
    expected = minilm_encoder.encode(texts, normalize=False)
    got = np.concatenate([jobs["first"].pooled(), jobs["second"].pooled()])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_batches_are_cut_to_the_time_slice(minilm_encoder: Encoder, mixed_texts: list[str]) -> None:
    """With a measured speed, a plan's batches hold what one worker runs in ``batch_time_slice_s``
    (never under 256 padded tokens); without a slice they fill ``max_batch_tokens``; the speed
    estimate follows the batches actually run."""
    from youtu_embedding.serve.scheduler import MIN_SLICE_TOKENS, Job

    engine, scheduler = _scheduler(
        minilm_encoder,
        max_batch_tokens=16384,
        max_batch_requests=64,
        batch_time_slice_s=0.1,
        seconds_per_token=0.1 / 1024,
    )
    rows = engine.tokenize(sorted(mixed_texts, key=len)[-64:], "", truncate=True)
    assert scheduler.batch_token_budget() == 1024
    batches = scheduler._plan([Job(rows.ids, rows.skips)])
    assert len(batches) > 1
    assert all(len(items) * max(len(j.ids[i]) for j, i in items) <= 1024 for _, items in batches)
    scheduler.seconds_per_token = 1.0  # a very slow model: the floor holds
    assert scheduler.batch_token_budget() == MIN_SLICE_TOKENS
    scheduler.batch_time_slice_s = 0.0
    assert scheduler.batch_token_budget() == 16384
    scheduler._observe_rate(2.0, 1000)
    assert scheduler.seconds_per_token == pytest.approx(1.0 + 0.2 * (0.002 - 1.0))
