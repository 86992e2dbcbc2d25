"""Does the student take the data's samples? Checked before the teacher runs.

A student template made for one input size can fail on another (the zoo NIN's 8x8
pool3 on the 7x7 map a 28x28 image leaves). Rendered into the real run's nets, that
failure came only after the teacher had labelled the data and the learning-rate probe had
started. ``check_student_fits`` builds the student alone, on one sample of the data's
shape, in TEST phase (shapes only: nothing runs), and reports any layer that cannot take
it, naming the student and the sample shape.
"""
from caffe_compat.errors import CaffeError


def student_tag(student):
    """The suffix of the student's layer names. The deep students keep Caffe's own names
    (conv1_1 ... fc8: a model-zoo caffemodel loads into them by name); the ONNX teacher has
    no layers to clash with."""
    return "" if student in ("vgg16", "alexnet") else "_s"


def student_param(student, sample_shape, student_opts, num_classes):
    """The student's NetParameter with an Input layer of one ``sample_shape`` sample."""
    from google.protobuf import text_format

    from caffe_compat.proto import caffe_pb2
    from prototxt.render import render_net

    member = dict({"arch": student, "tag": student_tag(student), "num_classes": num_classes},
                  **(student_opts or {}))
    text = render_net("student", {"name": f"{student}_student",
                                  "data": [{"source": "unused", "batch_size": 1}],
                                  "model": member, "accuracy": None, "loss": None})
    rendered = text_format.Parse(text, caffe_pb2.NetParameter())
    param = caffe_pb2.NetParameter(name=rendered.name)
    shape = param.layer.add(name="data", type="Input", top=["data"]).input_param.shape.add()
    shape.dim.extend([1] + [int(d) for d in sample_shape])
    param.layer.extend(l for l in rendered.layer if l.type != "Data")
    return param


def check_student_fits(student, sample_shape, student_opts, num_classes=None):
    """Raise a CaffeError naming the student, the sample shape and the layer when the
    ``student`` template with ``student_opts`` cannot take samples of ``sample_shape``
    (C, H, W). ``num_classes`` None: 10 (the width of the last layer decides no fit)."""
    from caffe_compat.net import TEST, Net

    param = student_param(student, sample_shape, student_opts, num_classes or 10)
    try:
        Net(param, TEST)
    except CaffeError as e:
        shape = "x".join(str(int(d)) for d in sample_shape)
        raise CaffeError(f"--student {student} cannot take the data's {shape} samples (C x H "
                         f"x W): {e}") from None
