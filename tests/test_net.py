"""The Net on its own: Caffe's wiring rules, gradients through splits, errors, pycaffe surface.

Most nets here are built from Input/Split/Silence and the small Python layers of
net_pylayers.py, so they test the Net and not the compute layers; gradients are checked
against central differences of the net's own loss in float64.
"""
import os
import sys

import numpy as np
import pytest
from google.protobuf import text_format

import caffe_compat as caffe
from caffe_compat.errors import CaffeError, LayerSetupError, NetError
from caffe_compat.proto import caffe_pb2

sys.path.insert(0, os.path.dirname(__file__))  # net_pylayers, for python_param.module
from conftest import ORIGINAL, need  # noqa: E402
from original_nets import swap_data_layers  # noqa: E402


def parse(text):
    return text_format.Parse(text, caffe_pb2.NetParameter())


def build(text, phase=caffe.TEST, **kw):
    return caffe.Net(parse(text), phase, **kw)


def py(name, cls, bottoms, tops, extra="", param_str=""):
    b = " ".join(f'bottom: "{x}"' for x in bottoms)
    t = " ".join(f'top: "{x}"' for x in tops)
    return (f'layer {{ name: "{name}" type: "Python" {b} {t} {extra} '
            f'python_param {{ module: "net_pylayers" layer: "{cls}" param_str: "{param_str}" }} }}\n')


def inp(tops_shapes):
    tops = " ".join(f'top: "{n}"' for n, _ in tops_shapes)
    shapes = " ".join("shape { " + " ".join(f"dim: {d}" for d in s) + " }" for _, s in tops_shapes)
    return f'layer {{ name: "input" type: "Input" {tops} input_param {{ {shapes} }} }}\n'


def to_float64(net):
    for blob in list(net.blobs.values()) + [p for ps in net.params.values() for p in ps]:
        blob.data = blob.data.astype(np.float64)
        blob.diff = blob.diff.astype(np.float64)


def numeric_check(net, arrays, step=1e-6, tol=1e-6):
    """d(loss)/d(array) by central differences vs the diffs after one backward."""
    net.clear_param_diffs()
    net.forward_backward()
    analytic = [blob.diff.copy() for blob in arrays]
    for blob, grad in zip(arrays, analytic):
        flat = blob.data.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + step
            lp = net.forward_from_to(0, len(net.layers) - 1)
            flat[j] = orig - step
            lm = net.forward_from_to(0, len(net.layers) - 1)
            flat[j] = orig
            numeric = (lp - lm) / (2 * step)
            a = grad.reshape(-1)[j]
            assert abs(a - numeric) <= tol * max(abs(a), abs(numeric), 1.0), (blob.name, j, a, numeric)


# ------------------------------------------------------------------------------ filtering
RULES = inp([("x", (2, 3))]) + """
layer { name: "train_only" type: "Silence" bottom: "x" include { phase: TRAIN } }
layer { name: "not_train" type: "Silence" bottom: "x" exclude { phase: TRAIN } }
layer { name: "level2" type: "Silence" bottom: "x" include { min_level: 2 } }
layer { name: "upto1" type: "Silence" bottom: "x" include { max_level: 1 } }
layer { name: "stage_ab" type: "Silence" bottom: "x" include { stage: "a" stage: "b" } }
layer { name: "not_b" type: "Silence" bottom: "x" include { not_stage: "b" } }
layer { name: "either" type: "Silence" bottom: "x" include { stage: "a" } include { phase: TEST } }
layer { name: "own_phase" type: "Silence" bottom: "x" phase: TRAIN }
"""


def kept(net):
    return [n for n in net.layer_names if n != "input" and "_split" not in n]


def test_include_exclude_rules():
    assert kept(build(RULES, caffe.TRAIN)) == ["train_only", "upto1", "not_b", "own_phase"]
    assert kept(build(RULES, caffe.TEST)) == ["not_train", "upto1", "not_b", "either", "own_phase"]
    assert kept(build(RULES, caffe.TRAIN, level=2, stages=["a"])) == [
        "train_only", "level2", "not_b", "either", "own_phase"]
    assert kept(build(RULES, caffe.TRAIN, stages=["a", "b"])) == [
        "train_only", "upto1", "stage_ab", "either", "own_phase"]
    net = build(RULES, caffe.TEST)
    own = net.layers[net.layer_names.index("own_phase")]
    assert own.phase == caffe.TRAIN and net.layers[-2].phase == caffe.TEST


def test_include_and_exclude_together_refused():
    with pytest.raises(NetError, match="'bad'.*include rules or exclude rules"):
        build(inp([("x", (1,))]) + 'layer { name: "bad" type: "Silence" bottom: "x" '
              "include { phase: TEST } exclude { phase: TRAIN } }")


# --------------------------------------------------------------------- splits and gradients
SPLIT_NET = 'force_backward: true\n' + inp([("x", (2, 3))]) \
    + py("a", "Scale", ["x"], ["a"], param_str="1") \
    + py("b", "Scale", ["x"], ["b"], param_str="2") \
    + py("c", "Scale", ["a"], ["c"], param_str="3") \
    + py("la", "HalfSquare", ["a"], ["la"], "loss_weight: 0.5") \
    + py("lb", "HalfSquare", ["b"], ["lb"], "loss_weight: 2") \
    + py("lc", "HalfSquare", ["c"], ["lc"], "loss_weight: 1")


def test_split_names_and_wiring():
    net = build(SPLIT_NET)
    assert net.layer_names == ["input", "x_input_0_split", "a", "a_a_0_split", "b", "c", "la", "lb", "lc"]
    assert net.top_names["x_input_0_split"] == ["x_input_0_split_0", "x_input_0_split_1"]
    assert net.bottom_names["b"] == ["x_input_0_split_1"]
    assert net.bottom_names["c"] == ["a_a_0_split_0"] and net.bottom_names["la"] == ["a_a_0_split_1"]
    assert net.inputs == ["x"] and net.outputs == ["la", "lb", "lc"]
    assert net.layers[1].type == "Split"
    assert list(net.params) == ["a", "b", "c"]


def test_split_gradients_are_summed():
    net = build(SPLIT_NET)
    to_float64(net)
    net.blobs["x"].data[...] = np.random.default_rng(0).normal(size=(2, 3))
    numeric_check(net, [net.blobs["x"]] + net.learnable_params)
    # the net loss is the weighted sum of the loss tops
    loss = net.forward_from_to(0, len(net.layers) - 1)
    want = 0.5 * net.blobs["la"].data + 2 * net.blobs["lb"].data + net.blobs["lc"].data
    assert loss == pytest.approx(float(want), rel=1e-12)


def test_loss_top_consumed_elsewhere_gets_split_with_weight():
    text = inp([("x", (2, 3))]) + py("a", "Scale", ["x"], ["a"], param_str="1") \
        + py("l", "HalfSquare", ["a"], ["l"], "loss_weight: 3") \
        + py("d", "Double", ["l"], ["d"]) + py("ld", "HalfSquare", ["d"], ["ld"], "loss_weight: 1")
    net = build(text)
    split = net.layer_names.index("l_l_0_split")
    assert net.top_names["l_l_0_split"] == ["l_l_0_split_0", "l_l_0_split_1"]
    assert net.blob_loss_weights["l_l_0_split_0"] == 3 and net.blob_loss_weights["l"] == 0
    assert list(net.layers[split].layer_param.loss_weight) == [3, 0]
    assert net.bottom_names["d"] == ["l_l_0_split_1"]
    to_float64(net)
    net.blobs["x"].data[...] = np.random.default_rng(1).normal(size=(2, 3))
    numeric_check(net, net.learnable_params)


def test_in_place_layers():
    text = "force_backward: true\n" + inp([("x", (2, 3))]) + py("a", "Scale", ["x"], ["a"], param_str="4") \
        + py("d1", "Double", ["a"], ["a"]) + py("d2", "Double", ["a"], ["a"]) \
        + py("l", "HalfSquare", ["a"], ["l"], "loss_weight: 1")
    net = build(text)
    assert list(net.blobs) == ["x", "a", "l"]
    assert net.top_names["d1"] == ["a"] and net.bottom_names["d2"] == ["a"]
    x = np.random.default_rng(2).normal(size=(2, 3)).astype(np.float32)
    out = net.forward(x=x)
    np.testing.assert_allclose(net.blobs["a"].data, 4 * x * net.params["a"][0].data, rtol=1e-6)
    assert set(out) == {"l"}
    to_float64(net)
    net.blobs["x"].data[...] = x
    numeric_check(net, [net.blobs["x"]] + net.learnable_params)


def test_loss_weight_defaults_and_diffs():
    text = inp([("x", (2, 3))]) + py("a", "Scale", ["x"], ["a"], param_str="1") \
        + py("implicit", "HalfSquareLoss", ["a"], ["l1"]) \
        + py("plain", "HalfSquare", ["a"], ["l2"]) \
        + py("weighted", "HalfSquare", ["a"], ["l3"], "loss_weight: 0.25")
    net = build(text)
    assert net.blob_loss_weights["l1"] == 1 and net.blob_loss_weights["l2"] == 0
    assert net.blob_loss_weights["l3"] == 0.25
    assert net.blobs["l1"].diff == 1 and net.blobs["l3"].diff == np.float32(0.25)
    assert list(net.layers[net.layer_names.index("implicit")].layer_param.loss_weight) == [1]
    net.blobs["x"].data[...] = 1
    loss = net.forward_from_to(0, len(net.layers) - 1)
    assert loss == pytest.approx(float(net.blobs["l1"].data + 0.25 * net.blobs["l3"].data), rel=1e-6)
    # "plain" does not reach a loss: no backward for it
    assert not net.layer_need_backward[net.layer_names.index("plain")]


def test_loss_weight_count_must_match_tops():
    with pytest.raises(NetError, match="'l'.*loss_weight must be unspecified or specified once per top"):
        build(inp([("x", (2,))]) + py("l", "HalfSquare", ["x"], ["l"], "loss_weight: 1 loss_weight: 2"))


# ------------------------------------------------------------------------ need-backward
def test_backward_rules_and_force_backward():
    body = inp([("x", (2, 3)), ("y", (2, 3))]) + py("d", "Double", ["x"], ["d"]) \
        + py("a", "Scale", ["d"], ["a"], param_str="1") \
        + py("l", "DotLabelLoss", ["a", "y"], ["l"])
    net = build(body)
    i = net.layer_names.index
    assert net.layer_need_backward[i("d")] is False  # no parameters below it
    assert net.layer_need_backward[i("a")] and net.bottom_need_backward[i("a")] == [False]
    assert net.bottom_need_backward[i("l")] == [True, False]
    net.forward(x=np.ones((2, 3)), y=np.full((2, 3), 3.0))
    diffs = net.backward()
    assert set(diffs) == {"x", "y"} and not diffs["x"].any()
    np.testing.assert_allclose(net.params["a"][0].diff, 2 * 3 * 2 * np.ones(3))

    forced = build("force_backward: true\n" + body)
    assert all(forced.layer_need_backward)
    # force_backward never reaches a bottom the layer does not allow (the label)
    assert forced.bottom_need_backward[i("l")] == [True, False]
    forced.forward(x=np.ones((2, 3)), y=np.full((2, 3), 3.0))
    forced.backward()
    w = forced.params["a"][0].data
    np.testing.assert_allclose(forced.blobs["x"].diff, np.broadcast_to(2 * 3 * w, (2, 3)), rtol=1e-6)
    assert not forced.blobs["y"].diff.any()


def test_propagate_down_false_blocks_gradient():
    text = "force_backward: true\n" + inp([("x", (2, 3))]) + py("a", "Scale", ["x"], ["a"], param_str="1") \
        + py("d", "Double", ["a"], ["d"], "propagate_down: false") \
        + py("l", "HalfSquare", ["d"], ["l"], "loss_weight: 1")
    net = build(text)
    assert net.bottom_need_backward[net.layer_names.index("d")] == [True]  # force_backward wins
    net2 = build(text.replace("force_backward: true", ""))
    i = net2.layer_names.index
    assert net2.bottom_need_backward[i("d")] == [False]
    assert not net2.layer_need_backward[i("a")]  # nothing reaches it
    net2.forward(x=np.ones((2, 3)))
    net2.backward()
    assert not net2.params["a"][0].diff.any()


def test_frozen_parameter_gets_no_diff():
    text = "force_backward: false\n" + inp([("x", (2, 3))]) + py("a", "Scale", ["x"], ["a"], param_str="1") \
        + py("b", "Scale", ["a"], ["b"], "param { lr_mult: 0 }", param_str="2") \
        + py("l", "HalfSquare", ["b"], ["l"], "loss_weight: 1")
    net = build(text)
    assert net.params_lr == [1.0, 0.0]
    assert net.layer_need_backward[net.layer_names.index("b")]  # "a" below needs its gradient
    net.forward(x=np.ones((2, 3)))
    net.backward()
    assert not net.params["b"][0].diff.any() and net.params["a"][0].diff.any()


def test_label_backprop_refused_clearly():
    text = inp([("x", (2, 3))]) + py("a", "Scale", ["x"], ["a"], param_str="1") \
        + py("t", "Scale", ["x"], ["t"], param_str="2") \
        + py("l", "DotLabelLoss", ["a", "t"], ["l"])
    net = build(text)
    net.forward()  # forward is fine, as in Caffe
    with pytest.raises(NetError, match=r"Layer 'l' \(Python\) cannot back-propagate to its label/target input "
                                       r"\(bottom 1, 't'\).*lr_mult: 0"):
        net.backward()
    assert net.backward_refusal() is not None
    frozen = build(text.replace('name: "t" type: "Python" bottom: "x" top: "t"',
                                'name: "t" type: "Python" bottom: "x" top: "t" param { lr_mult: 0 }'))
    assert frozen.backward_refusal() is None
    frozen.forward()
    frozen.backward()


# ----------------------------------------------------------------------------- sharing
def test_parameter_sharing():
    text = inp([("x", (2, 3))]) \
        + py("a", "Scale", ["x"], ["a"], 'param { name: "w" lr_mult: 2 decay_mult: 0 }', param_str="1") \
        + py("b", "Scale", ["a"], ["b"], 'param { name: "w" }', param_str="2") \
        + py("l", "HalfSquare", ["b"], ["l"], "loss_weight: 1")
    net = build(text)
    assert len(net.learnable_params) == 1
    assert net.params["a"][0] is net.params["b"][0] is net.learnable_params[0]
    assert net.params_lr == [2.0] and net.params_weight_decay == [0.0]
    to_float64(net)
    net.blobs["x"].data[...] = np.random.default_rng(3).normal(size=(2, 3))
    numeric_check(net, net.learnable_params)  # both uses accumulate into the one diff


def test_sharing_shape_mismatch_and_lr_conflict():
    base = inp([("x", (2, 3)), ("z", (2, 4))]) \
        + py("a", "Scale", ["x"], ["a"], 'param { name: "w" lr_mult: 1 }', param_str="1")
    with pytest.raises(LayerSetupError, match=r"Layer 'b' param 0 shares 'w'.*'a'.*this: 4 \(4\), owner: 3 \(3\)"):
        build(base + py("b", "Scale", ["z"], ["b"], 'param { name: "w" }'))
    with pytest.raises(NetError, match="Shared param 'w' has mismatched lr_mult"):
        build(base + py("b", "Scale", ["x"], ["b"], 'param { name: "w" lr_mult: 3 }'))


# ------------------------------------------------------------------------------- errors
def test_unknown_bottom():
    with pytest.raises(NetError, match=r"Unknown bottom blob 'nope' \(layer 's', bottom index 1\)"):
        build(inp([("x", (1,))]) + 'layer { name: "s" type: "Silence" bottom: "x" bottom: "nope" }')


def test_unknown_layer_type_names_layer_and_type():
    with pytest.raises(NetError, match="Layer 'odd': unknown layer type 'NoSuchType'"):
        build(inp([("x", (1,))]) + 'layer { name: "odd" type: "NoSuchType" bottom: "x" top: "y" }')


def test_duplicate_top_and_bad_propagate_down():
    with pytest.raises(NetError, match="Top blob 'x' produced by multiple sources"):
        build(inp([("x", (1,))]) + inp([("x", (1,))]).replace('"input"', '"input2"'))
    with pytest.raises(NetError, match="'s': propagate_down must be specified"):
        build(inp([("x", (1,))]) + 'layer { name: "s" type: "Silence" bottom: "x" propagate_down: true '
              "propagate_down: false }")


def test_python_layer_errors():
    with pytest.raises(NetError, match="Layer 'p' \\(Python\\): cannot import python_param.module 'no_such_mod'"):
        build(inp([("x", (1,))]) + 'layer { name: "p" type: "Python" bottom: "x" top: "y" '
              'python_param { module: "no_such_mod" layer: "X" } }')
    with pytest.raises(NetError, match="Layer 'p' \\(Python\\): module 'net_pylayers' has no class 'Nope'"):
        build(inp([("x", (1,))]) + py("p", "Nope", ["x"], ["y"]))
    with pytest.raises(NetError, match="must be a subclass of caffe_compat.Layer"):
        build(inp([("x", (1,))]) + py("p", "NotALayer", ["x"], ["y"]))


def test_input_layer_shape_count():
    with pytest.raises(LayerSetupError, match="'input'.*0, 1 or 3"):
        build('layer { name: "input" type: "Input" top: "a" top: "b" top: "c" '
              "input_param { shape { dim: 1 } shape { dim: 2 } } }")
    net = build('layer { name: "input" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 dim: 5 } } }')
    assert net.blobs["a"].shape == net.blobs["b"].shape == (2, 5)


# -------------------------------------------------------------------- weights and pycaffe
WEIGHTED = inp([("x", (2, 3))]) + py("a", "Scale", ["x"], ["a"], param_str="1") \
    + py("b", "Scale", ["a"], ["b"], param_str="2") + py("l", "HalfSquare", ["b"], ["l"], "loss_weight: 1")


def test_copy_from_shape_mismatch_names_layer_and_shapes(tmp_path):
    net = build(WEIGHTED)
    bad = caffe_pb2.NetParameter()
    layer = bad.layer.add(name="b", type="Python")
    layer.blobs.add(data=[1, 2, 3, 4]).shape.dim.extend([4])
    with pytest.raises(LayerSetupError, match=r"layer 'b'.*Source param shape is 4 \(4\); target param shape is 3 \(3\)"):
        net.copy_from(bad)
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(bad.SerializeToString())
    with pytest.raises(LayerSetupError, match=r"bad.caffemodel"):
        net.copy_from(str(path))
    del layer.blobs[:]
    with pytest.raises(LayerSetupError, match="Incompatible number of blobs for layer 'b'"):
        net.copy_from(bad)


def test_copy_from_legacy_4d_blob():
    net = build(WEIGHTED)
    src = caffe_pb2.NetParameter()
    blob = src.layer.add(name="a").blobs.add(num=1, channels=1, height=1, width=3, data=[7, 8, 9])
    assert not blob.HasField("shape")
    net.copy_from(src)
    np.testing.assert_array_equal(net.params["a"][0].data, [7, 8, 9])
    src.layer[0].blobs[0].width = 2
    with pytest.raises(LayerSetupError, match="layer 'a'"):
        net.copy_from(src)


def test_load_model_weights_script(tmp_path):
    """The original load_model_weights.py idea: load a net with canonically named layers,
    copy its weights into a net whose layers carry custom names, save, reload."""
    teacher_proto = tmp_path / "teacher.prototxt"
    teacher_proto.write_text(WEIGHTED)
    renamed = WEIGHTED.replace('name: "a"', 'name: "a_teacher"').replace('name: "b"', 'name: "b_teacher"')
    student_proto = tmp_path / "renamed.prototxt"
    student_proto.write_text(renamed)
    weights = tmp_path / "teacher.caffemodel"
    caffe.Net(str(teacher_proto), caffe.TEST).save(str(weights))

    script = f"""
import caffe_compat as caffe
caffe.set_mode_cpu()
old = caffe.Net({str(teacher_proto)!r}, {str(weights)!r}, caffe.TEST)
new = caffe.Net({str(student_proto)!r}, caffe.TEST)
mapping = {{'a': 'a_teacher', 'b': 'b_teacher'}}
for src, dst in mapping.items():
    for k in range(len(old.params[src])):
        new.params[dst][k].data[...] = old.params[src][k].data
new.save({str(tmp_path / "renamed.caffemodel")!r})
"""
    exec(compile(script, "load_model_weights.py", "exec"), {})
    old = caffe.Net(str(teacher_proto), caffe.TEST, weights=str(weights))
    new = caffe.Net(str(student_proto), str(tmp_path / "renamed.caffemodel"), caffe.TEST)
    for src, dst in (("a", "a_teacher"), ("b", "b_teacher")):
        np.testing.assert_array_equal(new.params[dst][0].data, old.params[src][0].data)
    saved = caffe_pb2.NetParameter.FromString((tmp_path / "renamed.caffemodel").read_bytes())
    assert [l.name for l in saved.layer] == new.layer_names
    assert list(saved.layer[1].blobs[0].shape.dim) == [3]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


def test_pycaffe_forward_backward_surface():
    net = build("force_backward: true\n" + WEIGHTED)
    calls = []
    net.before_forward(lambda i: calls.append(("f", i)))
    net.after_forward(lambda i: calls.append(("F", i)))
    net.before_backward(lambda i: calls.append(("b", i)))
    net.after_backward(lambda i: calls.append(("B", i)))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = net.forward(x=x)
    assert list(out) == ["l"] and out["l"] is net.blobs["l"].data
    assert calls == [("f", 0), ("F", 0), ("f", 1), ("F", 1), ("f", 2), ("F", 2), ("f", 3), ("F", 3)]
    calls.clear()
    d = net.backward()
    assert [c for c in calls if c[0] == "b"] == [("b", 3), ("b", 2), ("b", 1), ("b", 0)]
    assert list(d) == ["x"]
    # start/end by layer name
    out = net.forward(start="b", end="b")
    assert list(out) == ["b"]
    out = net.forward(end="a", blobs=["x"])
    assert set(out) == {"a", "x"}
    d = net.backward(l=np.float32(2.0))
    assert net.blobs["l"].diff == 2
    with pytest.raises(CaffeError, match="not an input"):
        net.forward(a=x)
    with pytest.raises(CaffeError, match="reshape"):
        net.forward(x=np.zeros((5, 3)))
    net.blobs["x"].reshape(5, 3)
    net.reshape()
    assert net.blobs["b"].shape == (5, 3)
    assert net._layer_names == net.layer_names and net.layers[1].type == "Python"
    assert net.layers[1].blobs[0] is net.params["a"][0]


def test_legacy_net_inputs():
    net = build('input: "data" input_dim: 1 input_dim: 2 input_dim: 3 input_dim: 4 '
                'input: "b" input_dim: 1 input_dim: 1 input_dim: 1 input_dim: 6 '
                'layer { name: "s" type: "Silence" bottom: "data" bottom: "b" }')
    assert net.inputs == ["data", "b"] and net.blobs["data"].shape == (1, 2, 3, 4)
    assert net.blobs["b"].shape == (1, 1, 1, 6) and net.layer_names[0] == "input"
    net = build('input: "v" input_shape { dim: 5 } layer { name: "s" type: "Silence" bottom: "v" }')
    assert net.blobs["v"].shape == (5,)


def test_share_trained_layers_with():
    train = build(WEIGHTED, caffe.TRAIN)
    test = build(WEIGHTED, caffe.TEST)
    test.share_trained_layers_with(train)
    train.params["a"][0].data[...] = 42
    assert (test.params["a"][0].data == 42).all()
    assert test.params["a"][0].diff is not train.params["a"][0].diff


def test_nin_teacher_student_backward_refused():
    """Caffe refuses this net: its teacher has lr_mult 1, so SigmoidCrossEntropyLoss would have
    to back-propagate into its target (the teacher's probabilities)."""
    path = need(ORIGINAL / "cifar10" / "models" / "ts_cifar10_nin.prototxt")
    net = caffe.Net(swap_data_layers(path, batch=2), caffe.TRAIN)
    net.forward()
    with pytest.raises(NetError, match=r"Layer 'ts_loss' \(SigmoidCrossEntropyLoss\) cannot back-propagate "
                                       r"to its label/target input \(bottom 1, 'sm_t_1'\)"):
        net.backward()


def test_set_input_arrays_feeds_memory_data():
    net = build('layer { name: "m" type: "MemoryData" top: "data" top: "label" '
                "memory_data_param { batch_size: 2 channels: 1 height: 1 width: 3 } }")
    data = np.arange(12, dtype=np.float32).reshape(4, 1, 1, 3)
    net.set_input_arrays(data, np.arange(4, dtype=np.float32))
    net.forward()
    net.forward()
    np.testing.assert_array_equal(net.blobs["data"].data, data[2:])
    with pytest.raises(NetError, match="first layer is a MemoryData"):
        build(WEIGHTED).set_input_arrays(data, np.zeros(4, np.float32))
