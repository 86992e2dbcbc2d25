"""Every prototxt of ../shared/original/ as a runnable net (Data layers swapped for Input,
batch 1 for the ImageNet nets): forward and backward in the TRAIN phase with the blob shapes
Caffe gives, except where Caffe itself refuses (the NIN teacher-student net's backward; a
file Caffe cannot parse).
"""
import numpy as np
import pytest

import caffe_compat as caffe
from caffe_compat.errors import NetError
from conftest import ORIGINAL, need
from original_nets import swap_data_layers

# (file, batch, {blob: shape in the TRAIN phase}). The shapes are worked out by hand from the
# layer parameters with Caffe's rules: convolution floor((H + 2p - k) / s) + 1, pooling
# ceil((H + 2p - k) / s) + 1; losses are scalars. ImageNet crops follow each file's
# transform_param (224 in all of them, AlexNet included).
LENET = {"conv_{}1": (4, 20, 24, 24), "pool_{}1": (4, 20, 12, 12), "conv_{}2": (4, 50, 8, 8),
         "pool_{}2": (4, 50, 4, 4), "ip_{}1": (4, 500), "ip_{}2": (4, 100)}
CIFAR = {"conv_{}_1": (2, 32, 32, 32), "pool_{}_1": (2, 32, 16, 16), "conv_{}_2": (2, 32, 16, 16),
         "pool_{}_2": (2, 32, 8, 8), "ip_{}_1": (2, 10)}
CIFAR3 = {"conv_{}_3": (2, 64, 8, 8), "pool_{}_3": (2, 64, 4, 4)}
VGG = {"conv{}1_1": (1, 64, 224, 224), "pool{}1": (1, 64, 112, 112), "pool{}2": (1, 128, 56, 56),
       "pool{}3": (1, 256, 28, 28), "pool{}4": (1, 512, 14, 14), "pool{}5": (1, 512, 7, 7),
       "fc{}6": (1, 4096), "fc{}8": (1, 1000)}


def named(table, tag):
    return {k.format(tag): v for k, v in table.items()}


def vgg(tag):
    return {k.replace("conv{}", f"conv{tag}").replace("pool{}", f"pool{tag}").replace("fc{}", f"fc{tag}"): v
            for k, v in VGG.items()}


ORIGINAL_NETS = [
    ("mnist/teacher_lenet.prototxt", 4, {**named(LENET, "t"), "loss": ()}),
    ("mnist/student_lenet.prototxt", 4, {**named(LENET, "s"), "loss": (), "loss2": ()}),
    ("mnist/ts_lenet.prototxt", 4, {**named(LENET, "s"), **named(LENET, "t"), "sf_t1": (4, 100), "ts_loss": ()}),
    ("mnist/ts_lenet_shell.prototxt", 4, {**named(LENET, "s"), "loss": ()}),
    ("cifar10/ts_cifar10.prototxt", 2, {**named(CIFAR, "s"), **named(CIFAR3, "s"), **named(CIFAR, "t"),
                                        "sm_t_1": (2, 10), "ts_loss": (), "loss": ()}),
    ("cifar10/models/ts_cifar10.prototxt", 2, {**named(CIFAR, "s"), **named(CIFAR3, "t"), "ts_loss": ()}),
    ("cifar10/models/ts_cifar10_mini.prototxt", 2, {**named(CIFAR, "s"), **named(CIFAR3, "t"), "ts_loss": ()}),
    ("cifar10/models/cifar10_mini.prototxt", 2, {**named(CIFAR, "t"), "loss": ()}),
    ("cifar10/models/ts_cifar10_nin.prototxt", 2, {"conv1": (2, 192, 32, 32), "pool1": (2, 96, 16, 16),
                                                   "pool3": (2, 10, 1, 1), "sm_t_1": (2, 10, 1, 1),
                                                   **named(CIFAR, "s"), "ts_loss": ()}),
    ("imagenet/alexnet-VGG/alexnet.prototxt", 1, {"conv1": (1, 96, 54, 54), "pool1": (1, 96, 27, 27),
                                                  "pool2": (1, 256, 13, 13), "conv5": (1, 256, 13, 13),
                                                  "pool5": (1, 256, 6, 6), "fc8": (1, 1000), "loss": ()}),
    ("imagenet/alexnet-VGG/vgg16_dummy.prototxt", 1, {"conv_st_1_2": (1, 64, 224, 224),
                                                      "pool_st_2": (1, 128, 56, 56)}),
    ("imagenet/alexnet-VGG/vgg16_train_val.prototxt", 1, {**vgg("_st_"), "loss": ()}),
    ("imagenet/alexnet-VGG/vgg16_original.prototxt", 1, {**vgg(""), "loss/loss": ()}),
    ("imagenet/alexnet-VGG/vgg16_original2.prototxt", 1, {**vgg(""), "loss/loss": ()}),
    ("imagenet/alexnet-VGG/ts_vgg16_train_val2.prototxt", 1, {**vgg("_st_"), "loss/loss": ()}),
]


@pytest.mark.parametrize("path,batch,shapes", ORIGINAL_NETS, ids=[n[0] for n in ORIGINAL_NETS])
def test_original_prototxt_runs(path, batch, shapes):
    """Forward and backward of each original net at a small batch, with Caffe's blob shapes;
    the NIN teacher-student net's backward is refused, as Caffe refuses it."""
    net = caffe.Net(swap_data_layers(need(ORIGINAL / path), batch), caffe.TRAIN)
    got = {name: net.blobs[name].shape for name in shapes}
    assert got == shapes
    rng = np.random.default_rng(0)
    net.blobs["data"].data[...] = rng.uniform(-1, 1, net.blobs["data"].shape)
    net.blobs["label"].data[...] = rng.integers(0, 10, net.blobs["label"].shape)
    net.forward()
    losses = [float(net.blobs[n].data) for n in net.outputs if net.blob_loss_weights[n]]
    assert all(np.isfinite(losses))
    assert {name: net.blobs[name].shape for name in shapes} == shapes
    if path.endswith("ts_cifar10_nin.prototxt"):
        with pytest.raises(NetError, match="'ts_loss'.*cannot back-propagate to its label/target input"):
            net.backward()
        return
    net.backward()
    for blob, need_backward in zip(net.learnable_params, _learnable_need(net)):
        assert np.isfinite(blob.diff).all()
        if not need_backward:
            assert not blob.diff.any()  # frozen (lr_mult 0) parameters get no gradient


def _learnable_need(net):
    return [lr > 0 for lr in net.params_lr]


def test_original_with_caffe_parse_error_is_refused_with_location():
    """ts_vgg16_train_val.prototxt puts 'param' inside convolution_param: Caffe cannot read it
    either; the message gives file:line:column (protobuf's words through caffe_compat.Net,
    explained further, with the layer, by prototxt.read_net, which the commands use)."""
    from caffe_compat.errors import FormatError
    from prototxt.io import PrototxtError, read_net

    path = need(ORIGINAL / "imagenet/alexnet-VGG/ts_vgg16_train_val.prototxt")
    with pytest.raises(FormatError, match=r'ts_vgg16_train_val.prototxt:368:5: Message type '
                                          r'"caffe.ConvolutionParameter" has no field named "param"'):
        caffe.Net(str(path), caffe.TRAIN)
    with pytest.raises(PrototxtError, match=r"ts_vgg16_train_val.prototxt:368:5: unknown field "
                                            r"'param' in caffe.ConvolutionParameter \(in layer 'conv_st_1_1'\)"):
        read_net(str(path))
