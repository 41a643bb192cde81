"""Fixtures of the youtu-embedding-langchain tests."""

from youtu_embedding.core.pytest_fixtures import *  # noqa: F403
