"""Does the student take the data's samples? Checked before the teacher runs.

A student template made for one input size can fail on another (the zoo NIN's 8x8
pool3 on the 7x7 map a 28x28 image leaves). Rendered into the real run's nets, that
failure came only after the teacher had labelled the data and the learning-rate probe had
started. ``check_student_fits`` builds the student alone, on one sample of the data's
shape, in TEST phase (shapes only: nothing runs), and reports any layer that cannot take
it, naming the student and the sample shape. A user's own student (``--student-prototxt``)
is read and built the same way (``check_user_student_fits``): its layers as the
teacher-student net will take them (solver.distill.splice.student_body), and its logits'
width against the data's classes.
"""
from caffe_compat.errors import CaffeError

from .nets import student_tag


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


def user_student_param(path, sample_shape):
    """(NetParameter, logits blob) of the user's student at ``path`` as the run splices it
    in: its body after an Input layer giving one ``sample_shape`` sample as its data blob
    (and a label, for a layer that reads one)."""
    from caffe_compat.proto import caffe_pb2
    from prototxt.io import read_net

    from .splice import student_body

    user = read_net(path)
    body, data, logits = student_body(user, path)
    param = caffe_pb2.NetParameter(name=user.name or "student")
    layer = param.layer.add(name="data", type="Input", top=[data, "label"])
    layer.input_param.shape.add().dim.extend([1] + [int(d) for d in sample_shape])
    layer.input_param.shape.add().dim.extend([1])
    param.layer.extend(body)
    return param, logits


def check_user_student_fits(path, sample_shape, num_classes=None):
    """Raise a CaffeError when the user's student at ``path`` cannot be read, cannot take
    samples of ``sample_shape``, or gives logits of another width than the data's
    ``num_classes`` (None: unknown before the teacher runs, not checked)."""
    from caffe_compat.net import TEST, Net

    param, logits = user_student_param(path, sample_shape)
    shape = "x".join(str(int(d)) for d in sample_shape)
    try:
        net = Net(param, TEST)
    except CaffeError as e:
        raise CaffeError(f"--student-prototxt {path} cannot take the data's {shape} samples "
                         f"(C x H x W): {e}") from None
    if logits not in net.blobs:
        raise CaffeError(f"--student-prototxt {path}: its logits blob {logits!r} (what its "
                         f"loss or accuracy reads) is not made by any layer in TEST phase")
    width = net.blobs[logits].data.shape[1] if net.blobs[logits].data.ndim > 1 else None
    if num_classes is not None and width != num_classes:
        raise CaffeError(f"--student-prototxt {path}: its logits {logits!r} have {width} "
                         f"outputs (shape {tuple(net.blobs[logits].data.shape)}), but the data "
                         f"has {num_classes} classes; set the last layer's num_output to "
                         f"{num_classes}")
