"""Record real Caffe 1.0's answers for the recurrent layers (RNN, LSTM, LSTMUnit).

    caffe-python3 tests/tools/record_real_caffe_recurrent.py [--out tests/data/real_caffe_layers]

Runs inside the Caffe chroot (pycaffe). For every case it writes ``<case>.prototxt`` (an
Input layer named ``input`` plus the layer under test, ``force_backward: true``) and
``<case>.npz`` with the key conventions of ../shared/caffe-reference (its README):
``meta/phase``, ``in/<blob>``, ``param/<layer>/<k>``, ``out/<blob>``, ``topdiff/<blob>``,
``indiff/<blob>`` (every input: Caffe leaves the exposed initial states' diffs untouched, so
they stay zero), ``paramdiff/<layer>/<k>``. Inputs and parameters are seeded random draws.

Cases with ``first/in/<blob>`` keys ran one forward on those inputs before the recorded
forward: without ``expose_hidden`` the layer starts from the state the previous forward left.
Cases with parameters also get ``<case>.caffemodel`` (``net.save`` right after the parameters
were set), so the tests load Caffe's own file through our Net.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "data", "real_caffe_layers")


def _recurrent(kind, num_output, expose=False):
    return (f"type: '{kind}' recurrent_param {{ num_output: {num_output} "
            f"expose_hidden: {'true' if expose else 'false'} }}")


# name: (layer text, {input: shape}, layer tops, cont pattern, run forward first?)
# cont patterns (T x N): 0 starts a sequence; a non-binary value tests the formulas as written.
CONT_4x3 = [[0, 0, 0], [1, 1, 1], [1, 0, 1], [1, 1, 1]]
CONT_5x2 = [[0, 0], [1, 1], [1, 0.5], [0, 1], [1, 1]]
CASES = {
    "rnn_basic": (_recurrent("RNN", 6), {"x": (4, 3, 5), "cont": (4, 3)}, ["h"], CONT_4x3, False),
    "rnn_static": (_recurrent("RNN", 4), {"x": (4, 3, 2, 3), "cont": (4, 3), "x_static": (3, 2, 2)},
                   ["h"], CONT_4x3, False),
    "rnn_expose": (_recurrent("RNN", 5, expose=True),
                   {"x": (5, 2, 3), "cont": (5, 2), "h0": (1, 2, 5)}, ["h", "hT"], CONT_5x2, False),
    "rnn_carry": (_recurrent("RNN", 4), {"x": (4, 3, 3), "cont": (4, 3)}, ["h"],
                  [[1, 0, 1], [1, 1, 1], [1, 1, 0], [1, 1, 1]], True),
    "lstm_basic": (_recurrent("LSTM", 4), {"x": (5, 2, 3), "cont": (5, 2)}, ["h"], CONT_5x2, False),
    "lstm_static": (_recurrent("LSTM", 3), {"x": (4, 3, 2, 2), "cont": (4, 3), "x_static": (3, 5)},
                    ["h"], CONT_4x3, False),
    "lstm_expose": (_recurrent("LSTM", 4, expose=True),
                    {"x": (5, 2, 3), "cont": (5, 2), "h0": (1, 2, 4), "c0": (1, 2, 4)},
                    ["h", "hT", "cT"], CONT_5x2, False),
    "lstm_expose_static": (_recurrent("LSTM", 3, expose=True),
                           {"x": (4, 3, 2), "cont": (4, 3), "x_static": (3, 4), "h0": (1, 3, 3),
                            "c0": (1, 3, 3)}, ["h", "hT", "cT"], CONT_4x3, False),
    "lstm_carry": (_recurrent("LSTM", 3), {"x": (4, 3, 3), "cont": (4, 3)}, ["h"],
                   [[1, 0, 1], [1, 1, 1], [1, 1, 0], [1, 1, 1]], True),
    "lstm_unit": ("type: 'LSTMUnit'", {"c_prev": (1, 6, 4), "gates": (1, 6, 16), "cont": (1, 6)},
                  ["c", "h"], [[0, 1, 1, 0.5, 1, 2]], False),
}


def prototxt(layer_text, inputs, tops):
    shapes = "".join(f" shape {{ {' '.join(f'dim: {d}' for d in s)} }}" for s in inputs.values())
    in_tops = "".join(f" top: '{n}'" for n in inputs)
    bottoms = "".join(f" bottom: '{n}'" for n in inputs)
    out_tops = "".join(f" top: '{n}'" for n in tops)
    return (f"name: 'case'\nforce_backward: true\n"
            f"layer {{ name: 'input' type: 'Input'{in_tops} input_param {{{shapes} }} }}\n"
            f"layer {{ name: 'layer'{bottoms}{out_tops} {layer_text} }}\n")


def draw_inputs(rng, inputs, cont):
    values = {}
    for name, shape in inputs.items():
        if name == "cont":
            values[name] = np.asarray(cont, np.float32).reshape(shape)
        else:
            values[name] = rng.uniform(-1, 1, size=shape).astype(np.float32)
    return values


def record(name, out_dir):
    import caffe

    layer_text, inputs, tops, cont, carry = CASES[name]
    text = prototxt(layer_text, inputs, tops)
    with open(os.path.join(out_dir, name + ".prototxt"), "w") as f:
        f.write(text)
    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as f:
        f.write(text)
    try:
        net = caffe.Net(f.name, caffe.TRAIN)
    finally:
        os.remove(f.name)
    rng = np.random.default_rng(sum(map(ord, name)))
    arrays = {"meta/phase": np.int32(0)}
    for k, blob in enumerate(net.params.get("layer", [])):
        blob.data[...] = rng.normal(0, 0.5, size=blob.data.shape)
        arrays[f"param/layer/{k}"] = blob.data.copy()
    if net.params.get("layer"):
        net.save(os.path.join(out_dir, name + ".caffemodel"))  # Caffe's own parameter layout
    if carry:
        first = draw_inputs(rng, inputs, cont)
        for n, v in first.items():
            net.blobs[n].data[...] = v
            arrays[f"first/in/{n}"] = v
        net.forward()
    values = draw_inputs(rng, inputs, cont)
    for n, v in values.items():
        net.blobs[n].data[...] = v
        arrays[f"in/{n}"] = v
    net.forward()
    for n in tops:
        arrays[f"out/{n}"] = net.blobs[n].data.copy()
    for n in inputs:
        net.blobs[n].diff[...] = 0
    for p in net.params.get("layer", []):
        p.diff[...] = 0
    for n in tops:
        d = rng.uniform(-1, 1, size=net.blobs[n].diff.shape).astype(np.float32)
        net.blobs[n].diff[...] = d
        arrays[f"topdiff/{n}"] = d
    net.backward()
    for n in inputs:
        if n != "cont":
            arrays[f"indiff/{n}"] = net.blobs[n].diff.copy()
    for k, blob in enumerate(net.params.get("layer", [])):
        arrays[f"paramdiff/layer/{k}"] = blob.diff.copy()
    np.savez(os.path.join(out_dir, name + ".npz"), **arrays)
    return sorted(arrays)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("cases", nargs="*", default=sorted(CASES))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for name in args.cases:
        keys = record(name, args.out)
        print(name, len(keys), "keys", file=sys.stderr)


if __name__ == "__main__":
    main()
