#!/usr/bin/python3
"""Training fixtures for packages/rnn/test/train-pytorch.test.ts.

Run from the repository root with Debian's PyTorch 1.13:

    /usr/bin/python3 packages/rnn/python/make_train_fixtures.py

For each case (every cell, 2 layers; `-tiled` sizes are multiples of 8, which
the trainer computes with its WebAssembly products, the others in plain
JavaScript) it writes packages/rnn/test/fixtures/train/<case>.json:

- the float32 weights PyTorch's default initialisation drew (seeded), under
  their state_dict names;
- two sequences with NaN (JSON null) targets and a scoreFrom;
- `loss`: the mean loss over every scored target entry (non-NaN, row >=
  scoreFrom) of both sequences, stepped whole from a zero state, and its
  gradient for every tensor, all in float64 (model.double());
- `train`: the weights after truncated BPTT training as streamcell's train()
  does it with one lane per sequence: per epoch the state starts at zero, each
  window of `window` steps is one forward pass, the loss is the mean over the
  window's scored entries, backward, clip_grad_norm_, one torch.optim.Adam
  step, and the state is carried into the next window detached.

Everything is deterministic (fixed seeds, one thread); rerunning the script
rewrites the same files.
"""
import json
import math
import os

import torch

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'train')
LAYERS, LENGTH = 2, 10
SMALL = (3, 5, 4)  # input, hidden, output
TILED = (8, 8, 8)

CASES = [
    # file name, cell, loss, huber delta, seed, sizes
    ('lstm', 'lstm', 'mse', 1.0, 1, SMALL),
    ('gru', 'gru', 'huber', 0.5, 2, SMALL),
    ('rnn_tanh', 'rnn_tanh', 'mae', 1.0, 3, SMALL),
    ('rnn_relu', 'rnn_relu', 'mse', 1.0, 4, SMALL),
    ('lstm-tiled', 'lstm', 'mse', 1.0, 5, TILED),
]


class Forecaster(torch.nn.Module):
    def __init__(self, cell, sizes):
        super().__init__()
        INPUT, HIDDEN, OUTPUT = sizes
        if cell == 'lstm':
            self.rnn = torch.nn.LSTM(INPUT, HIDDEN, LAYERS, batch_first=True)
        elif cell == 'gru':
            self.rnn = torch.nn.GRU(INPUT, HIDDEN, LAYERS, batch_first=True)
        else:
            self.rnn = torch.nn.RNN(INPUT, HIDDEN, LAYERS, nonlinearity=cell[4:], batch_first=True)
        self.head = torch.nn.Linear(HIDDEN, OUTPUT)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


def masked_loss(kind, delta, out, y, score_mask):
    mask = ~torch.isnan(y) & score_mask
    d = out[mask] - y[mask]
    if kind == 'mse':
        return (d * d).mean()
    if kind == 'mae':
        return d.abs().mean()
    return torch.nn.functional.huber_loss(out[mask], y[mask], delta=delta)


def tensors(model):
    return {name: [float(v) for v in t.detach().reshape(-1).tolist()] for name, t in model.state_dict().items()}


def detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def make_case(cell, kind, delta, seed, sizes):
    INPUT, HIDDEN, OUTPUT = sizes
    torch.manual_seed(seed)
    model = Forecaster(cell, sizes)  # float32 weights: what the artifact would hold
    weights = tensors(model)
    gen = torch.Generator().manual_seed(100 + seed)
    x = torch.rand(2, LENGTH, INPUT, generator=gen, dtype=torch.float32) * 2 - 1
    y = torch.rand(2, LENGTH, OUTPUT, generator=gen, dtype=torch.float32) * 2 - 1
    # Masked entries: the last rows' far horizon, and a scattering of others.
    y[:, LENGTH - 1, 2:] = math.nan
    y[0, 3, 1] = math.nan
    y[1, 6, 0] = math.nan
    score_from = [2, 0]
    rows = torch.arange(LENGTH).reshape(1, LENGTH, 1)
    score_mask = rows >= torch.tensor(score_from).reshape(2, 1, 1)
    score_mask = score_mask.expand(2, LENGTH, OUTPUT)

    model = model.double()
    xd, yd = x.double(), y.double()
    out, _ = model(xd)
    loss = masked_loss(kind, delta, out, yd, score_mask)
    model.zero_grad()
    loss.backward()
    grads = {name: [float(v) for v in p.grad.reshape(-1).tolist()] for name, p in model.named_parameters()}

    # Truncated BPTT training, one lane per sequence.
    window, epochs, lr, clip = 4, 2, 0.01, 0.05
    model = Forecaster(cell, sizes)
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32).reshape(t.shape) for (k, v), t in zip(weights.items(), model.state_dict().values())})
    model = model.double()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    norms = []
    for _ in range(epochs):
        state = None
        for start in range(0, LENGTH, window):
            xb, yb, mb = xd[:, start:start + window], yd[:, start:start + window], score_mask[:, start:start + window]
            out, state = model(xb, detach(state))
            if int((~torch.isnan(yb) & mb).sum()) == 0:
                continue
            loss_w = masked_loss(kind, delta, out, yb, mb)
            opt.zero_grad()
            loss_w.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip)))
            opt.step()
    trained = tensors(model)

    def values(t):
        return [None if math.isnan(v) else float(v) for v in t.reshape(-1).tolist()]

    return {
        'generator': 'packages/rnn/python/make_train_fixtures.py, PyTorch ' + torch.__version__,
        'spec': {'cell': cell, 'inputSize': INPUT, 'hiddenSize': HIDDEN, 'numLayers': LAYERS, 'outputSize': OUTPUT},
        'weights': weights,
        'sequences': [
            {'length': LENGTH, 'scoreFrom': score_from[b], 'inputs': values(x[b]), 'targets': values(y[b])} for b in range(2)
        ],
        'loss': {'kind': kind, 'huberDelta': delta, 'value': float(loss), 'gradients': grads},
        'train': {
            'window': window, 'epochs': epochs, 'lr': lr, 'clip': clip, 'batchSize': 2,
            'gradientNorms': norms, 'weights': trained,
        },
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, cell, kind, delta, seed, sizes in CASES:
        case = make_case(cell, kind, delta, seed, sizes)
        path = os.path.join(OUT, name + '.json')
        with open(path, 'w') as f:
            json.dump(case, f, indent=None, separators=(',', ':'))
            f.write('\n')
        print(path, 'loss', case['loss']['value'])


if __name__ == '__main__':
    main()
