#!/usr/bin/env bash
# Rebuild the Korean, Japanese and Chinese development sets, tests/devsets/{ko,ja,zh}/docs/, from the
# Debian packages that ship GIMP's manual and translated man pages in those languages, and write each
# set's provenance.tsv (one row per built file).
#
#     scripts/devset/install-sources.sh        # once, as root: the packages this reads, and CJK fonts
#     scripts/devset/build_cjk.sh              # all three; or name some: build_cjk.sh ja zh
#
# Sources: gimp-help-ko, gimp-help-ja, gimp-help-zh-cn (GIMP 2.10 user manual, HTML) and manpages-ja,
# manpages-zh (zh_CN pages). Debian 12 has no Korean man pages, so the Korean set is GIMP only.
# GIMP's Chinese manual is barely translated (history, licence and a few other pages), so the Chinese
# set is mostly man pages; the Korean manual is partly translated, so its pages mix Korean and English.
#
# Conversions: GIMP pages are copied as shipped (HTML) except GIMP_PDF pages, which are printed to
# PDF with headless Chromium (needs fonts-noto-cjk: without a CJK font Chromium prints tofu and the
# PDF's text layer loses characters). Man pages are formatted to plain UTF-8 text with groff (tbl for
# tables, as man does), left-adjusted and unhyphenated (`.ad l`, `.nh`, so no padding spaces land
# inside CJK sentences); `col -bx` strips the overstrikes and expands tabs. Chromium PDFs are not
# byte-reproducible (creation date): provenance.tsv records the sha256 of what was committed.
# Questions in tests/devsets/<lang>/questions.jsonl quote these files: after a rebuild, run
# `python scripts/devset/check.py tests/devsets/<lang>`.
set -euo pipefail
export LC_ALL=C.UTF-8

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GIMP_ROOT=/usr/share/gimp/2.0/help
MAN_ROOT=/usr/share/man

# Korean: GIMP only. Pages chosen for how much of them is translated, with overlapping topics
# (selection tools, brushes, gradients and patterns, layer modes, windows and docks, image export).
GIMP_HTML_ko=(
    gimp-imaging-photos gimp-introduction-history-2-10 gimp-pimping gimp-concepts-layer-modes-legacy
    gimp-first-steps gimp-concepts-docks gimp-introduction-history-2-6 gimp-concepts-main-windows
    gimp-image-window gimp-tool-gradient gimp-using-animated-brushes gimp-tool-bucket-fill
    gimp-introduction-history-2-2 gimp-image-combining gimp-tools-selection gimp-tool-fuzzy-select
    gimp-images-out gimp-concepts-gradients gimp-using-brushes gimp-scripting gimp-using-fonts
    gimp-imaging-color-management gimp-fire-up gimp-tools-paint gimp-tutorial-quickie-change-mode
    gimp-tool-iscissors gimp-tutorial-quickie-scale gimp-images-in gimp-concepts-brushes
    gimp-using-selections gimp-tool-rect-select gimp-tool-ellipse-select gimp-concepts-palettes
    gimp-tool-free-select gimp-tutorial-quickie-scale-print gimp-creating-brush-quickly gimp-painting
    gimp-image-text-management gimp-tools layer-mode-group-lighten layer-mode-group-darken
    gimp-concepts-image-guides gimp-using-paths-properties gimp-using-web menus introduction
    gimp-getting-unstuck gimp-concepts-setup
)
GIMP_PDF_ko=(
    gimp-concepts-undo gimp-using-setup-tile-cache gimp-introduction-history-2-4 gimp-concepts-patterns
    gimp-tutorial-quickie-jpeg gimp-tutorial-quickie-crop
)
MAN_ko=()

# Japanese: GIMP (selections, paths, colour dialogs, gradients, brushes, layer modes) and three families
# of man pages (compressors and tar; cron, crontab and at; find, xargs and locate).
GIMP_HTML_ja=(
    gimp-tools-selection gimp-tool-rect-select gimp-path-dialog gimp-tool-path gimp-channel-dialog
    gimp-palette-dialog gimp-indexed-palette-dialog gimp-gradient-dialog gimp-concepts-gradients
    gimp-tool-bucket-fill gimp-concepts-layer-modes-legacy gimp-dialogs-structure gimp-brush-dialog
    gimp-tool-dynamics gimp-tool-clone gimp-pattern-dialog gimp-tools-paint gimp-tool-text
    gimp-tool-move gimp-image-resize gimp-imaging-photos gimp-images-out
)
GIMP_PDF_ja=(
    gimp-concepts-undo gimp-using-setup-tile-cache gimp-tool-crop gimp-tool-fuzzy-select
    gimp-imaging-color-management
)
MAN_ja=(
    man1/gzip man1/bzip2 man1/xz man1/tar man5/crontab man8/cron man1/at man1/find man1/xargs
    man1/locate
)

# Chinese: the translated GIMP pages (history, bug reports, images for the web, the licence) and man
# pages in families: systemd tools, archivers and compressors, text search, the shell, networking,
# PostgreSQL's clients.
GIMP_HTML_zh=(
    gimp-introduction-history gimp-introduction-history-2-2 gimp-introduction-history-2-4
    gimp-using-web gfdl-1 gfdl-4
)
GIMP_PDF_zh=(
    gimp-introduction-history-2-0 gimp-introduction-history-2-6 gimp-introduction-history-early-days
    gimp-introduction-bugs
)
MAN_zh=(
    man1/systemctl man1/journalctl man5/journald.conf man5/logind.conf man1/loginctl man1/hostnamectl
    man1/timedatectl man1/systemd man1/tar man1/gzip man1/bzip2 man1/zipinfo man1/cpio man1/grep
    man1/sed man1/find man7/regex man1/diff man1/ls man1/bash man1/ssh man8/ping man8/netstat
    man8/route man1/dig man1/psql man1/pg_dump man1/pg_restore
)

gimp_dir() { case $1 in ko) echo ko ;; ja) echo ja ;; zh) echo zh_CN ;; esac; }
gimp_package() { case $1 in zh) echo gimp-help-zh-cn ;; *) echo "gimp-help-$1" ;; esac; }
man_dir() { case $1 in ja) echo ja ;; zh) echo zh_CN ;; esac; }
man_package() { case $1 in ja) echo manpages-ja ;; zh) echo manpages-zh ;; esac; }

for tool in chromium groff preconv col sha256sum dpkg-query; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: run scripts/devset/install-sources.sh" >&2
        exit 1
    }
done
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed" || {
    echo "fonts-noto-cjk is not installed (Chromium would print CJK as tofu):" \
        "run scripts/devset/install-sources.sh" >&2
    exit 1
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

sha() { sha256sum "$1" | cut -d' ' -f1; }
version() {
    dpkg-query -W -f='${Version}' "$1" 2>/dev/null || {
        echo "$1 is not installed: run scripts/devset/install-sources.sh" >&2
        exit 1
    }
}

print_pdf() { # print_pdf IN.html OUT.pdf
    local profile
    profile=$(mktemp -d "$WORK/profile.XXXXXX")
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
        --no-pdf-header-footer --print-to-pdf="$2" "file://$1" >/dev/null 2>&1 || true
    rm -rf "$profile"
    [[ -s $2 ]] || { echo "chromium did not print $1" >&2; exit 1; }
}

man_text() { # man_text IN.gz OUT.txt
    { printf '.ad l\n.nh\n'; zcat "$1"; } | preconv -e UTF-8 | groff -t -Tutf8 -mandoc -rLL=78n 2>/dev/null \
        | col -bx >"$2"
    [[ -s $2 ]] || { echo "groff produced nothing for $1" >&2; exit 1; }
}

build() { # build LANG
    local lang=$1 out tsv gdir gpkg gver page src name rows=() mdir mpkg mver entry
    out=$ROOT/tests/devsets/$lang/docs
    tsv=$ROOT/tests/devsets/$lang/provenance.tsv
    gdir=$GIMP_ROOT/$(gimp_dir "$lang")
    gpkg=$(gimp_package "$lang")
    gver=$(version "$gpkg")
    local -n html_pages="GIMP_HTML_$lang" pdf_pages="GIMP_PDF_$lang" man_pages="MAN_$lang"
    rm -rf "$out"
    mkdir -p "$out/gimp"
    for page in "${html_pages[@]}"; do
        src=$gdir/$page.html
        cp "$src" "$out/gimp/$page.html"
        chmod 644 "$out/gimp/$page.html"
        rows+=("gimp/$page.html	$gpkg	$gver	$src	$(sha "$src")	copy	$(sha "$out/gimp/$page.html")")
    done
    for page in "${pdf_pages[@]}"; do
        src=$gdir/$page.html
        print_pdf "$src" "$out/gimp/$page.pdf"
        rows+=("gimp/$page.pdf	$gpkg	$gver	$src	$(sha "$src")	chromium-print-to-pdf	$(sha "$out/gimp/$page.pdf")")
    done
    if [[ ${#man_pages[@]} -gt 0 ]]; then
        mdir=$MAN_ROOT/$(man_dir "$lang")
        mpkg=$(man_package "$lang")
        mver=$(version "$mpkg")
        mkdir -p "$out/man"
        for entry in "${man_pages[@]}"; do # man1/gzip -> man1/gzip.1.gz -> man/gzip.1.txt
            src=$mdir/$entry.${entry%%/*}.gz
            src=${src/.man/.}
            name=$(basename "$src" .gz).txt
            man_text "$src" "$out/man/$name"
            rows+=("man/$name	$mpkg	$mver	$src	$(sha "$src")	groff-utf8-col	$(sha "$out/man/$name")")
        done
    fi
    {
        printf 'file\tpackage\tversion\toriginal\toriginal_sha256\tconversion\tsha256\n'
        printf '%s\n' "${rows[@]}" | LC_ALL=C sort
    } >"$tsv"
    echo "$lang: built ${#rows[@]} files in $out; provenance in $tsv"
}

langs=("$@")
[[ ${#langs[@]} -gt 0 ]] || langs=(ko ja zh)
for lang in "${langs[@]}"; do
    case $lang in ko | ja | zh) build "$lang" ;; *) echo "unknown language $lang (ko, ja, zh)" >&2; exit 2 ;; esac
done
