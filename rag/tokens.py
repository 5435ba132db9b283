"""Token counts where the model's own tokenizer is in another process (Ollama, an OpenAI-compatible
server): the prompt budget and the Ollama embedder's chunk sizes use this estimate."""

from __future__ import annotations

import math
import re

from rag.sparse import CJK_CHARACTER

_TOKENISH = re.compile(r"\w+|[^\w\s]")


def approx_token_count(text: str) -> int:
    """WordPiece and BPE split rare words into pieces; 1.3 pieces per word or punctuation mark is a
    safe bound for English prose. Chinese, Japanese and Korean have no spaces, so a paragraph would be
    one "word": their characters count one token each, a safe bound (BERT's WordPiece gives each Han
    character a token; the SentencePiece of XLM-R models such as bge-m3 gives 0.5 to 0.75 per
    character on Chinese, Japanese and Korean prose)."""
    cjk = len(CJK_CHARACTER.findall(text))
    if cjk:
        text = CJK_CHARACTER.sub(" ", text)
    return math.ceil(len(_TOKENISH.findall(text)) * 1.3) + cjk
