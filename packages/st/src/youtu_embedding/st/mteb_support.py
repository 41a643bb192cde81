"""mteb (v2) support: prompts selected per task type, and STS tasks built from local files.

mteb's ``SentenceTransformerEncoderWrapper`` picks a prompt from the model's ``prompts`` by, in
order: ``"{task name}-{query|document}"``, ``"{task name}"``, ``"{task type}-{query|document}"``,
``"{task type}"``, ``"query"``/``"document"``. :func:`mteb_prompts` fills those keys from an
instruction template (default ``youtu``): the template's C-MTEB table per task name, and one
instruction per task type for every other task. Retrieval and reranking prompt the query side
only; STS, pair classification, classification and clustering prompt every text (REFERENCE.md).

Requires the ``mteb`` extra only for :func:`local_sts_task`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from youtu_embedding.core.templates import get_template

#: Instruction per mteb task type, for tasks outside the template's table. Retrieval/reranking use the
#: release's query instruction and STS/pair the table's generic one ("Retrieve semantically similar
#: text", Ocnli/Cmnli); classification and clustering use this project's generic wording.
TYPE_INSTRUCTIONS = {
    "Retrieval": "Given a search query, retrieve passages that answer the question",
    "Reranking": "Given a search query, retrieve passages that answer the question",
    "STS": "Retrieve semantically similar text",
    "PairClassification": "Retrieve semantically similar text",
    "Classification": "Classify the given text into the appropriate category",
    "Clustering": "Identify the topic or theme of the given text",
}
ASYMMETRIC_TYPES = ("Retrieval", "Reranking")


def mteb_prompts(template: str = "youtu", *, include_task_names: bool = True) -> dict[str, str]:
    """Prompts keyed the way mteb selects them (task name / task type, query / document side).

    Pass them to the model: ``SentenceTransformer(model, prompts=mteb_prompts())``. Keys of task
    names that the installed mteb does not know are harmless (mteb warns and ignores them).
    """
    tmpl = get_template(template)
    prompts: dict[str, str] = {}
    for task_type, instruction in TYPE_INSTRUCTIONS.items():
        prefix = tmpl.render(instruction)
        if task_type in ASYMMETRIC_TYPES:
            prompts[f"{task_type}-query"] = prefix
            prompts[f"{task_type}-document"] = tmpl.document_prefix()
        else:
            prompts[task_type] = prefix
    if include_task_names:
        for name, task in tmpl.tasks.items():
            prefix = tmpl.render(task.instruction)
            if task.prompt_documents:
                prompts[name] = prefix
            else:
                prompts[f"{name}-query"] = prefix
                prompts[f"{name}-document"] = tmpl.document_prefix()
    return prompts


def local_sts_task(folder: str | os.PathLike[str], split: str = "test", *, limit: int | None = None) -> Any:
    """An mteb ``AbsTaskSTS`` over a canonical STS folder (``meta.json`` + ``<split>.jsonl``).

    Rows are ``{"sentence1", "sentence2", "score"}``; the score range comes from ``meta.json``
    (``score_range``, default 0-5). ``limit`` keeps the first N pairs.
    """
    from datasets import Dataset, DatasetDict
    from mteb.abstasks.sts import AbsTaskSTS
    from mteb.abstasks.task_metadata import TaskMetadata

    root = Path(folder)
    meta_file = root / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    data_file = root / f"{split}.jsonl"
    if not data_file.is_file():
        from youtu_embedding.core.errors import InvalidArgumentError

        raise InvalidArgumentError("split", f"{data_file} does not exist", meta.get("splits"))
    rows = [json.loads(line) for line in data_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:limit] if limit is not None else rows
    low, high = (meta.get("score_range") or [0, 5])[:2]
    language = {"en": "eng-Latn", "zh": "cmn-Hans"}.get(str(meta.get("language", "en")), "eng-Latn")
    name = "Local" + "".join(part.title() for part in re.split(r"[-_\s]+", str(meta.get("name", root.name)))) + "STS"

    class LocalSTSTask(AbsTaskSTS):
        min_score = low
        max_score = high
        metadata = TaskMetadata(
            name=name,
            dataset={"path": str(root), "revision": "local"},
            description=f"STS pairs read from {data_file}",
            reference=None,
            type="STS",
            category="t2t",
            modalities=["text"],
            eval_splits=[split],
            eval_langs=[language],
            main_score="cosine_spearman",
            date=None,
            domains=None,
            task_subtypes=None,
            license=None,
            annotations_creators=None,
            dialect=None,
            sample_creation=None,
            bibtex_citation=None,
        )

        def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
            if self.data_loaded:
                return
            columns = {
                "sentence1": [r["sentence1"] for r in rows],
                "sentence2": [r["sentence2"] for r in rows],
                "score": [float(r["score"]) for r in rows],
            }
            self.dataset = {"default": DatasetDict({split: Dataset.from_dict(columns)})}
            self.data_loaded = True

    return LocalSTSTask()
