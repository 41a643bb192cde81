"""The multi-node recipe, run for real: two torchrun "nodes" on 127.0.0.1 (c10d rendezvous, 1 process each).

Both nodes run ``packages/train/scripts/torchrun_multinode.sh`` (NNODES=2, NODE_RANK 0 and 1) and
train the tiny ``utu`` model for 2 steps on gloo. Same harness as test_distributed.py: logs go to
files, every wait is bounded, and on a timeout or a failure both process trees are killed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from youtu_embedding.train.testing import PREFLIGHT, free_port, kill_tree, torchrun_env

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "torchrun_multinode.sh"
TIMEOUT = 300.0


class LaunchError(RuntimeError):
    """A node exited non-zero or the pair ran past its timeout; the message carries the logs."""


def _logs(cwd: Path) -> str:
    parts = []
    for rank in (0, 1):
        for stream in ("out", "err"):
            path = cwd / f"node{rank}.{stream}"
            text = path.read_text(errors="replace") if path.is_file() else ""
            parts.append(f"--- node {rank} std{stream} ---\n{text[-4000:]}")
    return "\n".join(parts)


def _launch_two_nodes(commands: list[list[str]], envs: list[dict[str, str]], cwd: Path, timeout: float) -> None:
    """Start both nodes, wait for both within ``timeout``; kill both trees on timeout or a failure."""
    procs: list[subprocess.Popen] = []
    files = []
    try:
        for rank, (cmd, env) in enumerate(zip(commands, envs, strict=True)):
            out, err = (cwd / f"node{rank}.out").open("w"), (cwd / f"node{rank}.err").open("w")
            files += [out, err]
            procs.append(
                subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True, text=True)
            )
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed:  # one node died: the other would wait for it until its own timeouts
                raise LaunchError(f"a node exited with {failed[0].returncode}:\n{_logs(cwd)}")
            if time.monotonic() > deadline:
                raise LaunchError(f"timed out after {timeout:.0f}s:\n{_logs(cwd)}")
            time.sleep(0.2)
        codes = [p.returncode for p in procs]
        if codes != [0, 0]:
            raise LaunchError(f"exit codes {codes}:\n{_logs(cwd)}")
    finally:
        for p in procs:
            if p.poll() is None:
                kill_tree(p.pid)
                p.wait(30)
        for f in files:
            f.close()


def _node_env(rank: int, port: int) -> dict[str, str]:
    return {
        **torchrun_env(),
        "NNODES": "2",
        "NODE_RANK": str(rank),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "NPROC_PER_NODE": "1",
        "LOCAL_ADDR": "127.0.0.1",
        "RDZV_ID": f"test-{port}",
        "RDZV_TIMEOUT": "120",
    }


@pytest.fixture(scope="module")
def two_nodes_on_loopback(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip where two torchrun agents cannot form a c10d rendezvous + gloo group on 127.0.0.1 at all
    (checked with a 6-line all_reduce script that uses none of our code)."""
    cwd = tmp_path_factory.mktemp("preflight-2node")
    (cwd / "preflight.py").write_text(PREFLIGHT)
    port = free_port()
    torchrun = str(Path(sys.executable).parent / "torchrun")
    commands = [
        [
            torchrun,
            "--nnodes",
            "2",
            "--nproc-per-node",
            "1",
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            f"127.0.0.1:{port}",
            "--rdzv-id",
            f"preflight-{port}",
            "--rdzv-conf",
            f"is_host={1 if rank == 0 else 0},join_timeout=60",
            "--local-addr",
            "127.0.0.1",
            str(cwd / "preflight.py"),
        ]
        for rank in (0, 1)
    ]
    try:
        _launch_two_nodes(commands, [torchrun_env(), torchrun_env()], cwd, timeout=180)
    except LaunchError as exc:
        pytest.skip(f"two torchrun nodes on 127.0.0.1 do not work in this environment: {exc}")


@pytest.mark.usefixtures("two_nodes_on_loopback")
def test_two_nodes_train_the_tiny_utu_model(tiny_utu: Path, data_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for src in ("ir/sick-entailment", "sts/stsb-en"):
        lines = (data_dir / "train" / f"{src}.jsonl").read_text(encoding="utf-8").splitlines()[:40]
        (data / f"{src.split('/')[1]}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    options = {
        "--model": tiny_utu,
        "--data": data,
        "--output-dir": out,
        "--strategy": "fsdp",
        "--max-steps": 2,
        "--ir-batch-size": 2,
        "--sts-batch-size": 4,
        "--max-length": 48,
        "--num-threads": 1,
        "--save-steps": 2,
        "--dist-timeout": 120,
    }
    args = [str(x) for kv in options.items() for x in kv] + ["--no-progress"]
    port = free_port()
    cmd = ["bash", str(SCRIPT), *args]
    try:
        _launch_two_nodes([cmd, cmd], [_node_env(0, port), _node_env(1, port)], tmp_path, TIMEOUT)
    except LaunchError as exc:
        pytest.fail(str(exc))

    logs = _logs(tmp_path)
    assert logs.count("trained 2 steps") == 1, logs  # global rank 0 reports, on whichever node it is
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(m["loss"] == m["loss"] for m in metrics)  # finite
    state = json.loads((out / "checkpoints" / "step-00000002" / "trainer_state.json").read_text())
    assert state["world_size"] == 2 and state["global_step"] == 2
    assert {p.name for p in (out / "checkpoints" / "step-00000002").glob("rng-rank*.pt")} == {
        "rng-rank0.pt",
        "rng-rank1.pt",
    }
    from youtu_embedding.core import Encoder

    assert Encoder(str(out / "final"), device="cpu").encode(["A man is playing a guitar."]).shape == (1, 64)


def test_launch_script_rejects_missing_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in torchrun_env().items() if k not in ("NNODES", "NODE_RANK", "MASTER_ADDR")}
    missing = subprocess.run(["bash", str(SCRIPT), "x.yaml"], env=env, capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "set NNODES" in missing.stderr
    env.update(NNODES="2", NODE_RANK="0", MASTER_ADDR="127.0.0.1", RDZV_BACKEND="etcd")
    bad = subprocess.run(["bash", str(SCRIPT), "x.yaml"], env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "RDZV_BACKEND: unknown 'etcd'" in bad.stderr
    usage = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "usage:" in usage.stderr
