"""The ``instructor`` instruction template (INSTRUCTOR-style prompts)."""

from __future__ import annotations

from youtu_embedding.core.templates import InstructionTemplate

#: Used when a query is prompted without an explicit instruction.
INSTRUCTOR_DEFAULT_INSTRUCTION = "question for retrieving supporting documents"

INSTRUCTOR = InstructionTemplate(
    "instructor",
    "Represent the {instruction}: ",
    "Represent the document for retrieval: ",
    INSTRUCTOR_DEFAULT_INSTRUCTION,
    description="INSTRUCTOR: 'Represent the {instruction}: ' (example plugin)",
)
