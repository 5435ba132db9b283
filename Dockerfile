# private-rag API / watcher image: slim and non-root. The default embedder (nomic-embed-text) and LLM
# (Qwen 14B) run in the Ollama container, so the image needs no PyTorch. For the in-process embedder or a
# cross-encoder reranker, build with a CPU-only PyTorch wheel index:
#   docker compose build --build-arg TORCH_INDEX_URL=<your PyTorch CPU wheel index>
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX_URL=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DO_NOT_TRACK=1 \
    HF_HUB_OFFLINE=1 \
    RAG_DATA_DIR=/data \
    RAG_HOST=0.0.0.0

# Tesseract and its English, Korean, Japanese and Simplified Chinese models OCR scanned PDF pages (which
# poppler's pdftoppm rasterises) and image files.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 poppler-utils curl \
        tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor tesseract-ocr-jpn tesseract-ocr-chi-sim \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY rag ./rag
COPY ingest ./ingest
COPY api ./api
# The scale extra (psycopg, procrastinate; a few MB) is always in: the same image serves one box and
# docker-compose.scale.yml's replicas, workers and scanner (RAG_DATABASE_URL).
RUN pip install ".[scale]" \
    && if [ -n "$TORCH_INDEX_URL" ]; then \
         pip install --index-url "$TORCH_INDEX_URL" "torch==2.13.0" && pip install ".[offline]"; \
       fi

RUN useradd --create-home --uid 10001 rag && mkdir -p /data /inbox && chown rag:rag /data /inbox
USER rag
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --retries=5 CMD curl -fsS http://127.0.0.1:8000/health || exit 1
ENTRYPOINT ["rag"]
CMD ["serve"]
