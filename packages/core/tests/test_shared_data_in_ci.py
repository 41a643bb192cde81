"""Tests that need ../shared/data skip without it on a developer's machine, and fail in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TEST_FILE = """
from youtu_embedding.core.pytest_fixtures import *  # noqa: F403

def test_needs_data(data_dir):
    assert data_dir.is_dir()
"""


@pytest.mark.parametrize(("ci", "outcome"), [("", "1 skipped"), ("true", "1 error")])
def test_missing_shared_data_skips_locally_and_fails_in_ci(tmp_path: Path, ci: str, outcome: str) -> None:
    (tmp_path / "test_needs_data.py").write_text(TEST_FILE)
    env = {**os.environ, "CI": ci, "YOUTU_SHARED_DATA": str(tmp_path / "missing")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert outcome in result.stdout, result.stdout + result.stderr
    assert result.returncode == (1 if ci else 0)  # in CI the run fails (the fixture errors the test)
    if ci:
        assert "CI=true, so tests that need it fail instead of skipping" in result.stdout
