"""The Youtu-Embedding README code runs verbatim (import changed) from an isolated, offline Hub cache."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sentence_transformers

from youtu_embedding.core import Encoder
from youtu_embedding.core.errors import ModelNotFoundError

README = Path(__file__).resolve().parents[1] / "README.md"
DOCS = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]


def _snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    snippet = next(b for b in blocks if "encode_query" in b and "Youtu-RAG/Youtu-Embedding-V1" in b)
    assert "from youtu_embedding.st import SentenceTransformer" in snippet
    return snippet


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@pytest.mark.parametrize("model_id", ["Youtu-RAG/Youtu-Embedding-V1", "tencent/Youtu-Embedding"])
def test_readme_snippet_matches_core(offline_cache: Path, model_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = _snippet().replace("Youtu-RAG/Youtu-Embedding-V1", model_id, 1)
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    model, q, d = namespace["model"], np.asarray(namespace["q"]), np.asarray(namespace["d"])

    assert isinstance(model, sentence_transformers.SentenceTransformer)
    assert "tensor" in printed  # the similarity matrix was printed
    assert type(model[0].auto_model).__name__ == "UtuModel"  # native utu, no remote code
    assert model.trust_remote_code is False

    core = Encoder(model_id, device="cpu", dtype="float32")
    cq = core.encode_queries(["What's the weather like?"])
    cd = core.encode_documents(DOCS)
    assert q.shape == (1, core.dimension) and d.shape == (3, core.dimension)
    assert _cosine(q, cq).min() >= 0.99999
    assert _cosine(d, cd).min() >= 0.99999
    np.testing.assert_allclose(np.asarray(model.similarity(q, d)), core.similarity(cq, cd), atol=1e-5)


def test_missing_model_names_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from youtu_embedding.st import SentenceTransformer

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match=r"tencent/Youtu-Embedding.*hf download"):
        SentenceTransformer("Youtu-RAG/Youtu-Embedding-V1")
