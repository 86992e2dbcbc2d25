"""Record real Caffe 1.0's forward and backward of single layers on small seeded nets.

    python tests/tools/record_real_caffe_layers.py [--out tests/data/real_caffe_layers] [CASE...]

Needs ``caffe-python3`` on PATH (python3 with pycaffe of Debian 11's Caffe 1.0 package, run
in its chroot); the tool re-runs itself there. For each case of ``CASES`` it writes
``<case>.prototxt`` (the net, its first line a ``# what:`` comment) and ``<case>.npz`` with
the keys of ../shared/caffe-reference/README.md:

=====================  ======================================================================
``meta/phase``         int32, 0 = TRAIN, 1 = TEST
``in/<blob>``          each input (a top of the Input layer named ``input``), seeded values
``param/<layer>/<k>``  parameter values used: N(0, 0.1^2) draws, or the layer's own filler
                       for the layers in ``keep_params``
``out/<blob>``         every other blob after Forward (``random_tops`` excepted)
``random/<blob>``      tops of random fillers (DummyData): one draw, for statistics only
``topdiff/<blob>``     the random diff (uniform in [-1, 1]) given to each net output
``indiff/<blob>``      diff of an input after Backward (``grad_inputs``; default: every
                       input when the net has ``force_backward``)
``diff/<blob>``        diff after Backward of the blobs that are neither inputs nor outputs
``paramdiff/<l>/<k>``  parameter diffs after Backward (they start at zero)
=====================  ======================================================================

``errors.json`` (same folder) holds, for each of ``ERROR_CASES``, the fatal message Caffe
stops with while building the net (each is built in its own process: Caffe aborts).

To add a case, append a ``Case`` to ``CASES`` (inputs are ``(shape, generator)`` pairs whose
generator gets a ``numpy.random.RandomState`` seeded by the case name) and run the tool with
the case's name. The tool imports nothing of this project.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "data", "real_caffe_layers")


class Case:
    def __init__(self, name, what, layers, inputs=None, phase=1, force_backward=True,
                 grad_inputs=None, keep_params=(), random_tops=(), backward=True):
        self.name, self.what, self.layers = name, what, layers
        self.inputs = inputs or {}
        self.phase, self.force_backward, self.backward = phase, force_backward, backward
        self.grad_inputs = (list(self.inputs) if force_backward else []) \
            if grad_inputs is None else grad_inputs
        self.keep_params, self.random_tops = set(keep_params), set(random_tops)


def normal(scale=1.0):
    return lambda rng, shape: rng.normal(0, scale, shape)


def uniform(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def with_values(base, values, every):
    """``base`` with every ``every``-th element set to the next of ``values`` (exact points)."""
    def gen(rng, shape):
        a = base(rng, shape)
        flat = a.reshape(-1)
        for k, i in enumerate(range(0, flat.size, every)):
            flat[i] = values[k % len(values)]
        return a
    return gen


def fixed(values):
    return lambda rng, shape: __import__("numpy").asarray(values, "float64").reshape(shape)


def layer(name, type_, bottoms, tops, body=""):
    b = "".join(f' bottom: "{x}"' for x in bottoms)
    t = "".join(f' top: "{x}"' for x in tops)
    return f'layer {{ name: "{name}" type: "{type_}"{b}{t} {body} }}'


X4 = {"x": ((2, 3, 4, 5), normal())}
# A learnable layer in front of a layer that cannot take force_backward (Filter and
# BatchReindex refuse a gradient for their index bottom): the data blob then needs backward
# without the index blob needing it. The layer's tops get a loss_weight, else Caffe skips
# the backward of layers that lead to no loss.
BIAS_IN = layer("pre", "Bias", ["x"], ["xb"], 'bias_param { axis: 0 num_axes: 1 }')

CASES = [
    # -- DummyData ------------------------------------------------------------------------
    Case("dummydata_default", "DummyData, one shape, no filler (constant 0)",
         layer("d", "DummyData", [], ["a"], "dummy_data_param { shape { dim: 2 dim: 3 } }"),
         force_backward=False, backward=False),
    Case("dummydata_constant", "DummyData, 2 tops of 2 shapes, one constant filler 1.5",
         layer("d", "DummyData", [], ["a", "b"],
               'dummy_data_param { data_filler { type: "constant" value: 1.5 } '
               "shape { dim: 2 dim: 3 } shape { dim: 4 } }"),
         force_backward=False, backward=False),
    Case("dummydata_legacy", "DummyData with the legacy num (per top) / channels / height / "
         "width fields and one constant filler per top",
         layer("d", "DummyData", [], ["a", "b"],
               'dummy_data_param { data_filler { type: "constant" value: 0.5 } '
               'data_filler { type: "constant" value: -2 } num: 2 num: 1 channels: 3 '
               "height: 2 width: 4 }"),
         force_backward=False, backward=False),
    Case("dummydata_random", "DummyData, one filler per top: gaussian mean 1 std 2, uniform "
         "[-3, -1], constant 7 (random tops stored as random/)",
         layer("d", "DummyData", [], ["g", "u", "c"],
               'dummy_data_param { data_filler { type: "gaussian" mean: 1 std: 2 } '
               'data_filler { type: "uniform" min: -3 max: -1 } '
               'data_filler { type: "constant" value: 7 } '
               "shape { dim: 50 dim: 40 } shape { dim: 2000 } shape { dim: 3 } }"),
         force_backward=False, backward=False, random_tops=("g", "u")),
    # -- PReLU ----------------------------------------------------------------------------
    Case("prelu_default_filler", "PReLU with the default filler (constant 0.25); every 7th "
         "input exactly 0", layer("p", "PReLU", ["x"], ["y"]),
         {"x": ((2, 3, 4, 5), with_values(normal(), [0.0], 7))}, keep_params=("p",)),
    Case("prelu", "PReLU per channel, slopes N(0, 0.1^2); every 7th input exactly 0",
         layer("p", "PReLU", ["x"], ["y"]),
         {"x": ((2, 3, 4, 5), with_values(normal(), [0.0], 7))}),
    Case("prelu_shared", "PReLU channel_shared: true", layer(
        "p", "PReLU", ["x"], ["y"], "prelu_param { channel_shared: true }"), X4),
    Case("prelu_2d", "PReLU on a 2-axis bottom (N, C)", layer("p", "PReLU", ["x"], ["y"]),
         {"x": ((4, 5), normal())}),
    Case("prelu_inplace", "Power (identity) then PReLU in place on its top, a uniform "
         "filler [0.1, 0.4]",
         layer("id", "Power", ["x"], ["h"]) + "\n" + layer(
             "p", "PReLU", ["h"], ["h"],
             'prelu_param { filler { type: "uniform" min: 0.1 max: 0.4 } }'), X4),
    # -- Crop -----------------------------------------------------------------------------
    Case("crop_default", "Crop with the defaults (axis 2, offset 0)",
         layer("c", "Crop", ["x", "ref"], ["y"]),
         {"x": ((2, 3, 8, 9), normal()), "ref": ((1, 1, 5, 4), normal())}),
    Case("crop_offset", "Crop axis 2, one offset 2 for both spatial axes",
         layer("c", "Crop", ["x", "ref"], ["y"], "crop_param { axis: 2 offset: 2 }"),
         {"x": ((2, 3, 8, 9), normal()), "ref": ((1, 1, 5, 4), normal())}),
    Case("crop_offsets_axis1", "Crop axis 1, offsets 1 2 3 (one per axis from 1)",
         layer("c", "Crop", ["x", "ref"], ["y"],
               "crop_param { axis: 1 offset: 1 offset: 2 offset: 3 }"),
         {"x": ((2, 4, 7, 6), normal()), "ref": ((5, 2, 3, 2), normal())}),
    Case("crop_axis_neg", "Crop axis -1, offset 1 (only the last axis is cropped)",
         layer("c", "Crop", ["x", "ref"], ["y"], "crop_param { axis: -1 offset: 1 }"),
         {"x": ((2, 3, 4, 6), normal()), "ref": ((1, 1, 1, 3), normal())}),
    Case("crop_axis0", "Crop axis 0 of a 3-axis bottom, offset 1 (every axis cropped)",
         layer("c", "Crop", ["x", "ref"], ["y"], "crop_param { axis: 0 offset: 1 }"),
         {"x": ((4, 5, 6), normal()), "ref": ((2, 3, 4), normal())}),
    # -- ELU ------------------------------------------------------------------------------
    Case("elu", "ELU with the default alpha 1; every 7th input exactly 0",
         layer("e", "ELU", ["x"], ["y"]),
         {"x": ((2, 3, 4, 5), with_values(normal(2.0), [0.0], 7))}),
    Case("elu_alpha", "ELU alpha 0.4", layer("e", "ELU", ["x"], ["y"], "elu_param { alpha: 0.4 }"),
         {"x": ((3, 7), normal(2.0))}),
    Case("elu_inplace", "Power (identity) then ELU alpha 2 in place",
         layer("id", "Power", ["x"], ["h"]) + "\n" +
         layer("e", "ELU", ["h"], ["h"], "elu_param { alpha: 2 }"), {"x": ((2, 3, 5), normal(2.0))}),
    # -- BNLL, Threshold, Clip, Swish ------------------------------------------------------
    Case("bnll", "BNLL on inputs in [-70, 70] (past the backward's threshold 50), every 9th 0",
         layer("b", "BNLL", ["x"], ["y"]),
         {"x": ((2, 3, 4, 5), with_values(uniform(-70, 70), [0.0, 50.0, -50.0], 9))}),
    Case("bnll_small", "BNLL on N(0, 2^2) inputs", layer("b", "BNLL", ["x"], ["y"]),
         {"x": ((3, 8), normal(2.0))}),
    Case("threshold", "Threshold 0.3 (forward only: Caffe has no backward); every 5th input "
         "exactly 0.3", layer("t", "Threshold", ["x"], ["y"], "threshold_param { threshold: 0.3 }"),
         {"x": ((2, 3, 4, 5), with_values(normal(), [0.3], 5))}, force_backward=False,
         backward=False),
    Case("threshold_default", "Threshold with the default threshold 0 (forward only)",
         layer("t", "Threshold", ["x"], ["y"]),
         {"x": ((4, 6), with_values(normal(), [0.0], 4))}, force_backward=False, backward=False),
    Case("clip", "Clip min -0.5 max 0.7; every 6th input exactly -0.5 or 0.7",
         layer("c", "Clip", ["x"], ["y"], "clip_param { min: -0.5 max: 0.7 }"),
         {"x": ((2, 3, 4, 5), with_values(normal(), [-0.5, 0.7], 6))}),
    Case("swish", "Swish with the default beta 1", layer("s", "Swish", ["x"], ["y"]),
         {"x": ((2, 3, 4, 5), normal(3.0))}),
    Case("swish_beta", "Swish beta 0.7, in place after a Power (identity)",
         layer("id", "Power", ["x"], ["h"]) + "\n" +
         layer("s", "Swish", ["h"], ["h"], "swish_param { beta: 0.7 }"), {"x": ((3, 10), normal(3.0))}),
    # -- Tile, Reduction ------------------------------------------------------------------
    Case("tile", "Tile axis 1 (default) tiles 3", layer("t", "Tile", ["x"], ["y"],
                                                     "tile_param { tiles: 3 }"), X4),
    Case("tile_axis_neg", "Tile axis -1 tiles 2", layer("t", "Tile", ["x"], ["y"],
                                                     "tile_param { axis: -1 tiles: 2 }"), X4),
    Case("tile_axis0", "Tile axis 0 tiles 4 of a 2-axis bottom", layer(
        "t", "Tile", ["x"], ["y"], "tile_param { axis: 0 tiles: 4 }"), {"x": ((2, 3), normal())}),
    Case("reduction_sum", "Reduction with the defaults (SUM, axis 0: a scalar)",
         layer("r", "Reduction", ["x"], ["y"]), X4),
    Case("reduction_asum", "Reduction ASUM axis 1 coeff 2; every 8th input exactly 0",
         layer("r", "Reduction", ["x"], ["y"], "reduction_param { operation: ASUM axis: 1 coeff: 2 }"),
         {"x": ((2, 3, 4, 5), with_values(normal(), [0.0], 8))}),
    Case("reduction_sumsq", "Reduction SUMSQ axis -1",
         layer("r", "Reduction", ["x"], ["y"], "reduction_param { operation: SUMSQ axis: -1 }"), X4),
    Case("reduction_mean", "Reduction MEAN axis 2 coeff -0.5",
         layer("r", "Reduction", ["x"], ["y"], "reduction_param { operation: MEAN axis: 2 coeff: -0.5 }"),
         X4),
    # -- MVN ------------------------------------------------------------------------------
    Case("mvn", "MVN with the defaults (normalize_variance, per channel, eps 1e-9)",
         layer("m", "MVN", ["x"], ["y"]), {"x": ((2, 3, 4, 5), uniform(-3, 5))}),
    Case("mvn_mean_only", "MVN normalize_variance: false",
         layer("m", "MVN", ["x"], ["y"], "mvn_param { normalize_variance: false }"),
         {"x": ((2, 3, 4, 5), uniform(-3, 5))}),
    Case("mvn_across", "MVN across_channels: true eps 0.1",
         layer("m", "MVN", ["x"], ["y"], "mvn_param { across_channels: true eps: 0.1 }"),
         {"x": ((2, 3, 4, 5), uniform(-3, 5))}),
    Case("mvn_2d", "MVN across_channels on a 2-axis bottom (one row per sample)",
         layer("m", "MVN", ["x"], ["y"], "mvn_param { across_channels: true }"),
         {"x": ((3, 7), uniform(-3, 5))}),
    Case("mvn_3d", "MVN per channel on a 3-axis bottom (N, C, L)",
         layer("m", "MVN", ["x"], ["y"]), {"x": ((2, 3, 6), uniform(-3, 5))}),
    # -- Filter, BatchReindex, Parameter --------------------------------------------------
    Case("filter", "Filter of 2 data bottoms by a selector (N, 1) with values 0, 1, 2.5: "
         "x goes through a Bias (lr_mult 1) so that it needs backward without force_backward",
         BIAS_IN + "\n" + layer("f", "Filter", ["xb", "z", "sel"], ["y", "w"],
                               "loss_weight: 1 loss_weight: 1"),
         {"x": ((5, 3, 2), normal()), "z": ((5, 4), normal()),
          "sel": ((5, 1), fixed([1, 0, 2.5, 0, 1]))}, force_backward=False),
    Case("filter_1d", "Filter of one data bottom by a 1-axis selector (first and last kept)",
         BIAS_IN + "\n" + layer("f", "Filter", ["xb", "sel"], ["y"], "loss_weight: 1"),
         {"x": ((4, 3), normal()), "sel": ((4,), fixed([1, 0, 0, 1]))}, force_backward=False),
    Case("batch_reindex", "BatchReindex with repeated and fractional (truncated) indices "
         "2, 0, 2, 1.7, 3, 0 of a batch of 4 (x through a Bias, see filter)",
         BIAS_IN + "\n" + layer("r", "BatchReindex", ["xb", "idx"], ["y"], "loss_weight: 1"),
         {"x": ((4, 2, 3), normal()), "idx": ((6,), fixed([2, 0, 2, 1.7, 3, 0]))},
         force_backward=False),
    Case("parameter", "Parameter shape (2, 3) added (Eltwise SUM) to an input",
         layer("p", "Parameter", [], ["w"], "parameter_param { shape { dim: 2 dim: 3 } }") + "\n" +
         layer("sum", "Eltwise", ["x", "w"], ["y"]), {"x": ((2, 3), normal())}),
    # -- Im2col ---------------------------------------------------------------------------
    Case("im2col", "Im2col kernel_size 3 pad 1 stride 2",
         layer("i", "Im2col", ["x"], ["y"], "convolution_param { kernel_size: 3 pad: 1 stride: 2 }"),
         {"x": ((2, 3, 7, 6), normal())}),
    Case("im2col_rect_dilated", "Im2col kernel_h 3 kernel_w 2 pad_h 2 pad_w 0 stride_w 2 "
         "dilation 2", layer("i", "Im2col", ["x"], ["y"],
                             "convolution_param { kernel_h: 3 kernel_w: 2 pad_h: 2 pad_w: 0 "
                             "stride_h: 1 stride_w: 2 dilation: 2 }"),
         {"x": ((2, 2, 6, 7), normal())}),
    Case("im2col_nd_forced", "Im2col kernel 3 pad 1 with force_nd_im2col (Caffe's N-d code)",
         layer("i", "Im2col", ["x"], ["y"],
               "convolution_param { kernel_size: 3 pad: 1 force_nd_im2col: true }"),
         {"x": ((1, 2, 5, 4), normal())}),
    Case("im2col_3d", "Im2col on 3 spatial axes: kernel 2 2 3 stride 1 2 1 pad 1 0 1",
         layer("i", "Im2col", ["x"], ["y"], "convolution_param { kernel_size: 2 kernel_size: 2 "
               "kernel_size: 3 stride: 1 stride: 2 stride: 1 pad: 1 pad: 0 pad: 1 }"),
         {"x": ((2, 2, 3, 5, 4), normal())}),
    Case("im2col_1d", "Im2col on 1 spatial axis: kernel 3 stride 2 pad 1",
         layer("i", "Im2col", ["x"], ["y"], "convolution_param { kernel_size: 3 stride: 2 pad: 1 }"),
         {"x": ((2, 3, 9), normal())}),
]

X4_INPUT = ('layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 '
            'dim: 4 dim: 5 } } }\n')
# Nets Caffe refuses while building them: (name, net text); the message is recorded.
ERROR_CASES = [
    ("dummydata_two_fillers_three_tops",
     layer("d", "DummyData", [], ["a", "b", "c"],
           'dummy_data_param { data_filler { type: "constant" } data_filler { type: "constant" } '
           "shape { dim: 2 } }")),
    ("dummydata_shape_and_legacy",
     layer("d", "DummyData", [], ["a"], "dummy_data_param { shape { dim: 2 } num: 2 channels: 1 "
           "height: 1 width: 1 }")),
    ("dummydata_two_shapes_three_tops",
     layer("d", "DummyData", [], ["a", "b", "c"],
           "dummy_data_param { shape { dim: 2 } shape { dim: 3 } }")),
    ("dummydata_legacy_missing_width",
     layer("d", "DummyData", [], ["a"], "dummy_data_param { num: 2 channels: 1 height: 1 }")),
    # Refused while running: (name, net text, {input blob: values}) runs Forward and Backward.
    ("threshold_backward", "force_backward: true\n" + X4_INPUT + layer("t", "Threshold", ["x"], ["y"]),
     {}),
    ("batch_reindex_index_too_large", 'layer { name: "input" type: "Input" top: "x" top: "i" '
     'input_param { shape { dim: 4 dim: 3 } shape { dim: 2 } } }\n' +
     layer("r", "BatchReindex", ["x", "i"], ["y"]), {"i": [1, 4]}),
    ("batch_reindex_index_negative", 'layer { name: "input" type: "Input" top: "x" top: "i" '
     'input_param { shape { dim: 4 dim: 3 } shape { dim: 2 } } }\n' +
     layer("r", "BatchReindex", ["x", "i"], ["y"]), {"i": [-1, 0]}),
    ("prelu_1axis",
     'layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 5 } } }\n' +
     layer("p", "PReLU", ["x"], ["y"])),
    ("crop_offset_count",
     'layer { name: "input" type: "Input" top: "x" top: "r" input_param { shape { dim: 2 dim: 3 '
     'dim: 8 dim: 8 } shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }\n' +
     layer("c", "Crop", ["x", "r"], ["y"], "crop_param { axis: 2 offset: 1 offset: 2 offset: 3 }")),
    ("crop_out_of_bounds",
     'layer { name: "input" type: "Input" top: "x" top: "r" input_param { shape { dim: 2 dim: 3 '
     'dim: 8 dim: 8 } shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }\n' +
     layer("c", "Crop", ["x", "r"], ["y"], "crop_param { offset: 5 }")),
    ("crop_axis_out_of_range",
     'layer { name: "input" type: "Input" top: "x" top: "r" input_param { shape { dim: 2 dim: 3 '
     '} shape { dim: 2 dim: 3 } } }\n' +
     layer("c", "Crop", ["x", "r"], ["y"], "crop_param { axis: 2 }")),
    ("tile_no_tiles", X4_INPUT + layer("t", "Tile", ["x"], ["y"])),
    ("tile_zero_tiles", X4_INPUT + layer("t", "Tile", ["x"], ["y"], "tile_param { tiles: 0 }")),
    ("mvn_5axes", 'layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 2 '
     'dim: 3 dim: 4 dim: 5 dim: 2 } } }\n' + layer("m", "MVN", ["x"], ["y"])),
    ("filter_selector_shape", 'layer { name: "input" type: "Input" top: "x" top: "s" '
     'input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 } } }\n' +
     layer("f", "Filter", ["x", "s"], ["y"])),
    ("filter_top_count", 'layer { name: "input" type: "Input" top: "x" top: "s" '
     'input_param { shape { dim: 4 dim: 3 } shape { dim: 4 } } }\n' +
     layer("f", "Filter", ["x", "s"], ["y", "z"])),
    ("filter_first_axis", 'layer { name: "input" type: "Input" top: "x" top: "s" '
     'input_param { shape { dim: 4 dim: 3 } shape { dim: 5 } } }\n' +
     layer("f", "Filter", ["x", "s"], ["y"])),
    ("batch_reindex_2d_index", 'layer { name: "input" type: "Input" top: "x" top: "i" '
     'input_param { shape { dim: 4 dim: 3 } shape { dim: 2 dim: 1 } } }\n' +
     layer("r", "BatchReindex", ["x", "i"], ["y"])),
    ("clip_no_max", X4_INPUT + layer("c", "Clip", ["x"], ["y"], "clip_param { min: 0 }")),
    ("im2col_no_kernel", X4_INPUT + layer("i", "Im2col", ["x"], ["y"], "convolution_param { pad: 1 }")),
    ("im2col_kernel_count", X4_INPUT + layer("i", "Im2col", ["x"], ["y"],
                                             "convolution_param { kernel_size: 1 kernel_size: 2 "
                                             "kernel_size: 3 }")),
    ("im2col_kernel_hw_and_size", X4_INPUT + layer(
        "i", "Im2col", ["x"], ["y"], "convolution_param { kernel_size: 3 kernel_h: 2 kernel_w: 2 }")),
]


def seed_of(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def net_text(case, rng):
    """(prototxt, inputs) of the case: an Input layer for its inputs, then its layers."""
    import numpy as np

    inputs = {}
    head = [f"# what: {case.what}", f'name: "{case.name}"']
    if case.force_backward:
        head.append("force_backward: true")
    if case.inputs:
        shapes = ""
        for blob, (shape, gen) in case.inputs.items():
            inputs[blob] = np.asarray(gen(rng, shape), np.float32)
            shapes += " shape {" + "".join(f" dim: {d}" for d in shape) + " }"
        head.append(layer("input", "Input", [], list(case.inputs), f"input_param {{{shapes} }}"))
    return "\n".join(head + [case.layers]) + "\n", inputs


def record_case(case, out_dir):
    """Inside the chroot: build, run and save one case."""
    import caffe
    import numpy as np

    rng = np.random.RandomState(seed_of(case.name))
    text, inputs = net_text(case, rng)
    proto = os.path.join(out_dir, case.name + ".prototxt")
    with open(proto, "w") as f:
        f.write(text)
    net = caffe.Net(proto, case.phase)
    arrays = {"meta/phase": np.int32(case.phase)}
    for blob, value in inputs.items():
        net.blobs[blob].data[...] = value
        arrays["in/" + blob] = value
    for name in net._layer_names:
        for k, p in enumerate(net.layer_dict[name].blobs):
            if name not in case.keep_params:
                p.data[...] = rng.normal(0, 0.1, p.data.shape)
            arrays[f"param/{name}/{k}"] = p.data.copy()
    net.forward()
    outputs = set(net.outputs)
    for blob in net.blobs:
        if blob in inputs or "_split_" in blob:
            continue
        kind = "random" if blob in case.random_tops else "out"
        arrays[f"{kind}/{blob}"] = net.blobs[blob].data.copy()
    if case.backward:
        net.clear_param_diffs()
        for blob in sorted(outputs):
            d = rng.uniform(-1, 1, net.blobs[blob].data.shape).astype(np.float32)
            net.blobs[blob].diff[...] = d
            arrays["topdiff/" + blob] = d
        net.backward()
        for blob in net.blobs:
            if "_split_" in blob or blob in outputs:
                continue
            if blob in inputs:
                if blob in case.grad_inputs:
                    arrays["indiff/" + blob] = net.blobs[blob].diff.copy()
            else:
                arrays["diff/" + blob] = net.blobs[blob].diff.copy()
        for name in net._layer_names:
            for k, p in enumerate(net.layer_dict[name].blobs):
                arrays[f"paramdiff/{name}/{k}"] = p.diff.copy()
    np.savez_compressed(os.path.join(out_dir, case.name + ".npz"), **arrays)


FATAL = re.compile(r"^F\d{4} [\d:.]+ +\d+ (\S+)\] (.*)$", re.M)


def record_error(name, text, tmp, feed=None):
    """Caffe's fatal message for a net it refuses (built in a child process; with ``feed``,
    those input values are set, then Forward and Backward run)."""
    path = os.path.join(tmp, name + ".prototxt")
    with open(path, "w") as f:
        f.write(f'name: "{name}"\n{text}\n')
    code = f"import caffe; net = caffe.Net({path!r}, caffe.TEST)"
    if feed is not None:
        for blob, values in feed.items():
            code += f"; net.blobs[{blob!r}].data[...] = {values!r}"
        code += "; net.forward(); net.backward()"
    env = dict(os.environ, GLOG_logtostderr="1", GLOG_minloglevel="0")
    proc = subprocess.run(["caffe-python3", "-c", code], capture_output=True, text=True, env=env)
    m = FATAL.search(proc.stderr)
    if proc.returncode == 0 or not m:
        raise SystemExit(f"{name}: Caffe did not refuse this net:\n{proc.stderr[-2000:]}")
    where = m.group(1).split(":")[0]
    entry = {"net": text, "file": where, "message": m.group(2).replace(path, name + ".prototxt")}
    if feed is not None:
        entry["feed"] = feed
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    args = ap.parse_args()
    wanted = [c for c in CASES if not args.cases or c.name in args.cases]
    os.makedirs(args.out, exist_ok=True)
    if args.inside:
        for case in wanted:
            record_case(case, args.out)
            print("recorded", case.name)
        return
    if wanted:
        env = dict(os.environ, GLOG_minloglevel="2", OPENBLAS_NUM_THREADS="1")
        subprocess.run(["caffe-python3", os.path.abspath(__file__), "--inside", "--out",
                        os.path.abspath(args.out)] + [c.name for c in wanted], check=True, env=env)
    errors_path = os.path.join(args.out, "errors.json")
    errors = {}
    if os.path.exists(errors_path):
        with open(errors_path) as f:
            errors = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        for name, text, *feed in ERROR_CASES:
            if not args.cases or name in args.cases:
                errors[name] = record_error(name, text, tmp, *feed)
    with open(errors_path, "w") as f:
        json.dump(errors, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
