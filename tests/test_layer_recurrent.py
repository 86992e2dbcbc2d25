"""RNN, LSTM and LSTMUnit against real Caffe 1.0 and numeric gradients.

The fixtures (tests/data/real_caffe_layers/{rnn,lstm}_*.npz, written by
tests/tools/record_real_caffe_recurrent.py inside the Caffe chroot) hold real Caffe's
forward, backward and parameter diffs; cases with ``first/in/`` keys ran one forward before
(the state carried over between forwards). The gradient checks run in float64 with binary
``cont`` (Caffe's LSTMUnit backward is not the derivative for other values: the fixtures
cover those).
"""
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format

from caffe_compat.blob import Blob
from caffe_compat.errors import LayerSetupError
from caffe_compat.layer_types import create_layer
from caffe_compat.proto import caffe_pb2
from gradcheck import check_gradient, layer_from_text, make_blobs, params_to_float64

DATA = Path(__file__).resolve().parent / "data" / "real_caffe_layers"
CASES = sorted(p.stem for p in DATA.glob("*.npz") if p.stem.startswith(("rnn_", "lstm_")))


def build(case):
    """(layer, bottom blobs, top blobs, arrays) of a recorded case, after setup with its params."""
    net = text_format.Parse((DATA / f"{case}.prototxt").read_text(), caffe_pb2.NetParameter())
    with np.load(DATA / f"{case}.npz") as z:
        arrays = {k: z[k] for k in z.files}
    lp = net.layer[1]
    layer = create_layer(lp, int(arrays["meta/phase"]))
    bottom = [Blob(arrays[f"in/{n}"].shape, name=n) for n in lp.bottom]
    top = [Blob((), name=n) for n in lp.top]
    layer.check_blob_counts(bottom, top)
    layer.setup(bottom, top)
    for k, p in enumerate(layer.blobs):
        want = arrays[f"param/layer/{k}"]
        assert p.shape == want.shape, (case, k, p.shape, want.shape)
        p.data[...] = want
    return layer, bottom, top, arrays


def run(layer, bottom, top, arrays, prefix):
    for b in bottom:
        b.data[...] = arrays[f"{prefix}in/{b.name}"]
    layer.reshape(bottom, top)
    layer.forward(bottom, top)


def close(got, want, what):
    atol = max(1e-6, 1e-5 * float(np.max(np.abs(want)))) if want.size else 1e-6
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=atol, err_msg=what)


@pytest.mark.parametrize("case", CASES)
def test_equal_to_real_caffe(case):
    layer, bottom, top, arrays = build(case)
    if "first/in/x" in arrays:
        run(layer, bottom, top, arrays, "first/")
    run(layer, bottom, top, arrays, "")
    for t in top:
        close(t.data, arrays[f"out/{t.name}"], f"{case} out/{t.name}")
        t.diff[...] = arrays[f"topdiff/{t.name}"]
    layer.backward(top, [layer.allow_force_backward(i) for i in range(len(bottom))], bottom)
    checked = 0
    for b in bottom:
        key = f"indiff/{b.name}"
        if key in arrays:
            close(b.diff, arrays[key], f"{case} {key}")
            checked += 1
    for k, p in enumerate(layer.blobs):
        close(p.diff, arrays[f"paramdiff/layer/{k}"], f"{case} paramdiff {k}")
    assert checked >= 1


def test_fixtures_present():
    names = set(CASES)
    assert {"rnn_basic", "rnn_static", "rnn_expose", "rnn_carry", "lstm_basic", "lstm_static",
            "lstm_expose", "lstm_expose_static", "lstm_carry", "lstm_unit"} <= names


def test_state_carries_over_without_expose_hidden():
    """The carry cases start with cont = 1 for some streams: a fresh layer (zero state)
    must give another answer than real Caffe's, else the fixture would not test the carry."""
    for case in ("rnn_carry", "lstm_carry"):
        layer, bottom, top, arrays = build(case)
        run(layer, bottom, top, arrays, "")
        assert not np.allclose(top[0].data, arrays["out/h"], rtol=1e-4, atol=1e-4), case


def _cont(t, n):
    cont = np.ones((t, n))
    cont[0] = 0
    cont[t // 2, 0] = 0
    return cont


RNN = "type: 'RNN' name: 'r' recurrent_param { num_output: 3 %s }"
LSTM = "type: 'LSTM' name: 'l' recurrent_param { num_output: 3 %s }"
FILL = "weight_filler { type: 'uniform' min: -0.6 max: 0.6 } bias_filler { type: 'uniform' min: -0.5 max: 0.5 }"


@pytest.mark.parametrize("text", [RNN % FILL, LSTM % FILL])
@pytest.mark.parametrize("static", [False, True])
def test_numeric_gradients(text, static):
    rng = np.random.default_rng(5)
    arrays = [rng.uniform(-1, 1, (4, 2, 3)), _cont(4, 2)]
    if static:
        arrays.append(rng.uniform(-1, 1, (2, 2)))
    layer = layer_from_text(text)
    check_bottom = [0, 2] if static else [0]
    check_gradient(layer, arrays, check_bottom=check_bottom, threshold=1e-6)


def _numeric_top0_check(layer, arrays, h=1e-6):
    """Central differences of L = <top0, W> (exposed final-state tops do not backpropagate,
    as in Caffe) against backward, for x, x_static and every parameter."""
    rng = np.random.default_rng(1)
    bottom = make_blobs(arrays)
    exposed = len(layer.STATES)
    top = [Blob((), dtype=np.float64) for _ in range(1 + exposed)]
    layer.check_blob_counts(bottom, top)
    layer.setup(bottom, top)
    params_to_float64(layer)
    layer.reshape(bottom, top)
    layer.forward(bottom, top)
    w = rng.uniform(-1, 1, top[0].shape)

    def loss():
        layer.forward(bottom, top)
        return float(np.sum(top[0].data * w))

    loss()
    top[0].diff[...] = w
    for t in top[1:]:
        t.diff[...] = rng.uniform(-1, 1, t.shape)  # ignored, as in Caffe
    layer.backward(top, [True, False] + [True] * (len(bottom) - 2), bottom)
    state_diffs = [b.diff.copy() for b in bottom[len(bottom) - exposed:]]
    assert all(not d.any() for d in state_diffs), "exposed initial states get no diff (Caffe)"
    targets = [bottom[0]] + ([bottom[2]] if len(bottom) > 2 + exposed else []) + layer.blobs
    for blob in targets:
        flat, grad = blob.data.reshape(-1), blob.diff.reshape(-1).copy()
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + h
            lp = loss()
            flat[j] = orig - h
            lm = loss()
            flat[j] = orig
            numeric = (lp - lm) / (2 * h)
            assert abs(numeric - grad[j]) <= 1e-6 * max(1, abs(numeric)), (blob.name, j, numeric, grad[j])


@pytest.mark.parametrize("text,states", [(RNN, 1), (LSTM, 2)])
def test_numeric_gradients_expose_hidden(text, states):
    rng = np.random.default_rng(6)
    layer = layer_from_text(text % (FILL + " expose_hidden: true"))
    arrays = [rng.uniform(-1, 1, (3, 2, 2)), np.ones((3, 2)), rng.uniform(-1, 1, (2, 3))]
    arrays += [rng.uniform(-1, 1, (1, 2, 3)) for _ in range(states)]
    _numeric_top0_check(layer, arrays)


def test_lstm_unit_numeric_gradients():
    rng = np.random.default_rng(7)
    arrays = [rng.uniform(-1, 1, (1, 5, 3)), rng.uniform(-2, 2, (1, 5, 12)),
              np.array([[0, 1, 1, 0, 1]], float)]
    check_gradient(layer_from_text("type: 'LSTMUnit' name: 'u'"), arrays, num_top=2,
                   check_bottom=[0, 1], threshold=1e-6)


def test_param_shapes_are_caffes():
    x, cont, xs = Blob((5, 2, 3, 2)), Blob((5, 2)), Blob((2, 7))
    rnn = layer_from_text(RNN % "")
    rnn.setup([x, cont, xs], [Blob()])
    assert [b.shape for b in rnn.blobs] == [(3, 6), (3,), (3, 7), (3, 3), (3, 3), (3,)]
    lstm = layer_from_text(LSTM % "")
    lstm.setup([x, cont], [Blob()])
    assert [b.shape for b in lstm.blobs] == [(12, 6), (12,), (12, 3)]


@pytest.mark.parametrize("text,shapes,tops,match", [
    (RNN % "", [(4, 2, 3), (4, 3)], 1, r"cont.*bottom1: 4 3 \(12\)"),
    (RNN % "", [(4,), (4, 1)], 1, "at least 2 axes"),
    ("type: 'RNN' name: 'r' recurrent_param { }", [(4, 2, 3), (4, 2)], 1, "num_output must be positive"),
    (LSTM % "expose_hidden: true", [(4, 2, 3), (4, 2), (1, 2, 3), (1, 2, 4)], 3, r"bottom 3\) must be \(1, 2, 3\)"),
    (LSTM % "", [(4, 2, 3), (4, 2), (3, 5)], 1, "static input"),
    ("type: 'LSTMUnit' name: 'u'", [(1, 2, 3), (1, 2, 11), (1, 2)], 2, "4 \\* H = 12"),
])
def test_bad_shapes_are_clear_errors(text, shapes, tops, match):
    layer = layer_from_text(text)
    bottom, top = [Blob(s) for s in shapes], [Blob() for _ in range(tops)]
    with pytest.raises(LayerSetupError, match=match):
        layer.check_blob_counts(bottom, top)
        layer.setup(bottom, top)
        layer.reshape(bottom, top)


def test_blob_counts_follow_expose_hidden():
    layer = layer_from_text(LSTM % "expose_hidden: true")
    with pytest.raises(LayerSetupError, match="at least 4 bottom"):
        layer.check_blob_counts([Blob((2, 1, 3)), Blob((2, 1))], [Blob()] * 3)
    with pytest.raises(LayerSetupError, match="exactly 3 top"):
        layer.check_blob_counts([Blob((2, 1, 3)), Blob((2, 1)), Blob(), Blob()], [Blob()])


def test_lstm_in_a_net_and_export_onnx_names_the_layer(tmp_path):
    import caffe_compat as caffe
    from caffe_compat.onnx_export import ExportError, export_onnx

    param = text_format.Parse("""
      layer { name: "in" type: "Input" top: "x" top: "cont"
              input_param { shape { dim: 3 dim: 2 dim: 4 } shape { dim: 3 dim: 2 } } }
      layer { name: "lstm1" type: "LSTM" bottom: "x" bottom: "cont" top: "h"
              recurrent_param { num_output: 5 weight_filler { type: "gaussian" std: 0.3 } } }
    """, caffe_pb2.NetParameter())
    net = caffe.Net(param, caffe.TRAIN)
    net.blobs["x"].data[...] = np.random.default_rng(0).uniform(-1, 1, (3, 2, 4))
    net.forward()
    assert net.blobs["h"].data.shape == (3, 2, 5) and np.abs(net.blobs["h"].data).max() > 0
    with pytest.raises(ExportError, match="Layer 'lstm1': type 'LSTM' cannot be exported"):
        export_onnx(net, str(tmp_path / "m.onnx"), outputs=["h"])


@pytest.mark.parametrize("case", [c for c in CASES if (DATA / f"{c}.caffemodel").exists()
                                  and not c.endswith("_carry")])
def test_caffes_caffemodel_loads_and_the_net_matches(case):
    """Real Caffe's own .caffemodel of the case (its parameter order and shapes) through our
    Net: forward and backward equal to Caffe's."""
    import caffe_compat as caffe

    with np.load(DATA / f"{case}.npz") as z:
        arrays = {k: z[k] for k in z.files}
    net = caffe.Net(str(DATA / f"{case}.prototxt"), str(DATA / f"{case}.caffemodel"), caffe.TRAIN)
    for k, p in enumerate(net.params["layer"]):
        np.testing.assert_array_equal(p.data, arrays[f"param/layer/{k}"])
    for key, value in arrays.items():
        if key.startswith("in/"):
            net.blobs[key[3:]].data[...] = value
    net.forward()
    for key, value in arrays.items():
        if key.startswith("topdiff/"):
            close(net.blobs[key[8:]].data, arrays["out/" + key[8:]], f"{case} {key}")
            net.blobs[key[8:]].diff[...] = value
    net.backward()
    for key, value in arrays.items():
        if key.startswith("indiff/"):
            close(net.blobs[key[7:]].diff, value, f"{case} {key}")
        elif key.startswith("paramdiff/"):
            close(net.params["layer"][int(key.rsplit("/", 1)[1])].diff, value, f"{case} {key}")
