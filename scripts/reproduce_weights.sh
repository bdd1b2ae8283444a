#!/usr/bin/env bash
# How the packaged weights were made, stage by stage: v1 (superpoint_rt_v1.npz, step 4648, stages 1-5), v2
# (superpoint_rt_v2.npz, step 12843, stages 6-8, which continue v1's run and need ../shared/photos), v3
# (superpoint_rt_v3.npz, step 18761, stages 9-10, which continue v2's run), v4 (superpoint_rt_v4.npz, step 23373,
# stages 11-12, which continue v3's run), v5 (superpoint_rt_v5.npz, step 30766, stages 13-14, which continue v4's
# run), v6 (superpoint_rt_v6.npz, step 32250, stages 15-16, which continue v5's run with the ranking descriptor
# loss), v7 (superpoint_rt_v7.npz, step 35129, stages 17-18, which continue v6's run and then add the keypoint
# shift-equivariance term), v8 (superpoint_rt_v8.npz, step 36723, stages 19-20, which continue v7's run and then add
# the warp-centroid term), v9 (superpoint_rt_v9.npz, step 39205, stages 21-22, which continue v8's run with that term
# weighted 1.5) and v10, the default (superpoint_rt.npz, step 40858, stages 23-25: a fourth Homographic Adaptation
# round labelled by v9, then v9's run continued on it with the descriptor term twice as heavy).
# Every stage resumes (--resume) and stops cleanly (--time-limit MIN, SIGTERM/SIGUSR1); our run went in chunks
# on 2 CPU cores across sessions (see the weights card in docs/MODEL_CARD.md). Needs `pip install -e '.[train,eval]'` and
# the training photos (data/PHOTOS.md):
#   apt-get install plasma-workspace-wallpapers mate-backgrounds gnome-backgrounds ukui-wallpapers lomiri-wallpapers-16.04
set -euo pipefail
SP_STEPS=${SP_STEPS:-3000}         # end of SuperPoint phase 1 (first release)
SP_STEPS_V2=${SP_STEPS_V2:-4648}   # the SuperPoint-stage step v1 was exported at (see the card)
PHOTOS=${PHOTOS:-../shared/photos} # the research photo set v2 trains on (read there, never copied)
TORCHRUN="env OMP_NUM_THREADS=1 torchrun --standalone --nproc-per-node 2 -m superpoint_rt.train superpoint"  # 2 cores
LICENCE="MIT (superpoint_rt), with the training data's terms (docs/MODEL_CARD.md)"
WEIGHTS=superpoint_rt/data/weights

# package RUN STEM [release_weights.py options]: RUN's last checkpoint -> $WEIGHTS/STEM.npz (batch norm folded), then
# its INT8 IR $WEIGHTS/STEM_int8.xml calibrated on the train-split photos, detector head (convPa, convPb) in float
# (KEEP_FLOAT="conv1a convPa convPb" for v10's IR, which keeps its first convolution in float too)
package() {
    local run=$1 stem=$2 keep=${KEEP_FLOAT:-convPa convPb}
    shift 2
    python scripts/release_weights.py --run-dir "$run" --name superpoint-rt --no-int8 --licence "$LICENCE" \
        --out "$WEIGHTS/$stem.npz" "$@"
    superpoint-rt quantize --weights "$WEIGHTS/$stem.npz" --calib "$PHOTOS/*/train/*.jpg" \
        --keep-float $keep --output "$WEIGHTS/${stem}_int8.xml"
}

# 1. MagicPoint on Synthetic Shapes: 3000 steps x 32 images, 120x160, Adam 1e-3, BF16 autocast
superpoint-rt train magicpoint --config configs/magicpoint.yaml --run-dir train_runs/magicpoint --max-steps 3000

# 2. Homographic Adaptation of 960 crops (15 per photo, training split + rendered wallpapers), 20 warps each
python scripts/make_training_crops.py --out train_data/crops15 --per-photo 15 --include-rendered --seed 1 --v1-sources
superpoint-rt train adapt --weights train_runs/magicpoint/checkpoints/last.pt --images train_data/crops15 \
    --out train_runs/adapt_crops --num-homographies 20

# 3. SuperPoint stage, 240x320, Adam 1e-4, initialised from MagicPoint:
#    steps 0-939 at batch 2 with the paper's descriptor weight 1e-4 (the interim run),
superpoint-rt train superpoint --config configs/superpoint_interim.yaml --run-dir train_runs/superpoint --max-steps 939
#    steps 939-1083 at batch 8, still 1e-4,
superpoint-rt train superpoint --config configs/superpoint_release_desc1e-4.yaml --run-dir train_runs/superpoint --resume \
    --max-steps 1083
#    then descriptor weight 1.0 (configs/superpoint_release.yaml) up to the release step.
superpoint-rt train superpoint --config configs/superpoint_release.yaml --run-dir train_runs/superpoint --resume \
    --max-steps "$SP_STEPS"

# 3b. Phase 2 (the paper's iteration): more photos (lomiri-wallpapers-16.04 joined the training split), new crops,
#     Homographic Adaptation with 60 warps and the step-3000 SuperPoint as the labeller, then resume training.
cp train_runs/superpoint/checkpoints/last.pt train_runs/superpoint/checkpoints/step_0003000.pt
python scripts/make_training_crops.py --out train_data/crops_v2 --per-photo 24 --include-rendered --per-rendered 8 --seed 2
superpoint-rt train adapt --weights train_runs/superpoint/checkpoints/step_0003000.pt --images train_data/crops_v2 \
    --out train_runs/adapt_v2 --num-homographies 60
superpoint-rt train superpoint --config configs/superpoint_release_v2.yaml --run-dir train_runs/superpoint --resume \
    --max-steps "$SP_STEPS_V2"

# 4. Package v1: batch norm folded -> .npz, INT8 IR calibrated on the training photos (released under the name
#    superpoint-rt, its metadata's name; packaged today as superpoint-rt-v1)
python scripts/release_weights.py --run-dir train_runs/superpoint --name superpoint-rt \
    --out superpoint_rt/data/weights/superpoint_rt_v1.npz

# 5. v1's numbers
superpoint-rt eval bundled --method superpoint orb sift --weights superpoint-rt-v1 --precision fp32 \
    --json bench/results/eval_superpoint_rt_fp32.json
superpoint-rt eval bundled --method superpoint --weights superpoint-rt-v1 --precision int8 \
    --json bench/results/eval_superpoint_rt_int8.json

# 6. The chain past v1 (none of it shipped on its own; docs/MODEL_CARD.md, "How v1's step was chosen"):
#    phase 2 on to step 7964 (two processes from step 5655; Adam 3e-5 from 6000),
superpoint-rt train superpoint --config configs/superpoint_release_v2.yaml --run-dir train_runs/superpoint --resume \
    --max-steps 5655
$TORCHRUN --config configs/superpoint_release_v2_2proc.yaml --run-dir train_runs/superpoint --resume --max-steps 7964
#    phase 3: 2432 new crops labelled by step 7964 (48 warps), in a copy of the run dir,
cp -r train_runs/superpoint train_runs/superpoint_v3
python scripts/make_training_crops.py --out train_data/crops_v3 --per-photo 48 --include-rendered --per-rendered 16 --seed 3
superpoint-rt train adapt --weights train_runs/superpoint/checkpoints/last.pt --images train_data/crops_v3 \
    --out train_runs/adapt_v3 --num-homographies 48 --seed 3
$TORCHRUN --config configs/superpoint_release_v3.yaml --run-dir train_runs/superpoint_v3 --resume --max-steps 10010
#    phase 4: wider zooms between the two images of a pair, to step 12189.
cp -r train_runs/superpoint_v3 train_runs/superpoint_v4
$TORCHRUN --config configs/superpoint_release_v4_scale.yaml --run-dir train_runs/superpoint_v4 --resume --max-steps 12189

# 7. v2: one crop per train-split photo of the shared set, labelled by v1 (32 warps, INT8), then 654 steps
python scripts/make_training_crops.py --photos "$PHOTOS" --split train --out train_data/crops_photos \
    --per-photo 1 --max-upscale 1.5 --seed 5
superpoint-rt train adapt --weights superpoint-rt-v1 --images train_data/crops_photos --out train_runs/adapt_photos \
    --num-homographies 32 --batch-size 16 --precision int8 --seed 5
mkdir -p train_runs/superpoint_v2/checkpoints
cp train_runs/superpoint_v4/checkpoints/last.pt train_runs/superpoint_v2/checkpoints/
$TORCHRUN --config configs/superpoint_v2_photos.yaml --run-dir train_runs/superpoint_v2 --resume --max-steps 12843

# 8. Package v2 and its INT8 IR, calibrated on 100 train-split photos evenly spaced over the sets
python scripts/release_weights.py --run-dir train_runs/superpoint_v2 --name superpoint-rt --no-int8 --licence "$LICENCE" \
    --out "$WEIGHTS/superpoint_rt_v2.npz"
superpoint-rt quantize --weights "$WEIGHTS/superpoint_rt_v2.npz" --calib "$PHOTOS/*/train/*.jpg" \
    --output "$WEIGHTS/superpoint_rt_v2_int8.xml"

# 9. v3: the v2 run on to 13915, recipe B (configs/superpoint_v2b_warps.yaml) to 16535, a second Homographic
#    Adaptation of the same crops with v2 as the labeller, recipe D (B on those labels) to 18761
$TORCHRUN --config configs/superpoint_v2_photos.yaml --run-dir train_runs/superpoint_v2 --resume --max-steps 13915
mkdir -p train_runs/superpoint_v2b/checkpoints
cp train_runs/superpoint_v2/checkpoints/last.pt train_runs/superpoint_v2b/checkpoints/
$TORCHRUN --config configs/superpoint_v2b_warps.yaml --run-dir train_runs/superpoint_v2b --resume --max-steps 16535
superpoint-rt train adapt --weights superpoint_rt/data/weights/superpoint_rt_v2.npz --images train_data/crops_photos \
    --out train_runs/adapt_photos_v2 --num-homographies 32 --batch-size 16 --precision int8 --seed 5
mkdir -p train_runs/superpoint_v2d/checkpoints
cp train_runs/superpoint_v2b/checkpoints/last.pt train_runs/superpoint_v2d/checkpoints/
$TORCHRUN --config configs/superpoint_v2d_labels.yaml --run-dir train_runs/superpoint_v2d --resume --max-steps 18761

# 10. Package v3 and its INT8 IR with the detector head in float (fully quantised, it failed the guard with
#     sub-pixel points: docs/MODEL_CARD.md, card v3)
package train_runs/superpoint_v2d superpoint_rt_v3

# 11. v4: v3's run on to 19455, a third Homographic Adaptation of the same crops with v3 as the labeller (at most
#     256 points per crop), recipe F (D on those labels) to 23373
$TORCHRUN --config configs/superpoint_v2d_labels.yaml --run-dir train_runs/superpoint_v2d --resume --max-steps 19455
superpoint-rt train adapt --weights superpoint-rt-v3 --images train_data/crops_photos \
    --out train_runs/adapt_photos_v3_top256 --num-homographies 32 --batch-size 16 --precision int8 --seed 5 --top-k 256
mkdir -p train_runs/superpoint_v2f/checkpoints
cp train_runs/superpoint_v2d/checkpoints/last.pt train_runs/superpoint_v2f/checkpoints/
$TORCHRUN --config configs/superpoint_v2f_labels3_top256.yaml --run-dir train_runs/superpoint_v2f --resume --max-steps 23373

# 12. Package v4 and its INT8 IR, detector head in float as v3's
package train_runs/superpoint_v2f superpoint_rt_v4

# 13. v5: recipe F on from 23373 to 25638 at Adam 1e-4, then recipe G (F at Adam 3e-5) to 30766, same labels
$TORCHRUN --config configs/superpoint_v2f_labels3_top256.yaml --run-dir train_runs/superpoint_v2f --resume --max-steps 25638
mkdir -p train_runs/superpoint_v2g/checkpoints
cp train_runs/superpoint_v2f/checkpoints/last.pt train_runs/superpoint_v2g/checkpoints/
$TORCHRUN --config configs/superpoint_v2g_f_lr3e-5.yaml --run-dir train_runs/superpoint_v2g --resume --max-steps 30766

# 14. Package v5 and its INT8 IR, detector head in float as v4's
package train_runs/superpoint_v2g superpoint_rt_v5

# 15. v6: recipe I (recipe G with the ranking descriptor loss, descriptor_loss: softmax) from v5's state to 32250
mkdir -p train_runs/superpoint_v2i/checkpoints
cp train_runs/superpoint_v2g/checkpoints/last.pt train_runs/superpoint_v2i/checkpoints/
$TORCHRUN --config configs/superpoint_v2i_softmax.yaml --run-dir train_runs/superpoint_v2i --resume --max-steps 32250

# 16. Package v6 and its INT8 IR, detector head in float as v5's
package train_runs/superpoint_v2i superpoint_rt_v6

# 17. v7: recipe I on from v6's state to 34501, then recipe M (I plus the keypoint-centroid shift term) to 35129
$TORCHRUN --config configs/superpoint_v2i_softmax.yaml --run-dir train_runs/superpoint_v2i --resume --max-steps 34501
mkdir -p train_runs/superpoint_v2m/checkpoints
cp train_runs/superpoint_v2i/checkpoints/last.pt train_runs/superpoint_v2m/checkpoints/
$TORCHRUN --config configs/superpoint_v2m_centroid.yaml --run-dir train_runs/superpoint_v2m --resume --max-steps 35129

# 18. Package v7 and its INT8 IR, detector head in float as v6's
package train_runs/superpoint_v2m superpoint_rt_v7

# 19. v8: recipe M on from v7's state to 36281, then recipe O (M plus the warp-centroid term) to 36723
$TORCHRUN --config configs/superpoint_v2m_centroid.yaml --run-dir train_runs/superpoint_v2m --resume --max-steps 36281
mkdir -p train_runs/superpoint_v2o/checkpoints
cp train_runs/superpoint_v2m/checkpoints/last.pt train_runs/superpoint_v2o/checkpoints/
$TORCHRUN --config configs/superpoint_v2o_warp.yaml --run-dir train_runs/superpoint_v2o --resume --max-steps 36723

# 20. Package v8 and its INT8 IR, detector head in float as v7's
package train_runs/superpoint_v2o superpoint_rt_v8

# 21. v9: recipe P (O with the warp-centroid term weighted 1.5) from v8's state to 39205 (our run: BF16 autocast on a
# Xeon with AMX for its last 1,677 steps, FP32 on an AMD EPYC Zen 3 before; --precision auto picks by measurement)
mkdir -p train_runs/superpoint_v2p/checkpoints
cp train_runs/superpoint_v2o/checkpoints/last.pt train_runs/superpoint_v2p/checkpoints/
$TORCHRUN --config configs/superpoint_v2p_warp15.yaml --run-dir train_runs/superpoint_v2p --resume --precision auto \
    --max-steps 39205

# 22. Package v9 and its INT8 IR, detector head in float as v8's
package train_runs/superpoint_v2p superpoint_rt_v9

# 23. A fourth Homographic Adaptation round of the same crops, labelled by v9 (32 warps, at most 256 points per crop;
# INT8 through v9's guarded IR)
superpoint-rt train adapt --weights superpoint-rt-v9 --images train_data/crops_photos \
    --out train_runs/adapt_photos_v9_top256 --num-homographies 32 --batch-size 16 --precision int8 --seed 5 --top-k 256

# 24. v10: recipe T (P on the fourth round's labels, descriptor term x2) from v9's state to 40858 (our run: BF16
# autocast on a Xeon with AMX, two chunks)
mkdir -p train_runs/superpoint_v2t/checkpoints
cp train_runs/superpoint_v2p/checkpoints/last.pt train_runs/superpoint_v2t/checkpoints/
$TORCHRUN --config configs/superpoint_v2t_labels4_desc2x.yaml --run-dir train_runs/superpoint_v2t --resume \
    --precision auto --max-steps 40858

# 25. Package v10 (the default) and its INT8 IR: first convolution and detector head in float
KEEP_FLOAT="conv1a convPa convPb" package train_runs/superpoint_v2t superpoint_rt --onnx "$WEIGHTS/superpoint_rt.onnx"
superpoint-rt eval bundled --method superpoint --precision fp32 --json bench/results/eval_bundled_v10_fp32.json
superpoint-rt demo --output demo.mp4
