"""Cross-device negatives: 2 gloo processes (torchrun on 127.0.0.1) vs. one process on the concatenated batch;
and a short `torchrun --nproc_per_node 2 youtu-embed train` run on ../shared/data/train."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from youtu_embedding.train.config import build_config
from youtu_embedding.train.sampler import ItemRef
from youtu_embedding.train.testing import PREFLIGHT, free_port, kill_tree, torchrun_env
from youtu_embedding.train.trainer import Trainer

HERE = Path(__file__).parent


class TorchrunError(RuntimeError):
    """torchrun exited non-zero or ran past its timeout; the message carries its logs."""


def _run_torchrun(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run ``torchrun --nproc_per_node 2`` on 127.0.0.1 with gloo; logs go to files, so a stray
    worker can never block the test, and on timeout the whole process tree is killed."""
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    env = torchrun_env()
    cmd = [torchrun, "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    cmd += ["--local-addr", "127.0.0.1", *args]
    out_path, err_path = cwd / "torchrun.out", cwd / "torchrun.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env, cwd=cwd, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()
            raise TorchrunError(f"timed out after {timeout:.0f}s: {_logs(out_path, err_path)}") from None
    stdout, stderr = out_path.read_text(), err_path.read_text()
    if proc.returncode != 0:
        raise TorchrunError(f"exit code {proc.returncode}: {_logs(out_path, err_path)}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def _logs(out: Path, err: Path) -> str:
    return f"\n--- stdout ---\n{out.read_text()[-3000:]}\n--- stderr ---\n{err.read_text()[-8000:]}"


@pytest.fixture(scope="module")
def gloo_on_loopback(tmp_path_factory) -> None:
    """Skip this module where the environment cannot run a 2-process gloo group on 127.0.0.1 at all
    (checked with a 6-line all_reduce script that uses none of our code)."""
    cwd = tmp_path_factory.mktemp("preflight")
    (cwd / "preflight.py").write_text(PREFLIGHT)
    try:
        _run_torchrun([str(cwd / "preflight.py")], cwd, timeout=180)
    except TorchrunError as exc:
        pytest.skip(f"torchrun + gloo on 127.0.0.1 does not work in this environment: {exc}")


def _torchrun(args: list[str], out: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        return _run_torchrun(args, out, timeout)
    except TorchrunError as exc:
        pytest.fail(f"torchrun {exc}")


pytestmark = pytest.mark.usefixtures("gloo_on_loopback")


@pytest.fixture(scope="module")
def ir_file(tmp_path_factory, data_dir) -> Path:
    """The first 16 items of the real SimCLUE IR file (1 positive, 1 hard negative each)."""
    path = tmp_path_factory.mktemp("ir") / "simclue.jsonl"
    lines = (data_dir / "train" / "ir" / "simclue-rank.jsonl").read_text(encoding="utf-8").splitlines()[:16]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_all_gathered_ir_loss_and_gradients_equal_single_process(tiny_utu, ir_file, tmp_path):
    per_rank = 4
    _torchrun([str(HERE / "dist_worker.py"), str(tiny_utu), str(ir_file), str(tmp_path), str(per_rank)], tmp_path)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert ranks[0]["world"] == 2 and ranks[0]["loss"] == ranks[1]["loss"]

    cfg = build_config(
        {
            "model": str(tiny_utu),
            "data": [str(ir_file)],
            "output_dir": str(tmp_path / "single"),
            "num_threads": 1,
            "max_length": 48,
            "num_positives": 2,
            "num_negatives": 3,
            "ir_batch_size": 2 * per_rank,
        }
    )
    single = Trainer(cfg)
    single._setup()
    loss, _ = single._micro_loss(tuple(ItemRef(0, i) for i in range(2 * per_rank)), epoch=0, step=0, gather=False)
    loss.backward()
    assert ranks[0]["loss"] == pytest.approx(loss.item(), rel=1e-5, abs=1e-6)
    grads = {n: p.grad for n, p in single.model.named_parameters() if p.grad is not None}
    assert set(grads) == set(ranks[0]["grads"]) and len(grads) > 10
    for name, g in grads.items():
        for r in range(2):  # DDP leaves the same averaged gradient on every rank
            torch.testing.assert_close(
                ranks[r]["grads"][name], g, rtol=1e-4, atol=1e-5 * float(g.abs().max()), msg=name
            )
    # without gathering, the 2-process gradient would differ (fewer negatives): the test has teeth
    half, _ = single._micro_loss(tuple(ItemRef(0, i) for i in range(per_rank)), epoch=0, step=0, gather=False)
    assert abs(half.item() - loss.item()) > 1e-3


def _train_args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    youtu = shutil.which("youtu-embed") or str(Path(sys.executable).parent / "youtu-embed")
    flags = {
        "--model": model,
        "--data": data,
        "--output-dir": out,
        "--max-steps": 4,
        "--ir-batch-size": 2,
        "--sts-batch-size": 4,
        "--max-length": 48,
        "--num-threads": 1,
        "--save-steps": 2,
        "--seed": 5,
        "--dist-timeout": 120,
    }
    return ["--no-python", youtu, "train", *[str(x) for kv in flags.items() for x in kv], "--no-progress", *extra]


def test_torchrun_trains_tiny_utu_on_shared_train_folder(tiny_utu, data_dir, tmp_path):
    out = tmp_path / "run"
    proc = _torchrun(_train_args(tiny_utu, data_dir / "train", out), tmp_path)
    assert proc.stderr.count("trained 4 steps") == 1  # rank 0 reports
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    assert all(m["task"] in ("ir", "sts") and m["loss"] == m["loss"] for m in metrics)  # finite, single-task
    state = json.loads((out / "checkpoints" / "step-00000004" / "trainer_state.json").read_text())
    assert state["world_size"] == 2 and state["global_step"] == 4
    assert (out / "checkpoints" / "step-00000004" / "rng-rank1.pt").is_file()
    from youtu_embedding.core import Encoder

    emb = Encoder(str(out / "final"), device="cpu").encode(["A man is playing a guitar."])
    assert emb.shape == (1, 64)


def test_fsdp_strategy_matches_ddp_and_resumes(tiny_utu, tmp_path, data_dir):
    """FSDP2 (fully_shard, gloo on CPU) gives DDP's loss curve; its sharded checkpoint resumes exactly."""
    data = tmp_path / "data"
    data.mkdir()
    for src in ("ir/sick-entailment", "sts/stsb-en"):
        lines = (data_dir / "train" / f"{src}.jsonl").read_text(encoding="utf-8").splitlines()[:40]
        (data / f"{src.split('/')[1]}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _torchrun(_train_args(tiny_utu, data, tmp_path / "ddp"), tmp_path)
    _torchrun(_train_args(tiny_utu, data, tmp_path / "fsdp", "--strategy", "fsdp"), tmp_path)
    ddp = [json.loads(x)["loss"] for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    fsdp = [json.loads(x)["loss"] for x in (tmp_path / "fsdp" / "metrics.jsonl").read_text().splitlines()]
    assert len(ddp) == 4 and fsdp == pytest.approx(ddp, abs=1e-5)
    shutil.rmtree(tmp_path / "fsdp" / "checkpoints" / "step-00000004")
    _torchrun(_train_args(tiny_utu, data, tmp_path / "fsdp", "--strategy", "fsdp", "--resume", "auto"), tmp_path)
    again = [json.loads(x)["loss"] for x in (tmp_path / "fsdp" / "metrics.jsonl").read_text().splitlines()]
    assert again == pytest.approx(fsdp, abs=1e-6)
