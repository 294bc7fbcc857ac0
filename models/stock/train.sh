#!/usr/bin/env bash
# Trains models/stock/1 with streamcell's own trainer and scores it on the
# held-out last 20% of the trading days against persistence and the seasonal
# naive forecast (a week = 5 trading days).
#
# Data: sp500-2000.csv (S&P 500 daily open, high, low, close, 2000-2020) from
# the vega-datasets npm package (BSD-3-Clause). Prices are close to a random
# walk: expect persistence to be about as good as anything.
# Run from anywhere after `./run pnpm install`:  bash models/stock/train.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
node packages/cli/src/main.ts train --dataset stock \
  --features open,high,low,close --targets close --time-column date \
  --cell lstm --hidden 32 --layers 1 --horizon 5 --target-mode delta \
  --window 32 --batch-size 32 --epochs 30 --patience 10 --lr 0.003 --clip 1 --loss mse --seed 1 \
  --train-fraction 0.8 --validation-fraction 0.1 \
  --name stock --version 1 --out models/stock/1 --quiet
node packages/cli/src/main.ts eval --model models/stock/1 --dataset stock --from 0.8 --season 5 \
  --plot models/stock/1/eval.html > models/stock/1/eval.json
