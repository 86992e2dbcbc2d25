"""Caffe's LossLayer (loss_layer.cpp), the base of the loss layers, and their shared rules
(normalization, labels).

LossLayer: two bottoms (predictions, labels/targets) and one top, created when the prototxt
names none (AutoTopBlobs); top 0 is a loss (loss_weight 1 unless the prototxt says
otherwise); no gradient may be forced into bottom 1; Reshape checks that both bottoms have
the same first dimension and makes the top a scalar. Subclasses widen the counts or the
forced-backward rule where Caffe's do.
"""
from ..backend import get_array_module
from ..errors import NetError
from ..proto import caffe_pb2
from .base import Layer

Mode = caffe_pb2.LossParameter
MODE_NAMES = {Mode.FULL: "FULL", Mode.VALID: "VALID", Mode.BATCH_SIZE: "BATCH_SIZE", Mode.NONE: "NONE"}


def normalization_mode(loss_param, default):
    """The explicit ``normalization``, else the legacy ``normalize`` (true: VALID,
    false: BATCH_SIZE), else ``default`` (SoftmaxWithLoss: VALID; Caffe 1.0's
    SigmoidCrossEntropyLoss: BATCH_SIZE)."""
    if loss_param.HasField("normalization"):
        return loss_param.normalization
    if loss_param.HasField("normalize"):
        return Mode.VALID if loss_param.normalize else Mode.BATCH_SIZE
    return default


def normalizer(mode, outer_num, inner_num, valid_count):
    """Caffe's get_normalizer; never below 1 (a batch whose labels are all ignored gives 0
    loss instead of NaN). ``valid_count`` None means "not counted" (all valid)."""
    if mode == Mode.FULL:
        value = outer_num * inner_num
    elif mode == Mode.VALID:
        value = outer_num * inner_num if valid_count is None else valid_count
    elif mode == Mode.BATCH_SIZE:
        value = outer_num
    elif mode == Mode.NONE:
        value = 1
    else:
        raise NetError(f"unknown loss normalization mode {mode}")
    return max(1.0, float(value))


class LossLayer(Layer):
    EXACT_NUM_BOTTOM = 2
    EXACT_NUM_TOP = 1
    IS_LOSS = True
    AUTO_TOP_BLOBS = True

    def allow_force_backward(self, bottom_index):
        return bottom_index != 1

    def reshape(self, bottom, top):
        loss_top_reshape(self, bottom, top)


def loss_top_reshape(layer, bottom, top):
    """LossLayer::Reshape: same first dimension for data and label, scalar loss top."""
    s0, s1 = bottom[0].shape, bottom[1].shape
    if len(s0) and len(s1) and s0[0] != s1[0]:
        raise layer.error("the data and label should have the same first dimension",
                          bottom0=s0, bottom1=s1)
    top[0].reshape(())


def refuse_label_backward(layer, propagate_down):
    """Caffe LOG(FATAL)s when asked for a gradient of the label/target bottom."""
    if len(propagate_down) > 1 and propagate_down[1]:
        raise NetError(
            f"Layer '{layer.name}' ({layer.type}) can't backpropagate to label inputs "
            f"(bottom 1); something upstream of its second bottom needs a gradient "
            f"(check lr_mult / propagate_down / force_backward)"
        )


def int_labels(label):
    """static_cast<int>: truncation toward zero, as Caffe reads float labels."""
    xp = get_array_module(label)
    return xp.trunc(label).astype(xp.int64)
