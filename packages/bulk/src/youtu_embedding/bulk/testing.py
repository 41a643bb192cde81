"""Test helpers: run ``youtu-embed batch`` in a subprocess and kill its whole process tree.

Ray's local mode starts helper processes (GCS server, raylet, workers), some in sessions of their
own, so killing the process group is not enough: :class:`BatchProcess` keeps collecting the
descendants (psutil, recursively) while it runs and kills every one it has seen.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class BatchProcess:
    """``python -m youtu_embedding.core.cli batch ARGS`` in a new session, with its stderr in a log file."""

    def __init__(self, args: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        import psutil

        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in wait()/kill()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "youtu_embedding.core.cli", "batch", *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
            start_new_session=True,
        )
        self._root = psutil.Process(self.popen.pid)
        self._seen: dict[int, Any] = {self.popen.pid: self._root}

    def _collect(self) -> None:
        import psutil

        try:
            for child in self._root.children(recursive=True):
                self._seen.setdefault(child.pid, child)
        except psutil.Error:
            pass

    def wait_until(self, condition: Callable[[], bool], timeout: float, poll: float = 0.2) -> bool:
        """Poll `condition` until true (True), the process exits or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._collect()
            if condition():
                return True
            if self.popen.poll() is not None:
                return condition()
            time.sleep(poll)
        return False

    def wait(self, timeout: float) -> int:
        """Wait for the exit code; on timeout kill the whole tree and raise TimeoutError."""
        try:
            self.wait_until(lambda: self.popen.poll() is not None, timeout)
            if self.popen.poll() is None:
                raise TimeoutError(f"youtu-embed batch did not finish in {timeout}s:\n{self.log()[-3000:]}")
            return self.popen.returncode
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process and every descendant seen; wait for them to go."""
        import psutil

        self._collect()
        processes = list(self._seen.values())
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.kill()
        self.popen.wait(timeout=30)  # reaped by Popen itself, so that returncode is the real one (-9)
        psutil.wait_procs([p for p in processes if p.pid != self.popen.pid], timeout=30)
        self._log.close()

    def log(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write `rows` as a JSONL file (UTF-8, one object a line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def write_parquet(path: Path, rows: list[dict[str, Any]], row_group_size: int) -> None:
    """Write `rows` as a Parquet file with row groups of `row_group_size` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
