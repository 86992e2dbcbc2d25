"""pycaffe cases run both by real pycaffe (tests/tools/record_pycaffe.py, in Caffe 1.0's
Python 3.9) and by caffe_compat (tests/test_pycaffe_*.py): each takes the ``caffe`` module
(real ``caffe`` or ``caffe_compat``) and returns plain data (text, lists, numbers), so both
sides' answers can be compared as JSON.

NetSpec cases include the nets of the 2017 notebook ``mnist/TS_MNIST_Documentation.ipynb``
(EricHe98/Teacher-Student-Training), written here as our own code building the same nets
through the same NetSpec calls.
"""
import numpy as np

TRAIN_SOURCE = "/opt/caffe/examples/mnist/mnist_train_lmdb"
TEST_SOURCE = "/opt/caffe/examples/mnist/mnist_test_lmdb"


# --------------------------------------------------------------------------------- NetSpec
def _lenet(caffe, batch_size):
    L, P = caffe.layers, caffe.params
    n = caffe.NetSpec()
    n.data, n.label = L.DummyData(shape=[dict(dim=[batch_size, 1, 28, 28]), dict(dim=[batch_size, 1, 1, 1])],
                                  transform_param=dict(scale=1. / 255), ntop=2)
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20, weight_filler=dict(type="xavier"))
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.conv2 = L.Convolution(n.pool1, kernel_size=5, num_output=50, weight_filler=dict(type="xavier"))
    n.pool2 = L.Pooling(n.conv2, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.ip1 = L.InnerProduct(n.pool2, num_output=500, weight_filler=dict(type="xavier"))
    n.relu1 = L.ReLU(n.ip1, in_place=True)
    n.ip2 = L.InnerProduct(n.relu1, num_output=10, weight_filler=dict(type="xavier"))
    n.loss = L.SoftmaxWithLoss(n.ip2, n.label)
    return str(n.to_proto())


def _anon_lenet(caffe, batch_size):
    L, P = caffe.layers, caffe.params
    data, label = L.DummyData(shape=[dict(dim=[batch_size, 1, 28, 28]), dict(dim=[batch_size, 1, 1, 1])],
                              transform_param=dict(scale=1. / 255), ntop=2)
    conv1 = L.Convolution(data, kernel_size=5, num_output=20, weight_filler=dict(type="xavier"))
    pool1 = L.Pooling(conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    conv2 = L.Convolution(pool1, kernel_size=5, num_output=50, weight_filler=dict(type="xavier"))
    pool2 = L.Pooling(conv2, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    ip1 = L.InnerProduct(pool2, num_output=500, weight_filler=dict(type="xavier"))
    relu1 = L.ReLU(ip1, in_place=True)
    ip2 = L.InnerProduct(relu1, num_output=10, weight_filler=dict(type="xavier"))
    loss = L.SoftmaxWithLoss(ip2, label)
    return str(loss.to_proto())


def _silent(caffe):
    L = caffe.layers
    n = caffe.NetSpec()
    n.data, n.data2 = L.DummyData(shape=dict(dim=3), ntop=2)
    n.silence_data = L.Silence(n.data, ntop=0)
    n.silence_data2 = L.Silence(n.data2, ntop=0)
    return str(n.to_proto())


def _naming(caffe):
    """Automatic names: unnamed multi-top layers, in-place chains, shared inputs, several tops
    given to to_proto, unassigned ntop=0 layers, layer-level and type-level keywords."""
    L, P = caffe.layers, caffe.params
    out = {}
    a, b = L.DummyData(shape=[dict(dim=[2, 3]), dict(dim=[2, 3])], ntop=2)
    s = L.Eltwise(a, b, operation=P.Eltwise.SUM, coeff=[1, -1])
    r = L.ReLU(s, in_place=True, negative_slope=0.5)
    r2 = L.ReLU(r, in_place=True)
    t = L.TanH(r2)
    c = L.Concat(t, a, axis=1, propagate_down=[True, False], loss_weight=[0])
    out["to_proto_two_tops"] = str(caffe.to_proto(c, s))
    out["top_to_proto"] = str(t.to_proto())
    n = caffe.NetSpec()
    n.x = L.Input(shape=dict(dim=[1, 2, 5, 5]))
    conv = L.Convolution(n.x, kernel_size=3, pad=[1], stride=1, num_output=4, bias_term=False,
                         param=[dict(lr_mult=0, decay_mult=2, name="shared")],
                         include=dict(phase=caffe.TEST, stage=["a", "b"]), name="explicit")
    n.y = L.Pooling(conv, pool=P.Pooling.AVE, global_pooling=True)
    n.tail = L.Silence(L.Sigmoid(n.y), ntop=0)
    n["z"] = L.Deconvolution(n.x, convolution_param=dict(num_output=2, kernel_size=[2, 3], stride=2),
                             loss_weight=2.5)
    n.sm = L.Softmax(n.z, axis=-1, engine=P.Softmax.CAFFE)
    L.Silence(n.sm, ntop=0)  # not assigned: not in the net
    out["netspec_mixed"] = str(n.to_proto())
    return out


def _notebook_le_net(caffe, train_lmdb, test_lmdb, train_bs=64, test_bs=100):
    """Cell 3 (le_net) of the notebook."""
    L, P = caffe.layers, caffe.params
    net = caffe.NetSpec()
    net.data, net.label = L.Data(batch_size=train_bs, backend=P.Data.LMDB, source=train_lmdb,
                                 transform_param={"scale": 1.0 / 255.0}, ntop=2,
                                 include={"phase": caffe.TRAIN})
    net.test_data, net.test_label = L.Data(top=["data", "label"], batch_size=test_bs, backend=P.Data.LMDB,
                                           source=test_lmdb, transform_param={"scale": 1.0 / 255.0},
                                           ntop=2, include={"phase": caffe.TEST})
    lr = [{"lr_mult": 1}, {"lr_mult": 2}]
    net.conv1 = L.Convolution(bottom="data", kernel_h=5, kernel_w=5, stride_h=1, stride_w=1, num_output=20,
                              weight_filler={"type": "xavier"}, bias_filler={"type": "constant"}, param=lr)
    net.pool1 = L.Pooling(net.conv1, kernel_size=2, stride_h=2, stride_w=2, pool=P.Pooling.MAX)
    net.conv2 = L.Convolution(net.pool1, kernel_h=5, kernel_w=5, stride_h=1, stride_w=1, num_output=50,
                              weight_filler={"type": "xavier"}, bias_filler={"type": "constant"}, param=lr)
    net.pool2 = L.Pooling(net.conv2, kernel_h=2, kernel_w=2, stride=2, pool=P.Pooling.MAX)
    net.ip1 = L.InnerProduct(net.pool2, num_output=500, weight_filler={"type": "xavier"},
                             bias_filler={"type": "constant"}, param=lr)
    net.relu1 = L.ReLU(net.ip1, in_place=True)
    net.ip2 = L.InnerProduct(net.relu1, num_output=100, weight_filler={"type": "xavier"},
                             bias_filler={"type": "constant"}, param=lr)
    net.accuracy = L.Accuracy(net.ip2, net.label, include={"phase": caffe.TEST})
    net.loss = L.SoftmaxWithLoss(net.ip2, net.label)
    return str(net.to_proto())


def _notebook_data_layers(caffe, net, train_lmdb, test_lmdb, train_bs=64, test_bs=100):
    L, P = caffe.layers, caffe.params
    net.data, net.label = L.Data(batch_size=train_bs, backend=P.Data.LMDB, source=train_lmdb,
                                 transform_param={"scale": 1.0 / 255.0}, ntop=2, include={"phase": caffe.TRAIN})
    net.test_data, net.test_label = L.Data(top=["data", "label"], batch_size=test_bs, backend=P.Data.LMDB,
                                           source=test_lmdb, transform_param={"scale": 1.0 / 255.0}, ntop=2,
                                           include={"phase": caffe.TEST})


def _notebook_lenet_body(caffe, net, suffix, learn):
    """The convolutional body of the teacher (suffix "t") or student ("s") LeNet of cells 4 and 7."""
    L, P = caffe.layers, caffe.params
    if learn:
        lr = [{"lr_mult": 1}, {"lr_mult": 2}]
        fill = dict(weight_filler={"type": "xavier"}, bias_filler={"type": "constant"})
        first_stride = dict(stride_h=1, stride_w=1)
    else:
        lr = [{"lr_mult": 0}, {"lr_mult": 0}]
        fill = {}
        first_stride = dict(stride=1)
    net["conv_%s1" % suffix] = L.Convolution(bottom="data", kernel_size=5, num_output=20, param=lr,
                                             **dict(first_stride, **fill))
    net["pool_%s1" % suffix] = L.Pooling(net["conv_%s1" % suffix], kernel_size=2, stride=2, pool=P.Pooling.MAX)
    net["conv_%s2" % suffix] = L.Convolution(net["pool_%s1" % suffix], kernel_size=5, stride=1, num_output=50,
                                             param=lr, **fill)
    net["pool_%s2" % suffix] = L.Pooling(net["conv_%s2" % suffix], kernel_size=2, stride=2, pool=P.Pooling.MAX)
    net["ip_%s1" % suffix] = L.InnerProduct(net["pool_%s2" % suffix], num_output=500, param=lr, **fill)
    net["relu_%s1" % suffix] = L.ReLU(net["ip_%s1" % suffix], in_place=True)
    net["ip_%s2" % suffix] = L.InnerProduct(net["relu_%s1" % suffix], num_output=100, param=lr, **fill)


def _notebook_teacher_le_net(caffe, train_lmdb, test_lmdb):
    """Cell 4 (teacher_le_net), written to teacher_lenet.prototxt in cell 6."""
    L = caffe.layers
    net = caffe.NetSpec()
    _notebook_data_layers(caffe, net, train_lmdb, test_lmdb)
    _notebook_lenet_body(caffe, net, "t", learn=True)
    net.accuracy = L.Accuracy(net.ip_t2, net.label, include={"phase": caffe.TEST})
    net.loss = L.SoftmaxWithLoss(net.ip_t2, net.label, loss_weight=1)
    return str(net.to_proto())


def _notebook_ts_le_net(caffe, train_lmdb, test_lmdb):
    """Cell 7 (ts_le_net): student and frozen teacher, printed in cell 10."""
    L = caffe.layers
    net = caffe.NetSpec()
    _notebook_data_layers(caffe, net, train_lmdb, test_lmdb)
    _notebook_lenet_body(caffe, net, "s", learn=True)
    _notebook_lenet_body(caffe, net, "t", learn=False)
    net.accuracy = L.Accuracy(net.ip_s2, net.label, include={"phase": caffe.TEST})
    net.loss = L.SoftmaxWithLoss(net.ip_s2, net.label, loss_weight=0.5)
    net.ts_loss = L.SoftmaxWithLoss(net.ip_s2, net.ip_t2, loss_weight=0.5)
    return str(net.to_proto())


def _notebook_cells_21_23(caffe):
    """Cells 21-23: two data layers named "data" with explicit ``top``/``ntop`` variations."""
    L = caffe.layers
    out = {}
    ns = caffe.NetSpec()
    ns.data = L.Data(name="data", include={"phase": caffe.TEST})
    ns.test_data = L.Data(name="data", ntop=0, top="data", include={"phase": caffe.TEST})
    out["cell21"] = "{}".format(ns.to_proto())
    for cell, ntop in (("cell22", 1), ("cell23", 0)):
        net = caffe.NetSpec()
        net.data = L.Data(name="data", include={"phase": caffe.TRAIN}, ntop=1)
        net.test_data = L.Data(name="data", include={"phase": caffe.TEST}, top="data", ntop=ntop)
        out[cell] = "{}".format(net.to_proto())
    return out


def netspec_texts(caffe):
    """{case: the text ``print(net_spec.to_proto())`` shows}."""
    out = {"lenet": _lenet(caffe, 50), "anon_lenet": _anon_lenet(caffe, 50), "silent": _silent(caffe),
           "notebook_le_net": _notebook_le_net(caffe, TRAIN_SOURCE, TEST_SOURCE),
           "notebook_teacher_le_net": _notebook_teacher_le_net(caffe, TRAIN_SOURCE, TEST_SOURCE),
           "notebook_ts_le_net": _notebook_ts_le_net(caffe, TRAIN_SOURCE, TEST_SOURCE)}
    out.update(_naming(caffe))
    out.update(("notebook_" + k, v) for k, v in _notebook_cells_21_23(caffe).items())
    return out


def netspec_errors(caffe):
    """The exceptions NetSpec raises: (type name, message)."""
    L = caffe.layers
    out = {}
    data = L.DummyData(ntop=2)
    try:
        L.Silence(data, ntop=0)
    except Exception as e:
        out["tuple_input"] = [type(e).__name__, str(e)]
    try:
        L.Convolution(L.Input(shape=dict(dim=[1])), no_such_field=3).to_proto()
    except Exception as e:
        out["unknown_field"] = [type(e).__name__]
    try:
        caffe.NetSpec().missing
    except Exception as e:
        out["missing_attribute"] = [type(e).__name__]
    return out


# ------------------------------------------------------------------------------- coord_map
def _coord_net(caffe, ks=3, stride=1, pad=0, pool=2, dstride=2, dpad=0):
    L, P = caffe.layers, caffe.params
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 1, 100, 100]))
    n.aux = L.Input(shape=dict(dim=[2, 1, 20, 20]))
    n.conv = L.Convolution(n.data, num_output=10, kernel_size=ks, stride=stride, pad=pad)
    n.pool = L.Pooling(n.conv, pool=P.Pooling.MAX, kernel_size=pool, stride=pool, pad=0)
    dks = [s * 2 for s in dstride] if isinstance(dstride, list) else dstride * 2
    n.deconv = L.Deconvolution(n.pool, num_output=10, kernel_size=dks, stride=dstride, pad=dpad)
    return n


def _plain(value):
    if value is None:
        return None
    return np.atleast_1d(np.asarray(value, dtype=float)).tolist()


COORD_CASES = [dict(), dict(pool=4, dstride=4), dict(pad=3), dict(dpad=2), dict(pad=5, dpad=5),
               dict(ks=[3, 5], stride=[1, 2], pad=[0, 10]), dict(ks=5, stride=2, pad=10),
               dict(pool=3, dstride=2), dict(dpad=10), dict(ks=7, stride=3, pad=1, pool=2, dstride=3)]


def coord_maps(caffe, coord_map_module):
    """coord_map_from_to(deconv, data) and crop(deconv, data) for each case."""
    out = []
    for case in COORD_CASES:
        n = _coord_net(caffe, **case)
        ax, a, b = coord_map_module.coord_map_from_to(n.deconv, n.data)
        entry = {"case": case, "map": [ax, _plain(a), _plain(b)]}
        try:
            top = coord_map_module.crop(n.deconv, n.data)
            p = top.fn.params["crop_param"]
            entry["crop"] = [top.fn.type_name, int(p["axis"]), [int(v) for v in p["offset"]],
                             top.fn.inputs[0] is n.deconv, top.fn.inputs[1] is n.data]
        except AssertionError:
            entry["crop"] = "AssertionError"
        n = _coord_net(caffe, **case)
        n.relu = caffe.layers.ReLU(n.deconv)
        n.c2 = caffe.layers.Crop(n.relu, n.data, axis=2, offset=[3, 4])
        ax, a, b = coord_map_module.coord_map_from_to(n.c2, n.data)
        entry["crop_of_relu"] = [ax, _plain(a), _plain(b)]
        out.append(entry)
    return out


# -------------------------------------------------------------------------------------- io
def io_results(caffe):
    io, pb = caffe.io, caffe.proto.caffe_pb2
    out = {}
    rng = np.random.RandomState(5)
    arr = rng.randn(2, 3, 4).astype(np.float32)
    blob = io.array_to_blobproto(arr, diff=arr * 2)
    out["array_to_blobproto"] = blob.SerializeToString().hex()
    out["blobproto_to_array_diff"] = io.blobproto_to_array(blob, return_diff=True).ravel().tolist()
    legacy = pb.BlobProto(num=1, channels=2, height=1, width=3)
    legacy.data.extend([1, 2, 3, 4, 5, 6])
    out["blobproto_legacy_shape"] = list(io.blobproto_to_array(legacy).shape)
    vec = io.arraylist_to_blobprotovector_str([arr, np.arange(3.0)])
    out["blobprotovector"] = vec.hex()
    out["blobprotovector_back"] = [a.ravel().tolist() for a in io.blobprotovector_str_to_arraylist(vec)]
    img8 = rng.randint(0, 256, size=(3, 2, 4)).astype(np.uint8)
    out["datum_uint8"] = io.array_to_datum(img8, label=7).SerializeToString().hex()
    out["datum_float"] = io.array_to_datum(arr.astype(np.float64)).SerializeToString().hex()
    out["datum_back_uint8"] = [str(io.datum_to_array(io.array_to_datum(img8)).dtype),
                               io.datum_to_array(io.array_to_datum(img8)).ravel().tolist()]
    out["datum_back_float"] = io.datum_to_array(io.array_to_datum(arr)).ravel().tolist()
    try:
        io.array_to_datum(arr[0])
    except ValueError as e:
        out["datum_2d"] = str(e)
    # resize_image: the 1/3-channel path (scikit-image) and the zoom path, up and down.
    resized = {}
    for key, shape, dims, order in (("up3", (5, 7, 3), (9, 11), 1), ("down3", (12, 10, 3), (5, 4), 1),
                                    ("down1", (9, 9, 1), (4, 6), 1), ("mixed1", (6, 13, 1), (10, 5), 1),
                                    ("zoom2", (6, 8, 2), (9, 5), 1), ("const", (4, 4, 3), (6, 2), 1),
                                    ("nearest", (5, 6, 3), (8, 3), 0)):
        image = rng.rand(*shape).astype(np.float32) * 3 - 1
        if key == "const":
            image[...] = 0.25
        result = io.resize_image(image, dims, interp_order=order)
        resized[key] = [str(result.dtype), list(result.shape), result.ravel().tolist()]
    out["resize_image"] = resized
    images = [rng.rand(7, 9, 3).astype(np.float32) for _ in range(2)]
    crops = io.oversample(images, (4, 5))
    out["oversample"] = [list(crops.shape), crops.ravel().tolist()]
    crops = io.oversample([rng.rand(8, 8, 1).astype(np.float32)], (3, 3))
    out["oversample_odd"] = [list(crops.shape), crops.ravel().tolist()]
    # Transformer
    t = io.Transformer({"data": (1, 3, 6, 5)})
    t.set_transpose("data", (2, 0, 1))
    t.set_channel_swap("data", (2, 1, 0))
    t.set_raw_scale("data", 255)
    t.set_mean("data", np.array([104.0, 117.0, 123.0]))
    t.set_input_scale("data", 0.5)
    image = rng.rand(6, 5, 3).astype(np.float32)
    pre = t.preprocess("data", image)
    out["transformer_pre"] = [list(pre.shape), pre.ravel().tolist()]
    out["transformer_de"] = t.deprocess("data", pre).ravel().tolist()
    pre_resized = t.preprocess("data", rng.rand(9, 8, 3).astype(np.float32))
    out["transformer_resize"] = [list(pre_resized.shape), pre_resized.ravel().tolist()]
    t2 = io.Transformer({"data": (1, 3, 4, 4)})
    t2.set_mean("data", rng.rand(3, 6, 6) * 100)
    out["transformer_mean_resized"] = t2.mean["data"].ravel().tolist()
    errors = {}
    for key, call in (("input", lambda: t.preprocess("nope", image)),
                      ("transpose", lambda: t.set_transpose("data", (1, 0))),
                      ("swap", lambda: t.set_channel_swap("data", (1, 0))),
                      ("mean_channels", lambda: t.set_mean("data", np.zeros(4))),
                      ("mean_shape", lambda: t.set_mean("data", np.zeros((1, 2, 3, 4))))):
        try:
            call()
        except Exception as e:
            errors[key] = [type(e).__name__, str(e)]
    out["transformer_errors"] = errors
    return out


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
