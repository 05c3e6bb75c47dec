#!/usr/bin/env bash
# Regenerates docs/seed000_derivation.png: the backprop derivation of seed 000 (X@W1 -> relu ->
# @W2, summed squared error) as a standalone A4 document, compiled by pdflatex, first page at
# 110 dpi. Needs pdflatex (texlive-latex-base) and pdftoppm (poppler-utils).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
matcalc net "dense(1000,100,bias=false) relu dense(100,10,bias=false)" --loss sse \
    --tex "$work/seed000.tex" >/dev/null
(cd "$work" && pdflatex -interaction=nonstopmode -halt-on-error seed000.tex >/dev/null)
if grep -q "Overfull" "$work/seed000.log"; then
    echo "make_seed000_png: an overfull line in seed000.tex" >&2
    exit 1
fi
pdftoppm -png -r 110 -f 1 -l 1 -singlefile "$work/seed000.pdf" docs/seed000_derivation
echo "wrote docs/seed000_derivation.png"
