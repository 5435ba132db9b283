#!/usr/bin/env bash
# Install what the tests need, then lint, type-check and run the whole suite, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
export HF_HUB_OFFLINE=1 DO_NOT_TRACK=1 TOKENIZERS_PARALLELISM=false RAG_REQUIRE_LLM_TESTS=1
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
