#!/usr/bin/env bash
# Install the Debian packages the real-document development sets are built from, and the tools that
# turn some of their pages into PDFs and plain text. Only needed to rebuild a dev set: the built
# files are committed under tests/devsets/, so tests and `rag eval` never need these packages.
set -euo pipefail
# English: PostgreSQL's and Python's docs. Korean, Japanese, Chinese: GIMP's manual and translated man
# pages, and fonts-noto-cjk so Chromium prints CJK text (without it the PDFs' text layer loses characters).
packages=(postgresql-doc-15 python3.11-doc chromium poppler-utils
    gimp-help-ko gimp-help-ja gimp-help-zh-cn manpages-ja manpages-zh fonts-noto-cjk)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) != 0 ]]; then
    echo "Needs root to install: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
