#!/usr/bin/env python3
"""Train the weather demo model with PyTorch and export it as streamcell/v1.

This is the PyTorch path a user takes: train any module with `rnn` and `head`
attributes, then export it with packages/model/python/export_streamcell.py.
Data: seattle-weather.csv from the `vega-datasets` npm package (BSD-3-Clause),
daily precipitation, temp_max, temp_min and wind for Seattle, 2012-2015.
The model sees all four features and forecasts temp_max and temp_min for the
next 3 days, as changes from the last observed day (target mode delta). It
trains on the first 80% of the days only (scaler included), so the last 20%
are unseen. Held-out MAE against persistence is printed at the end.

Run from the repository root (after `./run pnpm install`):
    /usr/bin/python3 models/weather/train_torch.py
which rewrites models/weather/1/.
"""

import csv
import math
import os
import sys

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "packages", "model", "python"))
from export_streamcell import export_module  # noqa: E402

FEATURES = ["precipitation", "temp_max", "temp_min", "wind"]
TARGETS = ["temp_max", "temp_min"]
HORIZON = 3
HIDDEN = 32
WINDOW = 64
EPOCHS = 40
SEED = 7


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(len(FEATURES), HIDDEN, num_layers=1, batch_first=True)
        self.head = nn.Linear(HIDDEN, HORIZON * len(TARGETS))

    def forward(self, x, state=None):
        h, state = self.rnn(x, state)
        return self.head(h), state


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    path = os.path.join(ROOT, "node_modules", "vega-datasets", "data", "seattle-weather.csv")
    with open(path, newline="") as f:
        rows = [[float(r[c]) for c in FEATURES] for r in csv.DictReader(f)]
    data = torch.tensor(rows, dtype=torch.float32)
    n_train = int(len(rows) * 0.8)
    mean = data[:n_train].mean(0)
    std = data[:n_train].std(0)
    x = (data - mean) / std
    tidx = [FEATURES.index(t) for t in TARGETS]
    # y[t] = scaled targets at t+1..t+H, laid out step by step.
    n = len(rows)
    y = torch.zeros(n, HORIZON * len(TARGETS))
    mask = torch.zeros(n, HORIZON * len(TARGETS))
    for t in range(n):
        for k in range(1, HORIZON + 1):
            if t + k < n:
                # delta target mode: the change from the last observed value.
                y[t, (k - 1) * len(TARGETS):k * len(TARGETS)] = x[t + k, tidx] - x[t, tidx]
                mask[t, (k - 1) * len(TARGETS):k * len(TARGETS)] = 1
    model = Forecaster()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    # Training targets must not reach into the held-out part.
    train_mask = mask.clone()
    train_mask[n_train - HORIZON:] = 0
    for epoch in range(EPOCHS):
        state = None
        total = 0.0
        for start in range(0, n_train, WINDOW):
            end = min(start + WINDOW, n_train)
            out, state = model(x[start:end].unsqueeze(0), state)
            state = tuple(s.detach() for s in state)
            m = train_mask[start:end]
            loss = (((out[0] - y[start:end]) ** 2) * m).sum() / m.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item()
        if epoch % 25 == 0 or epoch == EPOCHS - 1:
            print("epoch %d loss %.4f" % (epoch, total), file=sys.stderr)
    with torch.no_grad():
        out, _ = model(x.unsqueeze(0))
        last = x[:, tidx].repeat(1, HORIZON)
        pred = (out[0] + last) * std[tidx].repeat(HORIZON) + mean[tidx].repeat(HORIZON)
        for k in range(1, HORIZON + 1):
            sl = slice((k - 1) * len(TARGETS), k * len(TARGETS))
            ts = range(n_train, n - k)
            mae = sum(float((pred[t, sl] - data[t + k, tidx]).abs().mean()) for t in ts) / len(ts)
            naive = sum(float((data[t, tidx] - data[t + k, tidx]).abs().mean()) for t in ts) / len(ts)
            print("held-out step %d: MAE %.3f, persistence %.3f, ratio %.3f" % (k, mae, naive, mae / naive))
    export_module(
        model,
        os.path.join(ROOT, "models", "weather", "1"),
        features=FEATURES,
        targets=TARGETS,
        horizon=HORIZON,
        scaler={"mean": mean.tolist(), "std": std.tolist()},
        target_mode="delta",
        name="weather",
        version="1",
        metadata={
            "trainedWith": "PyTorch %s, models/weather/train_torch.py" % torch.__version__,
            "data": "vega-datasets seattle-weather.csv, first 80% of days",
        },
    )


if __name__ == "__main__":
    main()
