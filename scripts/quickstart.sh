#!/usr/bin/env bash
# The quick start: install, ingest sample_docs/ and answer a sample question with its citations.
# Offline-capable: uses the packaged all-MiniLM-L6-v2 quick-start embedder (production uses
# nomic-embed-text through Ollama) and keeps its index apart, in the `quickstart` collection.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export RAG_EMBEDDER="${RAG_EMBEDDER:-sentence-transformers:all-MiniLM-L6-v2}"
export RAG_COLLECTION="${RAG_COLLECTION:-quickstart}"
# Save the choice where `rag` finds it from any folder, so the README's commands use this knowledge base
# (unless this user already saved an embedder of their own).
config="${XDG_CONFIG_HOME:-$HOME/.config}/private-rag/env"
if ! grep -qs '^RAG_EMBEDDER=' "$config"; then
    mkdir -p "$(dirname "$config")"
    printf '# Written by scripts/quickstart.sh; the environment and a local .env override it.\nRAG_EMBEDDER=%s\nRAG_COLLECTION=%s\n' \
        "$RAG_EMBEDDER" "$RAG_COLLECTION" >> "$config"
fi
question="${1:-How many weeks of extra paid parental leave does Aldermoor give on top of the statutory leave?}"
.venv/bin/rag ingest sample_docs
echo
echo "Q: $question"
# Answers through the configured LLM (RAG_LLM, default Qwen 14B via Ollama) when it is reachable;
# otherwise shows the cited passages with a notice saying how to start one.
.venv/bin/rag ask --passages-if-no-llm "$question"
cat <<EOF

Next (settings saved in $config):
  .venv/bin/rag search "VPN gateway"                  # passages with file, page and section
  .venv/bin/rag ingest ~/your-documents               # add your own files to this knowledge base
  .venv/bin/rag serve                                 # the REST API on http://127.0.0.1:8000 (see README)
EOF
