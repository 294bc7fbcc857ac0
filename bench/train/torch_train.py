#!/usr/bin/env python3
"""PyTorch side of `pnpm bench:train`: the same training run as streamcell's
trainer, timed per epoch on one thread.

bench/train/main.ts writes the job into a folder: job.json (sizes and
hyper-parameters), sequences.bin (every training sequence's float32 inputs,
then its float32 targets, NaN = no target) and weights.bin (the initial
weights as float32 in state_dict order). This script cuts the sequences into
lanes with the rule of packages/rnn/src/lanes.ts `makeLanes` (reimplemented
below; the TypeScript side checks that both give the same lanes), then trains
exactly as packages/rnn `train()` does: all lanes side by side, window after
window of `window` steps, every lane from a zero state at each epoch start,
the state carried across windows without gradient, a lane past its end fed
zeros with masked targets, the loss the mean over scored entries, gradients
clipped by global norm, one Adam step per window. It prints one JSON object.

    /usr/bin/python3 bench/train/torch_train.py JOB_DIR
"""

import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def js_round(x):
    """Math.round of JavaScript: halves round up (Python's round() rounds half to even)."""
    return math.floor(x + 0.5)


def make_lanes(lengths, batch_size):
    """packages/rnn/src/lanes.ts makeLanes, rule for rule."""
    total = sum(lengths)
    lanes = []
    for s, n in enumerate(lengths):
        if n == 0:
            continue
        m = min(n, max(1, js_round(batch_size * n / total)))
        q, r = divmod(n, m)
        start = 0
        for c in range(m):
            length = q + (1 if c < r else 0)
            lanes.append((s, start, length))
            start += length
    return lanes


class Forecaster(nn.Module):
    def __init__(self, cell, input_size, hidden, layers, output_size):
        super().__init__()
        kinds = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cell in kinds:
            self.rnn = kinds[cell](input_size, hidden, num_layers=layers, batch_first=True)
        else:
            self.rnn = nn.RNN(input_size, hidden, num_layers=layers, batch_first=True,
                              nonlinearity="tanh" if cell == "rnn_tanh" else "relu")
        self.head = nn.Linear(hidden, output_size)

    def forward(self, x, state):
        h, state = self.rnn(x, state)
        return self.head(h), state


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def main():
    job_dir = sys.argv[1]
    with open(os.path.join(job_dir, "job.json")) as f:
        job = json.load(f)
    torch.set_num_threads(1)
    I, O = job["inputSize"], job["outputSize"]
    lengths = job["lengths"]
    raw = torch.from_numpy(np.fromfile(os.path.join(job_dir, "sequences.bin"), dtype="<f4"))
    sequences = []
    at = 0
    for n in lengths:
        x = raw[at:at + n * I].reshape(n, I)
        at += n * I
        y = raw[at:at + n * O].reshape(n, O)
        at += n * O
        sequences.append((x, y))

    lanes = make_lanes(lengths, job["batchSize"])
    B = len(lanes)
    longest = max(l[2] for l in lanes)
    X = torch.zeros(B, longest, I)
    Y = torch.full((B, longest, O), float("nan"))
    for b, (s, start, length) in enumerate(lanes):
        X[b, :length] = sequences[s][0][start:start + length]
        Y[b, :length] = sequences[s][1][start:start + length]
    mask = ~torch.isnan(Y)
    Y0 = torch.nan_to_num(Y, nan=0.0)

    model = Forecaster(job["cell"], I, job["hidden"], job["layers"], O)
    flat = torch.from_numpy(np.fromfile(os.path.join(job_dir, "weights.bin"), dtype="<f4"))
    with torch.no_grad():
        at = 0
        for name, p in model.state_dict().items():
            p.copy_(flat[at:at + p.numel()].reshape(p.shape))
            at += p.numel()
    if at != flat.numel():
        raise SystemExit("weights.bin holds %d floats, the model has %d" % (flat.numel(), at))
    opt = torch.optim.Adam(model.parameters(), lr=job["lr"])
    params = list(model.parameters())
    window = job["window"]
    batches = math.ceil(longest / window)

    epoch_seconds = []
    losses = []
    for _epoch in range(job["epochs"]):
        started = time.perf_counter()
        state = None
        total = 0.0
        count = 0
        for w in range(batches):
            lo = w * window
            hi = min(lo + window, longest)
            out, state = model(X[:, lo:hi], state)
            state = detach(state)
            m = mask[:, lo:hi]
            n = int(m.sum())
            if n == 0:
                continue
            d = (out - Y0[:, lo:hi]) * m
            loss_sum = (d * d).sum()
            loss = loss_sum / n
            opt.zero_grad()
            loss.backward()
            if job["clip"] > 0:
                nn.utils.clip_grad_norm_(params, job["clip"])
            opt.step()
            total += float(loss_sum)
            count += n
        epoch_seconds.append(time.perf_counter() - started)
        losses.append(total / count)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "lanes": lanes,
        "batches": batches,
        "epoch_seconds": epoch_seconds,
        "losses": losses,
    }))


if __name__ == "__main__":
    main()
