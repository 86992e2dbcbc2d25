"""pycaffe cases: NetSpec (pycaffe's test nets, naming rules, errors, the 2017 notebook's nets) and
coord_map; see pycaffe_cases.py."""
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
