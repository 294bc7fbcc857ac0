#!/usr/bin/env python3
"""Export random PyTorch forecasters and record what PyTorch computes for them.

    python3 roundtrip_check.py OUT_DIR [--seed N] [--steps N]

For each cell type this builds a random two-layer model with horizon 2, two
targets out of three features and a scaler, exports it with
export_streamcell.py (half through export_module, half through
export_state_dict; one with targetMode "delta"), feeds it a random raw
sequence one event at a time carrying the state, and writes:

    OUT_DIR/<case>/model.json, weights.safetensors    the artifact
    OUT_DIR/<case>/input.jsonl or input.csv           the raw events
    OUT_DIR/<case>/expected.jsonl                     {"step","forecast","h","c"?}
    OUT_DIR/cases.json                                [{"name","dir","input"}]

`streamcell predict --state` on each case must print the same numbers
(float32: within about 1e-5). The reference arithmetic mirrors the service's
documented one: scaled = (raw - mean) / std in float64, rounded to float32;
forecast = (y [+ scaled last target, delta]) * std + mean in float64.
"""

import argparse
import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_streamcell import export_module, export_state_dict  # noqa: E402

FEATURES = ["temp", "humidity", "light"]
TARGETS = ["light", "temp"]  # deliberately not in feature order
HORIZON = 2
LAYERS = 2

# (case name, nn factory, how it is exported, target mode, input format)
CASES = [
    ("lstm", lambda: nn.LSTM(3, 6, LAYERS, batch_first=True), "module", "level", "jsonl"),
    ("gru", lambda: nn.GRU(3, 5, LAYERS, batch_first=True), "state_dict", "delta", "jsonl-keyed"),
    ("rnn_tanh", lambda: nn.RNN(3, 4, LAYERS, nonlinearity="tanh", batch_first=True), "module", "level", "csv"),
    ("rnn_relu", lambda: nn.RNN(3, 4, LAYERS, nonlinearity="relu", batch_first=True), "state_dict", "level", "jsonl"),
]


class Forecaster(nn.Module):
    def __init__(self, rnn, output_size):
        super().__init__()
        self.rnn = rnn
        self.head = nn.Linear(rnn.hidden_size, output_size)


def write_input(path_base, fmt, raw):
    if fmt == "csv":
        path = path_base + ".csv"
        with open(path, "w", encoding="utf-8") as f:
            # An extra column first and the features out of order: predict
            # must match columns by name.
            f.write("ts,light,temp,humidity\n")
            for t, row in enumerate(raw):
                f.write("%d,%r,%r,%r\n" % (t, row[2], row[0], row[1]))
        return path
    path = path_base + ".jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for row in raw:
            values = dict(zip(FEATURES, row)) if fmt == "jsonl-keyed" else row
            f.write(json.dumps({"values": values}) + "\n")
    return path


def run_case(out_dir, name, make_rnn, export_via, target_mode, fmt, steps, gen):
    model = Forecaster(make_rnn(), HORIZON * len(TARGETS))
    with torch.no_grad():
        # Wider than PyTorch's default init so the states leave the linear regime.
        for p in model.parameters():
            p.uniform_(-0.8, 0.8, generator=gen)
    mean = (torch.rand(len(FEATURES), generator=gen, dtype=torch.float64) * 20 - 10).tolist()
    std = (torch.rand(len(FEATURES), generator=gen, dtype=torch.float64) * 2.5 + 0.5).tolist()
    case_dir = os.path.join(out_dir, name)
    settings = dict(features=FEATURES, targets=TARGETS, horizon=HORIZON, name="roundtrip-" + name, version="7",
                    scaler={"mean": mean, "std": std}, target_mode=target_mode)
    if export_via == "module":
        export_module(model, case_dir, **settings)
    else:
        export_state_dict(model.state_dict(), case_dir, cell=name, **settings)

    mean_t = torch.tensor(mean, dtype=torch.float64)
    std_t = torch.tensor(std, dtype=torch.float64)
    raw = (mean_t + std_t * torch.randn(steps, len(FEATURES), generator=gen, dtype=torch.float64) * 1.5).tolist()
    input_path = write_input(os.path.join(case_dir, "input"), fmt, raw)

    target_index = [FEATURES.index(t) for t in TARGETS]
    scaled_all = ((torch.tensor(raw, dtype=torch.float64) - mean_t) / std_t).to(torch.float32)
    lines = []
    state = None
    with torch.no_grad():
        for t in range(steps):
            x = scaled_all[t].view(1, 1, -1)
            out, state = model.rnn(x, state)
            y = model.head(out[0, -1]).to(torch.float64)
            forecast = []
            for j in range(HORIZON * len(TARGETS)):
                f = target_index[j % len(TARGETS)]
                v = y[j] + (scaled_all[t, f].double() if target_mode == "delta" else 0.0)
                forecast.append(float(v * std_t[f] + mean_t[f]))
            h, c = (state if isinstance(state, tuple) else (state, None))
            line = {"step": t, "forecast": forecast, "h": h[:, 0, :].tolist()}
            if c is not None:
                line["c"] = c[:, 0, :].tolist()
            lines.append(line)
        # Stepping one event at a time must agree with PyTorch's own sequence
        # mode, or the reference itself would be suspect.
        full_out, _ = model.rnn(scaled_all.unsqueeze(0))
        stepped_top = torch.tensor([line["h"][-1] for line in lines])
        if not torch.allclose(full_out[0], stepped_top, atol=1e-6):
            raise SystemExit("roundtrip_check: stepping disagrees with the sequence forward for " + name)

    with open(os.path.join(case_dir, "expected.jsonl"), "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    return {"name": name, "dir": case_dir, "input": input_path, "targetMode": target_mode}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    cases = [run_case(args.out_dir, *case, steps=args.steps, gen=gen) for case in CASES]
    with open(os.path.join(args.out_dir, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, indent=2)
    print("wrote %d cases to %s" % (len(cases), args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
