#!/usr/bin/env bash
# How the packaged default weights (superpoint_rt/data/weights/superpoint_rt.npz) were made, stage by stage.
# Every stage resumes (--resume) and stops cleanly (--time-limit MIN, SIGTERM/SIGUSR1); our run went in chunks
# on 2 CPU cores across sessions (see the weights card in docs/MODEL_CARD.md). Needs `pip install -e '.[train,eval]'` and
# the training photos (data/PHOTOS.md):
#   apt-get install plasma-workspace-wallpapers mate-backgrounds gnome-backgrounds ukui-wallpapers lomiri-wallpapers-16.04
set -euo pipefail
SP_STEPS=${SP_STEPS:-3000}         # end of SuperPoint phase 1 (first release)
SP_STEPS_V2=${SP_STEPS_V2:-4648}   # the SuperPoint-stage step the current release was exported at (see the card)

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

# 4. Package: batch norm folded -> .npz (+ ONNX), INT8 IR calibrated on the training photos
python scripts/release_weights.py --run-dir train_runs/superpoint --name superpoint-rt \
    --out superpoint_rt/data/weights/superpoint_rt.npz --onnx superpoint_rt/data/weights/superpoint_rt.onnx

# 5. The card's numbers
superpoint-rt eval bundled --method superpoint orb sift --precision fp32 --json bench/results/eval_superpoint_rt_fp32.json
superpoint-rt eval bundled --method superpoint --precision bf16 --json bench/results/eval_superpoint_rt_bf16.json
superpoint-rt eval bundled --method superpoint --precision int8 --json bench/results/eval_superpoint_rt_int8.json
superpoint-rt demo --output demo.mp4
