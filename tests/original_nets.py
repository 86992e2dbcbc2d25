"""The original experiment's prototxts as runnable nets: Data layers swapped for Input.

The shapes are those of the data each net was trained on: MNIST 1x28x28, CIFAR-10 3x32x32,
ImageNet 3 x crop x crop (transform_param.crop_size: 227 AlexNet, 224 VGG).
"""
from caffe_compat.net import read_net_text

NATIVE = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "imagenet": (3, 256, 256)}


def dataset_of(path):
    parts = str(path).split("/")
    for name in NATIVE:
        if name in parts:
            return name
    raise ValueError(f"no dataset folder in {path}")


def swap_data_layers(path, batch):
    """The upgraded NetParameter of ``path`` with each Data layer replaced by an Input layer
    (same name, tops and include rules) giving ``batch`` images and ``batch`` labels."""
    param = read_net_text(path)
    channels, height, width = NATIVE[dataset_of(path)]
    for layer in param.layer:
        if layer.type != "Data":
            continue
        crop = layer.transform_param.crop_size
        if crop:
            height = width = crop
        layer.type = "Input"
        layer.ClearField("data_param")
        layer.ClearField("transform_param")
        shapes = [(batch, channels, height, width), (batch,)]
        for top, shape in zip(layer.top, shapes):
            layer.input_param.shape.add().dim.extend(shape)
    return param
