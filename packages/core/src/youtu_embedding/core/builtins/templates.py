"""Built-in instruction templates: youtu (with the C-MTEB table), bge, e5, qwen3, none."""

from youtu_embedding.core.hookspecs import hookimpl
from youtu_embedding.core.templates import BUILTIN_TEMPLATES, InstructionTemplate


@hookimpl
def register_instruction_templates() -> list[InstructionTemplate]:
    return list(BUILTIN_TEMPLATES)
