"""Fixtures for the core tests (shared with the other packages' suites)."""

from youtu_embedding.core.pytest_fixtures import *  # noqa: F403
