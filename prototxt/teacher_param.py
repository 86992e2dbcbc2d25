"""The ONNX teacher layer's param_str: its keys, in one table.

The layer (``solver.teacher.layer.ONNXTeacher``) parses its param_str against this table,
the renderer (``prototxt.render``) checks a teacher config against it, and the template
(``templates/macros.j2``) names the Python module and class from here. The layer, in a
prototxt that stays valid under Caffe 1.0's schema::

    layer {
      name: "teacher"  type: "Python"  bottom: "data"  top: "teacher_logits"
      python_param {
        module: "solver.teacher"  layer: "ONNXTeacher"
        param_str: '{"onnx": "lenet5.onnx", "unscale": 256, "num_classes": 10}'
      }
    }
"""

PYTHON_MODULE = "solver.teacher"
PYTHON_LAYER = "ONNXTeacher"
TOP = "teacher_logits"

# Keys of one teacher (also the entries of ``teachers``), in the order of their use.
MODEL_KEYS = {
    "onnx": "path of the ONNX model (relative paths: to the working directory)",
    "input": "graph input name (default: the first input)",
    "output": "graph output name (default: the only one, or the one whose width is the class "
              "count; several such: an error listing them)",
    "unscale": "multiplies the student's data blob first, to undo the student's own transform "
               "(e.g. 256 when the student's Data layer scales by 1/256 and the teacher wants "
               "raw pixels); default 1",
    "mean": "per-channel values subtracted next (one value or one per channel)",
    "scale": "multiplies after the mean (Caffe's transform order); one value or one per "
             "channel; default 1",
    "std": "divides after the mean instead of 'scale' (one value or one per channel): a "
           "torchvision Normalize(m, s) teacher on [0, 1] input is {\"mean\": [255 m], "
           "\"std\": [255 s]}; a [0, 1] teacher is {\"scale\": 0.00392156862745098}",
    "channels": "n: a one-channel blob repeated to n channels, first (a grayscale image "
                "for a teacher trained on Grayscale(num_output_channels=3) or x.repeat(1, 3, "
                "1, 1)); a per-channel mean/std then has n values",
    "channel_order": "\"BGR\" (default: the blob's own order, Caffe's) or \"RGB\" (reverse)",
    "layout": "\"NCHW\" (Caffe's), \"NHWC\" (transposed last: TensorFlow/Keras), \"flat\" "
              "([N, C*H*W], NCHW order flattened: an MLP) or \"auto\" (default: flat when the "
              "graph's input has rank 2 and width C*H*W, NHWC when its shape says so and "
              "NCHW does not fit)",
    "resize": "[h, w]: bilinear resize to the teacher's input size",
    "crop": "[h, w]: centre crop (after resize)",
    "pad": "n, [vertical, horizontal] or [top, bottom, left, right]: a border added after "
           "resize and crop (LeNet-5's 32x32 input is MNIST with \"pad\": 2)",
    "fill": "the border's value (one or one per channel) in the units after 'unscale' "
            "(tscaffe distill takes it in raw pixels); default 0",
    "feeds": "{name: value}: constant values for the graph's other inputs (a TensorFlow "
             "export's keep_prob or is_training), each cast to its input's type and shape",
    "threads": "onnxruntime intra-op threads (default: onnxruntime's choice)",
    "outputs": "what the graph outputs: \"logits\", \"probabilities\" (their log is used: "
               "softmax of it gives the probabilities back) or \"auto\" (default: "
               "probabilities when the output comes from a Softmax node of the graph; "
               "tscaffe distill also checks the outputs on training data)",
}

# Keys of the layer around the teacher(s).
LAYER_KEYS = {
    "teachers": "instead of 'onnx': a list of objects with the model keys, one per teacher "
                "(model blending); 'blend' says how they are combined",
    "blend": "\"prob\" (default): the top is log(mean_k softmax(z_k)); \"logit\": mean_k z_k",
    "num_classes": "the student's class count: a teacher with another output width is an "
                   "error at setup, naming both shapes",
    "logit_scale": "multiplies the teacher's logits after the cache; default 1",
    "cache": "true (default): memoise logits per input sample; false: always run the teacher "
             "(use it when the data transform is random: crop/mirror)",
    "data": "the dataset's path: the cache file is placed for it (next to it, or in the "
            "user's cache directory), named by the teachers' and the dataset's hashes",
    "cache_file": "an explicit cache file instead (overrides 'data'; tscaffe distill gives "
                  "one, so its nets never hash the dataset again)",
}

ALL_KEYS = tuple(MODEL_KEYS) + tuple(LAYER_KEYS)


def table():
    """The keys and their meaning as text (the layer's documentation)."""
    width = max(map(len, ALL_KEYS)) + 2
    return "\n".join(f"{k:<{width}}{v}" for k, v in {**MODEL_KEYS, **LAYER_KEYS}.items())
