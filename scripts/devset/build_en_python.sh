#!/usr/bin/env bash
# Rebuild the Python-documentation half of the English dev set (tests/devsets/en/docs/python/) from the
# installed Debian package python3.11-doc, and record where every file came from in
# tests/devsets/en/provenance.python.tsv.
#
#     scripts/devset/install-sources.sh        # once, as root: the packages this reads
#     scripts/devset/build_en_python.sh
#
# Most pages are copied as HTML (subfolders flattened: library/os.html -> library-os.html), six are
# printed to PDF with headless Chromium and six are the package's own reST sources (_sources/*.rst.txt)
# kept as plain text, so the set exercises all three parsers. Each page appears in one form only.
# Copies are byte-identical to the package; Chromium PDFs are not byte-reproducible, so the sha256
# column records what was committed. Questions in tests/devsets/en/questions.jsonl (ids py-*) quote these files verbatim:
# after a rebuild, run scripts/devset/check.py tests/devsets/en.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
package=python3.11-doc
html=/usr/share/doc/python3.11-doc/html
out=$root/tests/devsets/en/docs/python
provenance=$root/tests/devsets/en/provenance.python.tsv

version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null) || {
    echo "$package is not installed: run scripts/devset/install-sources.sh" >&2
    exit 1
}
command -v chromium >/dev/null || { echo "chromium is not installed: run scripts/devset/install-sources.sh" >&2; exit 1; }

# Pages kept as HTML, relative to $html, without .html.
html_pages=(
    library/os library/pathlib library/subprocess library/logging library/datetime library/json
    library/csv library/sqlite3 library/re library/argparse library/functools library/itertools
    library/collections library/shutil library/tempfile library/hashlib library/struct
    library/asyncio-task library/zipfile library/unittest library/venv library/time
    reference/expressions howto/logging faq/programming whatsnew/3.11
)
# Pages printed to PDF with headless Chromium.
pdf_pages=(
    library/secrets library/uuid library/configparser howto/sockets tutorial/venv tutorial/inputoutput
)
# Pages taken as their reST source text, relative to $html/_sources, without .rst.txt.
txt_pages=(
    howto/sorting howto/argparse tutorial/datastructures library/contextlib library/dataclasses faq/general
)

flat() { echo "${1//\//-}"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

rm -rf "$out"
mkdir -p "$out"
rows=()
row() { # file original conversion
    rows+=("python/$1	$package	$version	$2	$(sha "$2")	$3	$(sha "$out/$1")")
}

for page in "${html_pages[@]}"; do
    name=$(flat "$page").html
    cp "$html/$page.html" "$out/$name"
    chmod 644 "$out/$name"
    row "$name" "$html/$page.html" copy
done

for page in "${txt_pages[@]}"; do
    name=$(flat "$page").txt
    cp "$html/_sources/$page.rst.txt" "$out/$name"
    chmod 644 "$out/$name"
    row "$name" "$html/_sources/$page.rst.txt" copy
done

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
for page in "${pdf_pages[@]}"; do
    name=$(flat "$page").pdf
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
        --no-pdf-header-footer --print-to-pdf="$out/$name" "file://$html/$page.html" >/dev/null 2>&1
    [[ -s $out/$name ]] || { echo "chromium did not print $page" >&2; exit 1; }
    row "$name" "$html/$page.html" chromium-print-to-pdf
done

{
    printf 'file\tpackage\tversion\toriginal\toriginal_sha256\tconversion\tsha256\n'
    printf '%s\n' "${rows[@]}" | sort
} >"$provenance"
echo "$(ls "$out" | wc -l) files in $out; provenance in $provenance"
