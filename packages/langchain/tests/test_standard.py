"""LangChain's own standard test-suites for embeddings (langchain-tests), on the real all-MiniLM-L6-v2."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from youtu_embedding.langchain import YoutuEmbeddings

PARAMS = {"model": "all-MiniLM-L6-v2", "device": "cpu", "dtype": "float32"}


class TestYoutuEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[YoutuEmbeddings]:
        return YoutuEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return dict(PARAMS)

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        return {"YOUTU_EMBEDDING_MODEL": "all-MiniLM-L6-v2"}, {}, {"model": "all-MiniLM-L6-v2"}


# The root pytest configuration runs pytest-asyncio in strict mode, and the suite forbids overriding
# its tests: the class-level mark lets its coroutine tests (aembed_*) run; sync tests ignore it.
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function .* is marked with '@pytest.mark.asyncio':pytest.PytestWarning")
@pytest.mark.usefixtures("minilm_path")
class TestYoutuEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[YoutuEmbeddings]:
        return YoutuEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return dict(PARAMS)
