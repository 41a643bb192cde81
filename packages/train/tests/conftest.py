from youtu_embedding.core.pytest_fixtures import *  # noqa: F403
