"""The Generator interface: chat messages in, text out (whole or streamed)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class Generator(Protocol):
    @property
    def name(self) -> str:
        """e.g. ``ollama:qwen2.5:14b``; shown in answers and /ready."""
        ...

    def generate(self, messages: Sequence[Message], max_tokens: int) -> str: ...

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        """Yield text pieces as the model produces them. Raises before the first piece when the model
        cannot be reached, and LLMUnavailableError when the stream breaks off."""
        ...

    def check(self) -> None:
        """Raise ServiceUnavailableError (or ModelNotFoundError) unless the model can answer now."""
        ...

    def close(self) -> None: ...
