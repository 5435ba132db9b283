"""Token counts where the model's own tokenizer is in another process (Ollama, an OpenAI-compatible
server): the prompt budget and the Ollama embedder's chunk sizes use this estimate."""

from __future__ import annotations

import math
import re

_TOKENISH = re.compile(r"\w+|[^\w\s]")


def approx_token_count(text: str) -> int:
    """WordPiece and BPE split rare words into pieces; 1.3 pieces per word or punctuation mark is a
    safe bound for English prose."""
    return math.ceil(len(_TOKENISH.findall(text)) * 1.3)
