#!/usr/bin/env bash
# Rebuild the PostgreSQL half of the English development set, tests/devsets/en/docs/postgresql/, from
# the Debian package postgresql-doc-15 (install it with scripts/devset/install-sources.sh), and write
# tests/devsets/en/provenance.postgresql.tsv (one row per built file).
#
# Most pages are copied as HTML; PDF_PAGES are printed to PDF with headless Chromium (so the set has
# real PDFs); TXT_PAGES are printed the same way and then turned into plain text with
# `pdftotext -layout` (so the set has real plain-text files). Every page appears in exactly one form.
# Chromium PDFs embed a creation date, so they are not byte-reproducible; the TSV records the sha256 of
# what was committed. Questions in tests/devsets/en/questions.jsonl (ids pg-*) quote these files; after a
# rebuild run `python scripts/devset/check.py tests/devsets/en`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PACKAGE=postgresql-doc-15
SRC=/usr/share/doc/$PACKAGE/html
OUT=$ROOT/tests/devsets/en/docs/postgresql
TSV=$ROOT/tests/devsets/en/provenance.postgresql.tsv

HTML_PAGES=(
    app-psql app-pgdump app-pgbasebackup
    auth-pg-hba-conf
    backup-dump continuous-archiving warm-standby
    datatype-character datatype-datetime datatype-json
    ddl-partitioning
    errcodes-appendix
    functions-aggregate functions-datetime functions-json functions-math functions-string
    indexes-types
    monitoring-stats pgstatstatements
    runtime-config-autovacuum runtime-config-client runtime-config-connection runtime-config-logging
    runtime-config-query runtime-config-replication runtime-config-resource runtime-config-wal
    sql-altertable sql-copy sql-createfunction sql-createindex sql-createtable sql-grant sql-insert
    sql-select
    transaction-iso using-explain wal-async-commit
)
PDF_PAGES=(routine-vacuuming datatype-numeric wal-configuration sql-vacuum explicit-locking sql-createsubscription)
TXT_PAGES=(hot-standby app-pgrestore kernel-resources ddl-rowsecurity sql-createrole app-pg-ctl)

for tool in chromium pdftotext sha256sum dpkg-query; do
    command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/devset/install-sources.sh" >&2; exit 1; }
done
VERSION=$(dpkg-query -W -f='${Version}' "$PACKAGE")
[[ -d $SRC ]] || { echo "$SRC not found: install $PACKAGE" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

print_pdf() { # print_pdf IN.html OUT.pdf
    local profile
    profile=$(mktemp -d "$WORK/profile.XXXXXX")
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
        --no-pdf-header-footer --print-to-pdf="$2" "file://$1" >/dev/null 2>&1
    rm -rf "$profile"
    [[ -s $2 ]] || { echo "chromium did not print $1" >&2; exit 1; }
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

rm -rf "$OUT"
mkdir -p "$OUT"
rows=()
row() { # row FILE ORIGINAL CONVERSION
    rows+=("postgresql/$1	$PACKAGE	$VERSION	$2	$(sha "$2")	$3	$(sha "$OUT/$1")")
}

for page in "${HTML_PAGES[@]}"; do
    cp "$SRC/$page.html" "$OUT/$page.html"
    row "$page.html" "$SRC/$page.html" copy
done
for page in "${PDF_PAGES[@]}"; do
    print_pdf "$SRC/$page.html" "$OUT/$page.pdf"
    row "$page.pdf" "$SRC/$page.html" chromium-print-to-pdf
done
for page in "${TXT_PAGES[@]}"; do
    print_pdf "$SRC/$page.html" "$WORK/$page.pdf"
    pdftotext -layout -enc UTF-8 "$WORK/$page.pdf" "$OUT/$page.txt"
    row "$page.txt" "$SRC/$page.html" pdftotext
done

{
    printf 'file\tpackage\tversion\toriginal\toriginal_sha256\tconversion\tsha256\n'
    printf '%s\n' "${rows[@]}" | LC_ALL=C sort
} >"$TSV"
echo "built ${#rows[@]} files in $OUT; provenance in $TSV"
