#!/usr/bin/env python3
"""Write a streamcell/v1 model artifact (model.json + weights.safetensors) from PyTorch.

The service steps ``rnn`` (nn.LSTM / nn.GRU / nn.RNN, one direction, with
biases) and then ``head`` (nn.Linear on the top layer's h), so that is what
this exports. Two entry points:

    export_module(module, out_dir, features=[...], targets=[...], horizon=2, ...)
        for a module with ``rnn`` and ``head`` attributes;
    export_state_dict(state_dict, out_dir, cell="lstm", features=[...], ...)
        for a bare state_dict with the keys ``rnn.weight_ih_l0`` ... ``head.bias``.

From the command line (a file saved with ``torch.save`` holding a state_dict or
a whole module):

    python3 export_streamcell.py model.pt --out DIR --cell lstm \
        --features temp,humidity,light --targets temp,humidity --horizon 2 \
        [--scaler scaler.json] [--target-mode delta] [--name NAME] [--version V]

``scaler.json`` is ``{"mean": [...], "std": [...]}`` with one value per feature,
the statistics the model was trained on (inputs are fed as (x - mean) / std).

The safetensors file is written by hand (8-byte little-endian header length,
JSON header, raw little-endian float32 data), so only torch is needed.
"""

import argparse
import array
import json
import math
import os
import struct
import sys

import torch
from torch import nn

FORMAT = "streamcell/v1"
CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
CELL_OF_MODE = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}
TARGET_MODES = ("level", "delta")


class ExportError(ValueError):
    """The model or the settings cannot be expressed as a streamcell/v1 artifact."""


def _float32_bytes(tensor):
    # array('f') packs exactly the float32 values; byteswap keeps the file
    # little-endian on the rare big-endian host.
    values = array.array("f", tensor.detach().to("cpu", torch.float32).contiguous().flatten().tolist())
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()


def _replace_atomically(path, data):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_safetensors(path, tensors, metadata=None):
    """Write ``tensors`` (name -> tensor, in order) as float32 safetensors."""
    header = {}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        data = _float32_bytes(tensor)
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # pad so the data starts 8-byte aligned
    _replace_atomically(path, struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


def _expected_shapes(cell, input_size, hidden_size, num_layers, output_size):
    rows = GATES[cell] * hidden_size
    shapes = {}
    for k in range(num_layers):
        shapes["rnn.weight_ih_l%d" % k] = [rows, input_size if k == 0 else hidden_size]
        shapes["rnn.weight_hh_l%d" % k] = [rows, hidden_size]
        shapes["rnn.bias_ih_l%d" % k] = [rows]
        shapes["rnn.bias_hh_l%d" % k] = [rows]
    shapes["head.weight"] = [output_size, hidden_size]
    shapes["head.bias"] = [output_size]
    return shapes


def _normalise_scaler(scaler, n):
    if scaler is None:
        return None
    if isinstance(scaler, dict):
        mean, std = scaler.get("mean"), scaler.get("std")
    else:
        mean, std = scaler
    mean = [float(v) for v in (mean.tolist() if hasattr(mean, "tolist") else mean)]
    std = [float(v) for v in (std.tolist() if hasattr(std, "tolist") else std)]
    if len(mean) != n or len(std) != n:
        raise ExportError("scaler needs %d means and stds (one per feature), got %d and %d" % (n, len(mean), len(std)))
    for i, (m, s) in enumerate(zip(mean, std)):
        if not math.isfinite(m) or not math.isfinite(s) or s <= 0:
            raise ExportError("scaler entry %d: mean %r, std %r (need finite values and std > 0)" % (i, m, s))
    return {"mean": mean, "std": std}


def export_state_dict(state_dict, out_dir, *, cell, features, targets, horizon, name="model", version="1",
                      scaler=None, target_mode="level", metadata=None, weights_file="weights.safetensors"):
    """Write an artifact from a state_dict keyed ``rnn.*_l{k}`` and ``head.*``.

    Sizes are read off the tensors and checked against the settings, so a
    mismatch fails here rather than when the service loads the model.
    Returns the manifest written.
    """
    if cell not in CELLS:
        raise ExportError("cell must be one of %s, not %r" % (", ".join(CELLS), cell))
    if target_mode not in TARGET_MODES:
        raise ExportError("target_mode must be one of %s, not %r" % (", ".join(TARGET_MODES), target_mode))
    if not isinstance(horizon, int) or horizon < 1:
        raise ExportError("horizon must be a positive integer, not %r" % (horizon,))
    features, targets = [str(f) for f in features], [str(t) for t in targets]
    if len(set(features)) != len(features) or len(set(targets)) != len(targets):
        raise ExportError("features and targets must not repeat names")
    missing_targets = [t for t in targets if t not in features]
    if missing_targets:
        raise ExportError("targets %s are not among the features" % missing_targets)
    if "rnn.weight_hh_l0" not in state_dict or "rnn.weight_ih_l0" not in state_dict:
        raise ExportError("state_dict has no rnn.weight_ih_l0 / rnn.weight_hh_l0; keys: %s" % sorted(state_dict))
    hidden_size = state_dict["rnn.weight_hh_l0"].shape[1]
    input_size = state_dict["rnn.weight_ih_l0"].shape[1]
    num_layers = 0
    while "rnn.weight_ih_l%d" % num_layers in state_dict:
        num_layers += 1
    output_size = horizon * len(targets)
    if input_size != len(features):
        raise ExportError("rnn.weight_ih_l0 takes %d inputs but %d features are named" % (input_size, len(features)))

    expected = _expected_shapes(cell, input_size, hidden_size, num_layers, output_size)
    extra = sorted(set(state_dict) - set(expected))
    missing = [k for k in expected if k not in state_dict]
    if extra or missing:
        raise ExportError("state_dict does not fit a %d-layer %s with a linear head: missing %s, unexpected %s"
                          % (num_layers, cell, missing, extra))
    tensors = {}
    for key, shape in expected.items():
        tensor = state_dict[key].detach().to("cpu", torch.float32)
        if list(tensor.shape) != shape:
            raise ExportError("%s has shape %s, expected %s (cell %s, horizon %d x %d targets)"
                              % (key, list(tensor.shape), shape, cell, horizon, len(targets)))
        if not bool(torch.isfinite(tensor).all()):
            raise ExportError("%s holds NaN or infinite values" % key)
        tensors[key] = tensor

    manifest = {
        "format": FORMAT,
        "name": str(name),
        "version": str(version),
        "cell": cell,
        "inputSize": input_size,
        "hiddenSize": hidden_size,
        "numLayers": num_layers,
        "horizon": horizon,
        "features": features,
        "targets": targets,
        "outputSize": output_size,
        "scaler": _normalise_scaler(scaler, len(features)),
        "targetMode": target_mode,
        "weights": weights_file,
    }
    if metadata:
        manifest["metadata"] = metadata
    os.makedirs(out_dir, exist_ok=True)
    # Weights before manifest: a crash in between never leaves a manifest
    # pointing at a missing or half-written weights file.
    write_safetensors(os.path.join(out_dir, weights_file), tensors, {"source": "torch %s" % torch.__version__})
    _replace_atomically(os.path.join(out_dir, "model.json"), (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return manifest


def cell_of(rnn):
    """The streamcell cell name of an nn.LSTM / nn.GRU / nn.RNN, refusing variants the service cannot run."""
    if not isinstance(rnn, nn.RNNBase) or rnn.mode not in CELL_OF_MODE:
        raise ExportError("module.rnn must be nn.LSTM, nn.GRU or nn.RNN, not %s" % type(rnn).__name__)
    if rnn.bidirectional:
        raise ExportError("bidirectional RNNs cannot run on a stream (they need the future)")
    if getattr(rnn, "proj_size", 0):
        raise ExportError("LSTM proj_size is not supported")
    if not rnn.bias:
        raise ExportError("rnn must have biases (bias=True)")
    return CELL_OF_MODE[rnn.mode]


def export_module(module, out_dir, *, features, targets, horizon, **settings):
    """Write an artifact from a module with ``rnn`` and ``head`` (nn.Linear) attributes.

    ``settings`` are those of :func:`export_state_dict` (name, version, scaler,
    target_mode, metadata). A module with parameters besides rnn and head is
    refused: the service would silently skip whatever they compute.
    """
    cell = cell_of(module.rnn)
    if not isinstance(module.head, nn.Linear) or module.head.bias is None:
        raise ExportError("module.head must be an nn.Linear with a bias")
    state = module.state_dict()
    others = sorted(k for k in state if not (k.startswith("rnn.") or k.startswith("head.")))
    if others:
        raise ExportError("module has state outside rnn and head, which streamcell would not run: %s" % others)
    return export_state_dict(state, out_dir, cell=cell, features=features, targets=targets, horizon=horizon, **settings)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Export a PyTorch recurrent forecaster as a streamcell/v1 artifact.")
    parser.add_argument("checkpoint", help="file from torch.save: a state_dict, or a module with rnn and head")
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--cell", choices=CELLS, help="required for a state_dict; read from the module otherwise")
    parser.add_argument("--features", required=True, help="comma-separated input names, in input order")
    parser.add_argument("--targets", required=True, help="comma-separated forecast names (each also a feature)")
    parser.add_argument("--horizon", type=int, required=True, help="forecast steps per event")
    parser.add_argument("--scaler", help='JSON file {"mean": [...], "std": [...]}, one value per feature')
    parser.add_argument("--target-mode", choices=TARGET_MODES, default="level")
    parser.add_argument("--name", default="model")
    parser.add_argument("--version", default="1")
    args = parser.parse_args(argv)

    scaler = None
    if args.scaler:
        with open(args.scaler, encoding="utf-8") as f:
            scaler = json.load(f)
    # weights_only is not in torch 1.13; a checkpoint holding a whole module
    # needs full unpickling anyway, so only load files you trust.
    loaded = torch.load(args.checkpoint, map_location="cpu")
    settings = dict(features=[f.strip() for f in args.features.split(",")],
                    targets=[t.strip() for t in args.targets.split(",")], horizon=args.horizon,
                    name=args.name, version=args.version, scaler=scaler, target_mode=args.target_mode)
    try:
        if isinstance(loaded, nn.Module):
            manifest = export_module(loaded, args.out, **settings)
        else:
            if args.cell is None:
                parser.error("--cell is required when the checkpoint is a state_dict")
            manifest = export_state_dict(loaded, args.out, cell=args.cell, **settings)
    except ExportError as err:
        print("export_streamcell: %s" % err, file=sys.stderr)
        return 1
    print("wrote %s (%s, %d layer(s) x %d, horizon %d)" % (args.out, manifest["cell"], manifest["numLayers"],
                                                           manifest["hiddenSize"], manifest["horizon"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
