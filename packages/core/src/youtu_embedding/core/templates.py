"""Instruction templates: how a task instruction becomes the prefix of a text.

The ``youtu`` template carries the Youtu-Embedding C-MTEB instruction table (REFERENCE.md). For
STS and pair tasks the instruction goes on both sides; for retrieval and reranking on the query
only; classification and clustering texts are all prompted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: Task kinds whose instruction goes on the query side only; every other kind (sts, pair,
#: classification, clustering) is symmetric: both sides get it.
QUERY_ONLY_KINDS = frozenset({"retrieval", "reranking"})


@dataclass(frozen=True)
class TaskInstruction:
    """The instruction of one task and its kind (which decides the prompted sides)."""

    instruction: str
    kind: str

    @property
    def prompt_documents(self) -> bool:
        """Whether the document side also gets the instruction (symmetric tasks)."""
        return self.kind not in QUERY_ONLY_KINDS


@dataclass(frozen=True)
class InstructionTemplate:
    """Renders instructions into text prefixes.

    Attributes:
        name: registry name.
        query_format: prefix for the query side; ``{instruction}`` is substituted.
        document_format: prefix for the document side of asymmetric tasks.
        default_instruction: instruction used by :meth:`query_prefix` when none is given.
        tasks: task name -> :class:`TaskInstruction`.
    """

    name: str
    query_format: str
    document_format: str = ""
    default_instruction: str | None = None
    tasks: Mapping[str, TaskInstruction] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""

    def render(self, instruction: str | None) -> str:
        """The prefix for `instruction` (the template's default when None)."""
        instruction = instruction if instruction is not None else self.default_instruction
        if instruction is None or "{instruction}" not in self.query_format:
            return self.query_format.replace("{instruction}", "")
        return self.query_format.format(instruction=instruction)

    def query_prefix(self, instruction: str | None = None) -> str:
        """Prefix for queries (asymmetric tasks) or any prompted text."""
        return self.render(instruction)

    def document_prefix(self) -> str:
        """Prefix for documents of asymmetric tasks."""
        return self.document_format

    def task(self, task_name: str) -> TaskInstruction:
        """The instruction of a task of this template's table; clear error when unknown."""
        from youtu_embedding.core.errors import InvalidArgumentError

        if task_name not in self.tasks:
            raise InvalidArgumentError(
                "task", f"template '{self.name}' has no instruction for task '{task_name}'", sorted(self.tasks)
            )
        return self.tasks[task_name]

    def task_prefixes(self, task_name: str) -> tuple[str, str]:
        """``(query prefix, document prefix)`` of a task; symmetric tasks prompt both sides."""
        task = self.task(task_name)
        query = self.render(task.instruction)
        return query, query if task.prompt_documents else self.document_prefix()

    def prompts(self) -> dict[str, str]:
        """`query`/`document`/`passage` prompts rendered with the default instruction."""
        doc = self.document_prefix()
        return {"query": self.query_prefix(), "document": doc, "passage": doc}


def _table(rows: list[tuple[tuple[str, ...], str, str]]) -> Mapping[str, TaskInstruction]:
    table: dict[str, TaskInstruction] = {}
    for names, kind, instruction in rows:
        for name in names:
            table[name] = TaskInstruction(instruction, kind)
    return MappingProxyType(table)


#: The Youtu-Embedding C-MTEB task instructions, verbatim from REFERENCE.md.
YOUTU_CMTEB_TASKS = _table(
    [
        (
            ("T2Retrieval", "DuRetrieval"),
            "retrieval",
            "Given a Chinese search query, retrieve web passages that answer the question",
        ),
        (("T2Reranking",), "reranking", "Given a Chinese search query, retrieve web passages that answer the question"),
        (
            ("MMarcoRetrieval",),
            "retrieval",
            "Given a web search query, retrieve relevant passages that answer the query",
        ),
        (
            ("MMarcoReranking",),
            "reranking",
            "Given a web search query, retrieve relevant passages that answer the query",
        ),
        (
            ("CmedqaRetrieval",),
            "retrieval",
            "Given a Chinese community medical question, retrieve replies that best answer the question",
        ),
        (
            ("CMedQAv1-reranking", "CMedQAv2-reranking"),
            "reranking",
            "Given a Chinese community medical question, retrieve replies that best answer the question",
        ),
        (
            ("CovidRetrieval",),
            "retrieval",
            "Given a question on COVID-19, retrieve news articles that answer the question",
        ),
        (
            ("EcomRetrieval",),
            "retrieval",
            "Given a user query from an e-commerce website, retrieve description sentences of relevant products",
        ),
        (
            ("MedicalRetrieval",),
            "retrieval",
            "Given a medical question, retrieve user replies that best answer the question",
        ),
        (("VideoRetrieval",), "retrieval", "Given a video search query, retrieve the titles of relevant videos"),
        (
            ("AFQMC", "ATEC"),
            "sts",
            "Represent the text in conversations between users and financial customer service, retrieve semantically similar text",
        ),
        (
            ("BQ",),
            "sts",
            "Represent the user problem descriptions when handling bank credit business, retrieve semantically similar text",
        ),
        (
            ("LCQMC",),
            "sts",
            "Represent the user question descriptions on general question-answering platforms, retrieve semantically similar text",
        ),
        (
            ("PAWSX",),
            "sts",
            "Represent the Chinese Translations of English Encyclopedias, retrieve semantically similar text",
        ),
        (("QBQTC",), "sts", "Represent the web search query, retrieve semantically similar text"),
        (("STSB",), "sts", "Represent the short general domain sentences, retrieve semantically similar text"),
        (("Ocnli", "Cmnli"), "pair", "Retrieve semantically similar text"),
        (("TNews",), "classification", "Classify the fine-grained category of the given news title"),
        (("IFlyTek",), "classification", "Given an App description text, find the appropriate fine-grained category"),
        (
            ("Waimai",),
            "classification",
            "Classify the customer review from a food takeaway platform into positive or negative",
        ),
        (
            ("OnlineShopping",),
            "classification",
            "Classify the customer review for online shopping into positive or negative",
        ),
        (
            ("JDReview",),
            "classification",
            "Classify the customer review for iPhone on e-commerce platform into positive or negative",
        ),
        (
            ("MultilingualSentiment",),
            "classification",
            "Classify sentiment of the customer review into positive, neutral, or negative",
        ),
        (
            ("CLSClusteringS2S",),
            "clustering",
            "Given the papers, find the appropriate fine-grained topic or theme based on the titles",
        ),
        (
            ("CLSClusteringP2P",),
            "clustering",
            "Given the papers, find the appropriate fine-grained topic or theme based on the titles and abstracts",
        ),
        (
            ("ThuNewsClusteringS2S",),
            "clustering",
            "Identify the topic or theme of the given news articles based on the titles",
        ),
        (
            ("ThuNewsClusteringP2P",),
            "clustering",
            "Identify the topic or theme of the given news articles based on the titles and contents",
        ),
    ]
)

#: The release's query instruction (its sentence-transformers `query` prompt).
YOUTU_DEFAULT_QUERY_INSTRUCTION = "Given a search query, retrieve passages that answer the question"
YOUTU_QUERY_FORMAT = "Instruction: {instruction} \nQuery: "
#: The release's sentence-transformers prompts, given to `utu` models that ship none.
YOUTU_RELEASE_PROMPTS = {
    "query": YOUTU_QUERY_FORMAT.format(instruction=YOUTU_DEFAULT_QUERY_INSTRUCTION),
    "document": "",
    "passage": "",
}

BUILTIN_TEMPLATES = [
    InstructionTemplate(
        "youtu",
        YOUTU_QUERY_FORMAT,
        "",
        YOUTU_DEFAULT_QUERY_INSTRUCTION,
        YOUTU_CMTEB_TASKS,
        "Youtu-Embedding: 'Instruction: {instruction} \\nQuery: ' with the C-MTEB task table",
    ),
    InstructionTemplate(
        "bge",
        "{instruction}",
        "",
        "Represent this sentence for searching relevant passages: ",
        description="BGE: the instruction itself is the query prefix",
    ),
    InstructionTemplate("e5", "query: ", "passage: ", description="E5: 'query: ' / 'passage: ' prefixes"),
    InstructionTemplate(
        "qwen3",
        "Instruct: {instruction}\nQuery:",
        "",
        "Given a web search query, retrieve relevant passages that answer the query",
        description="Qwen3-Embedding / gte-Qwen style 'Instruct: ...\\nQuery:'",
    ),
    InstructionTemplate("none", "", "", description="no prefix; instructions are ignored"),
]


def get_template(name: str) -> InstructionTemplate:
    """The instruction template registered as `name` (built-in or plugin)."""
    from youtu_embedding.core.plugins import lookup

    return lookup("register_instruction_templates", "template", name)
