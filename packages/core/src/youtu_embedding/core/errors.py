"""Exceptions raised by the core. Each names the argument or resource at fault."""

from __future__ import annotations

from collections.abc import Iterable


class YoutuEmbeddingError(Exception):
    """Base class of every error raised by youtu-embedding."""


class InvalidArgumentError(YoutuEmbeddingError, ValueError):
    """An argument has a value outside what is allowed; the message names it and the allowed values."""

    def __init__(self, argument: str, message: str, allowed: Iterable[object] | None = None) -> None:
        self.argument = argument
        self.allowed = list(allowed) if allowed is not None else None
        text = f"{argument}: {message}"
        if self.allowed is not None:
            text += f" (allowed: {', '.join(map(str, self.allowed)) or 'none'})"
        super().__init__(text)


class InputTooLongError(InvalidArgumentError):
    """An input has more tokens than `max_length` and truncation is off."""


class ModelNotFoundError(YoutuEmbeddingError, FileNotFoundError):
    """A model could not be found locally (offline) or on the Hub."""


class UnsafeModelError(YoutuEmbeddingError):
    """A model would need an unsafe operation (pickle weights, remote code) that was not allowed."""


class PluginError(YoutuEmbeddingError):
    """A plugin failed to import, register or run one of its hooks."""
