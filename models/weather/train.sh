#!/usr/bin/env bash
# Trains models/weather/2 with streamcell's own trainer (truncated BPTT, Adam)
# and scores it on the held-out last 20% of the days against persistence and
# the seasonal naive forecast (a year = 365 rows). models/weather/1 is the
# same task trained with PyTorch (train_torch.py).
#
# Data: seattle-weather.csv from the vega-datasets npm package (BSD-3-Clause).
# Run from anywhere after `./run pnpm install`:  bash models/weather/train.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
node packages/cli/src/main.ts train --dataset weather \
  --features precipitation,temp_max,temp_min,wind --targets temp_max,temp_min --time-column date \
  --cell lstm --hidden 32 --layers 1 --horizon 3 --target-mode delta \
  --window 32 --batch-size 4 --epochs 80 --patience 15 --lr 0.003 --clip 1 --loss mse --seed 1 \
  --train-fraction 0.8 --validation-fraction 0.1 \
  --name weather --version 2 --out models/weather/2 --quiet
node packages/cli/src/main.ts eval --model models/weather/2 --dataset weather --from 0.8 --season 365 \
  --plot models/weather/2/eval.html > models/weather/2/eval.json
