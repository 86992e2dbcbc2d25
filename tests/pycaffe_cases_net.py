"""pycaffe cases: Net views, batches, HDF5, levels/stages, draw's graphs and the solver classes;
see pycaffe_cases.py."""
import numpy as np

from pycaffe_cases_netspec import _lenet


# --------------------------------------------------------------------------------- net API
SIMPLE_NET = """name: 'testnet' force_backward: true
layer { type: 'DummyData' name: 'data' top: 'data' top: 'label'
  dummy_data_param { num: 5 channels: 2 height: 3 width: 4
    num: 5 channels: 1 height: 1 width: 1
    data_filler { type: 'gaussian' std: 1 }
    data_filler { type: 'constant' } } }
layer { type: 'Convolution' name: 'conv' bottom: 'data' top: 'conv'
  convolution_param { num_output: 11 kernel_size: 2 pad: 3
    weight_filler { type: 'gaussian' std: 1 }
    bias_filler { type: 'constant' value: 2 } }
    param { decay_mult: 1 } param { decay_mult: 0 } }
layer { type: 'InnerProduct' name: 'ip' bottom: 'conv' top: 'ip_blob'
  inner_product_param { num_output: 13
    weight_filler { type: 'gaussian' std: 2.5 }
    bias_filler { type: 'constant' value: -3 } } }
layer { type: 'SoftmaxWithLoss' name: 'loss' bottom: 'ip_blob' bottom: 'label' top: 'loss' }
"""

# An Input net with constant weights: forward_all over 7 images in batches of 3.
BATCH_NET = """name: 'batchnet' force_backward: true
layer { type: 'Input' name: 'data' top: 'data' input_param { shape { dim: 3 dim: 2 dim: 2 dim: 2 } } }
layer { type: 'InnerProduct' name: 'ip' bottom: 'data' top: 'ip'
  inner_product_param { num_output: 3 weight_filler { type: 'constant' value: 0.25 }
    bias_filler { type: 'constant' value: 1 } } }
layer { type: 'ReLU' name: 'relu' bottom: 'ip' top: 'ip' }
layer { type: 'Sigmoid' name: 'prob' bottom: 'ip' top: 'prob' }
"""


def _write(tmpdir, name, text):
    import os

    path = os.path.join(tmpdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def net_results(caffe, tmpdir):
    out = {}
    net = caffe.Net(_write(tmpdir, "simple.prototxt", SIMPLE_NET), caffe.TRAIN)
    out["simple"] = {
        "layer_names": list(net._layer_names), "blob_names": list(net.blobs.keys()),
        "layer_types": [layer.type for layer in net.layers],
        "inputs": list(net.inputs), "outputs": list(net.outputs),
        "_inputs": list(net._inputs), "_outputs": list(net._outputs),
        "top_names": [[k, list(v)] for k, v in net.top_names.items()],
        "bottom_names": [[k, list(v)] for k, v in net.bottom_names.items()],
        "blob_loss_weights": [[k, float(v)] for k, v in net.blob_loss_weights.items()],
        "params": [[k, [list(b.data.shape) for b in v]] for k, v in net.params.items()],
        "blob_shapes": [[k, list(b.data.shape)] for k, b in net.blobs.items()],
        "legacy_dims": [[b.num, b.channels, b.height, b.width, b.count] for b in net.blobs.values()],
    }
    h5 = _write(tmpdir, "simple.h5", "")
    net.save_hdf5(h5)
    try:
        import h5py

        with h5py.File(h5, "r") as f:
            layout = []
            f.visititems(lambda name, obj: layout.append(
                [name, list(obj.shape) if hasattr(obj, "shape") else None,
                 str(obj.dtype) if hasattr(obj, "dtype") else None]))
        out["hdf5_layout"] = layout
    except ImportError:
        pass
    bnet = caffe.Net(_write(tmpdir, "batch.prototxt", BATCH_NET), caffe.TEST)
    data = np.arange(7 * 8, dtype=np.float32).reshape(7, 2, 2, 2) / 10.0 - 2
    res = bnet.forward_all(blobs=["ip"], data=data)
    out["forward_all"] = {k: [list(v.shape), v.ravel().tolist()] for k, v in sorted(res.items())}
    outs, diffs = bnet.forward_backward_all(blobs=["ip"], diffs=["ip"], data=data,
                                            prob=np.ones((7, 3), dtype=np.float32))
    out["forward_backward_all"] = [{k: [list(v.shape), v.ravel().tolist()] for k, v in sorted(outs.items())},
                                   {k: [list(v.shape), v.ravel().tolist()] for k, v in sorted(diffs.items())}]
    out["batches"] = [[k, list(np.asarray(v).shape)] for b in bnet._batch({"data": data}) for k, v in b.items()]
    try:
        bnet.forward(data=np.zeros((2, 2, 2, 2), dtype=np.float32))
    except Exception as e:
        out["not_batch_sized"] = str(e)
    try:
        bnet.forward(nope=data[:3])
    except Exception as e:
        out["bad_input"] = str(e)
    levels = """
layer { name: "data" type: "DummyData" top: "data" dummy_data_param { shape { dim: 1 dim: 1 dim: 10 dim: 10 } } }
layer { name: "NoLevel" type: "InnerProduct" bottom: "data" top: "NoLevel" inner_product_param { num_output: 1 } }
layer { name: "L0" type: "InnerProduct" bottom: "data" top: "L0" include { min_level: 0 max_level: 0 } inner_product_param { num_output: 1 } }
layer { name: "L1" type: "InnerProduct" bottom: "data" top: "L1" include { min_level: 1 max_level: 1 } inner_product_param { num_output: 1 } }
layer { name: "A" type: "InnerProduct" bottom: "data" top: "A" include { stage: "A" } inner_product_param { num_output: 1 } }
layer { name: "AandB" type: "InnerProduct" bottom: "data" top: "AandB" include { stage: "A" stage: "B" } inner_product_param { num_output: 1 } }
layer { name: "notB" type: "InnerProduct" bottom: "data" top: "notB" exclude { stage: "B" } inner_product_param { num_output: 1 } }
"""
    path = _write(tmpdir, "levels.prototxt", levels)
    out["levels_stages"] = {}
    for key, kwargs in (("default", {}), ("level1", {"level": 1}), ("A", {"stages": ["A"]}),
                        ("AB", {"stages": ["A", "B"]}), ("level1_B", {"level": 1, "stages": ["B"]})):
        n = caffe.Net(path, caffe.TEST, **kwargs)
        out["levels_stages"][key] = list(n.blobs.keys())
    return out


# ------------------------------------------------------------------------------------ draw
def draw_records(caffe_draw, pb, nets):
    """The graphs caffe.draw builds, as [nodes (name, attributes), edges (src, dst, label)],
    with ``pydot`` replaced by a recorder (real Caffe's Python has no pydot installed)."""
    out = {}
    for key, text, rankdir, phase, lrm in nets:
        from google.protobuf import text_format

        net = pb.NetParameter()
        text_format.Merge(text, net)
        graph = caffe_draw.get_pydot_graph(net, rankdir, phase=phase, display_lrm=lrm)
        out[key] = graph_record(graph)
    return out


def graph_record(graph):
    """Nodes and edges of a pydot graph (real pydot or the recorder) as plain lists."""
    nodes = [[_node_name(n), [[k, str(v)] for k, v in sorted(_attrs(n).items())]] for n in graph.get_nodes()]
    edges = [[_endpoint(e.get_source()), _endpoint(e.get_destination()), _label(e)] for e in graph.get_edges()]
    return {"name": _unquote(graph.get_name()), "rankdir": str(_attrs(graph).get("rankdir")),
            "nodes": nodes, "edges": edges}


def _attrs(obj):
    return dict(obj.get_attributes()) if hasattr(obj, "get_attributes") else dict(obj.attrs)


def _unquote(text):
    text = str(text)
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _node_name(node):
    return _unquote(node.get_name())


def _endpoint(name):
    return _unquote(name)


def _label(edge):
    return _unquote(_attrs(edge).get("label"))


DRAW_NETS = [
    ("lenet_LR", "lenet", "LR", None, False),
    ("lenet_TB_lrm", "lenet", "TB", None, True),
    ("phases_train", "phases", "LR", 0, False),
    ("phases_test", "phases", "BT", 1, True),
]

DRAW_PHASES_NET = """name: "phases"
layer { name: "d" type: "Data" top: "data" top: "label" data_param { batch_size: 7 } include { phase: TRAIN } }
layer { name: "i" type: "Input" top: "data" top: "label" include { phase: TEST } }
layer { name: "c" type: "Deconvolution" bottom: "data" top: "c" param { lr_mult: 0 } param { lr_mult: 3 }
  convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "p" type: "Pooling" bottom: "c" top: "p" pooling_param { pool: AVE kernel_size: 2 } }
layer { name: "r" type: "ReLU" bottom: "p" top: "p" }
layer { name: "f" type: "InnerProduct" bottom: "p" top: "f" param { lr_mult: 2 } inner_product_param { num_output: 10 } exclude { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "f" bottom: "label" top: "loss" }
"""


def draw_nets(caffe):
    lenet_text = _lenet(caffe, 4)
    texts = {"lenet": lenet_text, "phases": DRAW_PHASES_NET}
    return [(key, texts[name], rankdir, phase, lrm) for key, name, rankdir, phase, lrm in DRAW_NETS]


# ---------------------------------------------------------------------------------- solvers
SOLVER_NET = """name: 'solvernet'
layer { type: 'DummyData' name: 'data' top: 'data' top: 'label'
  dummy_data_param { shape { dim: 4 dim: 3 } shape { dim: 4 }
    data_filler { type: 'constant' } data_filler { type: 'constant' } } }
layer { type: 'InnerProduct' name: 'ip' bottom: 'data' top: 'ip'
  param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
  inner_product_param { num_output: 5 weight_filler { type: 'constant' value: 0.1 } } }
layer { type: 'SoftmaxWithLoss' name: 'loss' bottom: 'ip' bottom: 'label' top: 'loss' }
"""

SOLVER_TYPES = {"SGD": "SGDSolver", "Nesterov": "NesterovSolver", "AdaGrad": "AdaGradSolver",
                "RMSProp": "RMSPropSolver", "AdaDelta": "AdaDeltaSolver", "Adam": "AdamSolver"}


def _solver_text(net_path, type_name, prefix):
    extra = {"SGD": "momentum: 0.9", "Nesterov": "momentum: 0.9", "AdaGrad": "",
             "RMSProp": "rms_decay: 0.95", "AdaDelta": "momentum: 0.95 delta: 1e-6",
             "Adam": "momentum: 0.9 momentum2: 0.999 delta: 1e-8"}[type_name]
    return (f"net: '{net_path}'\ntest_iter: 1 test_interval: 2\nbase_lr: {1.0 if type_name == 'AdaDelta' else 0.1}\n"
            f"lr_policy: 'step' gamma: 0.5 stepsize: 2\nweight_decay: 0.01\ndisplay: 0\nmax_iter: 5\n"
            f"snapshot_prefix: '{prefix}'\nsnapshot_after_train: false\ntype: '{type_name}'\n{extra}\n")


def _feed(net, seed):
    rng = np.random.RandomState(seed)
    net.blobs["data"].data[...] = rng.randn(4, 3)
    net.blobs["label"].data[...] = np.array([0, 3, 1, 4])


def _params(net):
    return [[name, [b.data.ravel().tolist() for b in blobs]] for name, blobs in net.params.items()]


def solver_results(caffe, tmpdir):
    import os

    net_path = _write(tmpdir, "solvernet.prototxt", SOLVER_NET)
    out = {}
    for type_name, class_name in SOLVER_TYPES.items():
        prefix = os.path.join(tmpdir, type_name.lower(), "snap")
        os.makedirs(os.path.dirname(prefix))
        path = _write(tmpdir, f"{type_name}_solver.prototxt", _solver_text(net_path, type_name, prefix))
        solver = getattr(caffe, class_name)(path)
        by_factory = caffe.get_solver(path)
        entry = {"factory_class": type(by_factory).__name__, "iter0": solver.iter,
                 "n_test_nets": len(solver.test_nets)}
        for net in [solver.net] + list(solver.test_nets):
            _feed(net, 3)
        rng = np.random.RandomState(4)
        for blobs in solver.net.params.values():
            for b in blobs:
                b.data[...] = rng.randn(*b.data.shape) * 0.3
        calls = {"start": 0, "gradients": 0}

        def on_start():
            calls["start"] += 1

        def on_gradients():
            calls["gradients"] += 1

        solver.add_callback(on_start, on_gradients)
        solver.step(3)
        entry["iter3"] = solver.iter
        entry["calls"] = dict(calls)
        entry["params3"] = _params(solver.net)
        entry["test_net_shares"] = bool(np.all(solver.test_nets[0].params["ip"][0].data == solver.net.params["ip"][0].data))
        if hasattr(solver, "lr"):
            entry["lr"] = float(solver.lr)
        solver.snapshot()
        entry["snapshot_files"] = sorted(os.listdir(os.path.dirname(prefix)))
        solver.step(1)
        entry["params4"] = _params(solver.net)
        state = os.path.join(os.path.dirname(prefix), "snap_iter_3.solverstate")
        solver.restore(state)
        entry["iter_restored"] = solver.iter
        solver.step(1)
        entry["params4_after_restore"] = _params(solver.net)
        solver.solve()
        entry["iter_solved"] = solver.iter
        out[type_name] = entry
    # apply_update alone: diffs set by hand, rate from the policy at iter 0
    solver = caffe.SGDSolver(_write(tmpdir, "apply_solver.prototxt",
                                    _solver_text(net_path, "SGD", os.path.join(tmpdir, "apply"))))
    for blobs in solver.net.params.values():
        for b in blobs:
            b.data[...] = 0
            b.diff[...] = 1
    solver.apply_update()
    out["apply_update"] = {"params": _params(solver.net), "iter": solver.iter}
    return out
