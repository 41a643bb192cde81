"""Helpers for tests that launch real torchrun processes on 127.0.0.1 (used by this package's tests).

torchrun starts each worker in a session of its own, so killing torchrun's process group leaves
the workers running (and holding any pipe open): :func:`kill_tree` walks the process tree instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import psutil

# A 2-rank gloo all_reduce that uses none of this package's code: tells an environment that cannot
# run a loopback process group apart from a bug of ours.
PREFLIGHT = """
import os
from datetime import timedelta

import torch
import torch.distributed as dist

dist.init_process_group("gloo", timeout=timedelta(seconds=60))
t = torch.ones(1)
dist.all_reduce(t)
assert t.item() == 2.0, t
dist.destroy_process_group()
print("rank", os.environ["RANK"], "ok")
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kill_tree(pid: int) -> None:
    """Kill a process and every process under it.

    The descendants first get SIGABRT, so with ``PYTHONFAULTHANDLER=1`` each writes where it hung
    into its stderr.
    """
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for p in procs[:-1]:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGABRT)
    psutil.wait_procs(procs[:-1], timeout=5)
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(procs, timeout=30)


def torchrun_env() -> dict[str, str]:
    """Environment for loopback gloo runs: this interpreter's scripts first on PATH, 1 thread, offline."""
    bin_dir = str(Path(sys.executable).parent)
    return dict(
        os.environ,
        PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
        OMP_NUM_THREADS="1",
        MASTER_ADDR="127.0.0.1",
        HF_HUB_OFFLINE="1",
        GLOO_SOCKET_IFNAME="lo",
        PYTHONFAULTHANDLER="1",
    )
