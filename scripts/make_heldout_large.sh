#!/usr/bin/env bash
# A larger held-out benchmark than the bundled one (not shipped: ~30 MB): the held-out photos of data/PHOTOS.md
# (scikit-image, matplotlib, lomiri-wallpapers-20.04), 3 seeds x (10 viewpoint + 10 illumination) sequences
# = 60 sequences, 300 pairs. Usage: bash scripts/make_heldout_large.sh OUT_DIR
#   then: superpoint-rt eval OUT_DIR --method superpoint orb sift
set -euo pipefail
out=${1:?usage: make_heldout_large.sh OUT_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
for seed in 11 12 13; do
    superpoint-rt eval make-benchmark "$tmp/s$seed" --heldout --seed "$seed"
    for seq in "$tmp/s$seed"/[iv]_*; do
        rm -rf "$out/$(basename "$seq")-s$seed"
        mv "$seq" "$out/$(basename "$seq")-s$seed"
    done
done
n=$(find "$out" -mindepth 1 -maxdepth 1 -type d -name '[iv]_*' | wc -l)
python -c "from superpoint_rt.eval.generate import write_provenance as w; w('$out', seeds=[11, 12, 13], sequences=$n)"
echo "$n sequences in $out"
