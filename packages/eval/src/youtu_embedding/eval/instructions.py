"""Which instruction a task gets, rendered by which template, on which side(s).

Resolution, first match wins:

1. ``overrides[task]`` (``--instruction TASK=TEXT``);
2. the template's task table (the ``youtu`` template carries the Youtu C-MTEB table of REFERENCE.md;
   a plugin's template may carry its own);
3. the local task's ``meta.json`` ``instruction`` (query side);
4. the registered mteb task's own ``prompt``.

STS, pair, classification and clustering tasks prompt every text; retrieval and reranking prompt
only the query (documents get the template's document prefix, empty for ``youtu``). The template
``none`` (the default for models that are not `utu`, e.g. all-MiniLM-L6-v2) renders no prefix at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from youtu_embedding.core.templates import QUERY_ONLY_KINDS, get_template

#: mteb task types whose documents are not prompted (the query side alone gets the instruction).
ASYMMETRIC_TASK_TYPES = frozenset({"Retrieval", "Reranking", "InstructionRetrieval", "InstructionReranking"})


@dataclass(frozen=True)
class TaskPrompts:
    """The prompting of one task.

    Attributes:
        task_name: the task.
        template: the template that rendered the prefixes.
        instruction: the instruction text actually used (None when no prefix is applied).
        source: where the instruction came from (``override``, ``template:<name>``, ``meta.json``,
            ``mteb``, or ``none``).
        query_prefix: the prefix of queries (of every text for symmetric tasks).
        document_prefix: the prefix of documents (equal to ``query_prefix`` for symmetric tasks).
        symmetric: whether both sides get the instruction.
    """

    task_name: str
    template: str
    instruction: str | None
    source: str
    query_prefix: str
    document_prefix: str
    symmetric: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields for the results file."""
        return {
            "instruction": self.instruction,
            "instruction_source": self.source,
            "template": self.template,
            "prompts": {"query": self.query_prefix, "document": self.document_prefix},
            "instruction_sides": "both" if self.symmetric else "query",
        }


def _query_text(prompt: Any) -> str | None:
    if isinstance(prompt, Mapping):
        prompt = prompt.get("query")
    return prompt if isinstance(prompt, str) and prompt.strip() else None


class InstructionPolicy:
    """Chooses and renders each task's instruction.

    Args:
        template: the instruction template name (``youtu``, ``bge``, ``e5``, ``qwen3``, ``none`` or a
            plugin's). ``none`` applies no prefix.
        overrides: task name -> instruction text, checked first.
        local_instructions: task name -> the ``meta.json`` instruction of local tasks.
    """

    def __init__(
        self,
        template: str = "youtu",
        *,
        overrides: Mapping[str, str] | None = None,
        local_instructions: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = get_template(template)
        self.overrides = dict(overrides or {})
        self.local_instructions = dict(local_instructions or {})

    def for_task(self, task_name: str, task_type: str, mteb_prompt: Any = None) -> TaskPrompts:
        """The prompts of ``task_name`` (an mteb task type such as ``STS`` or ``Retrieval``)."""
        table_entry = self.template.tasks.get(task_name)
        if table_entry is not None:
            symmetric = table_entry.kind not in QUERY_ONLY_KINDS
        else:
            symmetric = task_type not in ASYMMETRIC_TASK_TYPES
        instruction, source = None, "none"
        if task_name in self.overrides:
            instruction, source = self.overrides[task_name], "override"
        elif table_entry is not None:
            instruction, source = table_entry.instruction, f"template:{self.template.name}"
        elif _query_text(self.local_instructions.get(task_name)):
            instruction, source = _query_text(self.local_instructions[task_name]), "meta.json"
        elif _query_text(mteb_prompt):
            instruction, source = _query_text(mteb_prompt), "mteb"
        if self.template.name == "none" or "{instruction}" not in self.template.query_format:
            # the template ignores instructions: record what it actually applies
            prefix = self.template.render(None)
            return TaskPrompts(
                task_name,
                self.template.name,
                None,
                "none" if not prefix else f"template:{self.template.name}",
                prefix,
                prefix if symmetric else self.template.document_prefix(),
                symmetric,
            )
        if instruction is None:
            return TaskPrompts(task_name, self.template.name, None, "none", "", "", symmetric)
        query_prefix = self.template.render(instruction)
        document_prefix = query_prefix if symmetric else self.template.document_prefix()
        return TaskPrompts(task_name, self.template.name, instruction, source, query_prefix, document_prefix, symmetric)
