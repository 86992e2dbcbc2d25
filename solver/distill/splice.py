"""A user's own student net put into the rendered teacher-student net."""
from caffe_compat.errors import CaffeError
from prototxt.io import read_net, to_text
from prototxt.netedit import DATA_LAYER_TYPES


def _logits_of(param):
    """The blob a net's SoftmaxWithLoss / Accuracy reads (else: the input of a final
    Softmax, else the last layer's top): the student's logits."""
    for layer in param.layer:
        if layer.type in ("SoftmaxWithLoss", "Accuracy"):
            return layer.bottom[0]
    last = param.layer[-1]
    return last.bottom[0] if last.type == "Softmax" else last.top[0]


# Layers of a user's student that the teacher-student net does not take from it.
SKIP = set(DATA_LAYER_TYPES) | {"Input", "Accuracy", "SoftmaxWithLoss"}


def student_body(user, path):
    """(layers, data blob, logits blob) of the user's student NetParameter ``user``: its
    layers minus data/Input layers, losses, accuracies and a final Softmax; the blob its
    data layer (or net input) gives; the blob its loss or accuracy reads."""
    user_logits = _logits_of(user)
    inputs = [l for l in user.layer if l.type in set(DATA_LAYER_TYPES) | {"Input"}]
    user_data = inputs[0].top[0] if inputs else (user.input[0] if user.input else "data")
    body = [l for l in user.layer if l.type not in SKIP
            and not (l.type == "Softmax" and l.bottom and l.bottom[0] == user_logits)]
    if not body:
        raise CaffeError(f"{path}: no layers besides data, loss and accuracy")
    return body, user_data, user_logits


def splice_student(student_prototxt, student_path, ts_path):
    """Put the user's student net into the rendered teacher-student net.

    The rendered net's template student (its layers between the data layers and the heads)
    is replaced by the user's layers, minus their data/Input layers, losses, accuracies and
    a final Softmax; the user's data blob is renamed ``data`` and the heads read the user's
    logits. The user's file itself becomes the student prototxt of the run.
    """
    user = read_net(student_prototxt)
    template = read_net(student_path)
    ts = read_net(ts_path)
    template_body = {l.name for l in template.layer if l.type not in SKIP}
    template_logits = _logits_of(template)
    body, user_data, user_logits = student_body(user, student_prototxt)
    out = type(ts)()
    out.CopyFrom(ts)
    out.name = f"{user.name or 'student'}_ts"
    del out.layer[:]
    inserted = False
    for layer in ts.layer:
        if layer.name in template_body:
            if not inserted:
                for ul in body:
                    new = out.layer.add()
                    new.CopyFrom(ul)
                    for i, b in enumerate(new.bottom):
                        if b == user_data:
                            new.bottom[i] = "data"
                inserted = True
            continue
        new = out.layer.add()
        new.CopyFrom(layer)
        for i, b in enumerate(new.bottom):
            if b == template_logits:
                new.bottom[i] = user_logits
    with open(ts_path, "w") as f:
        f.write(to_text(out))
    with open(student_path, "w") as f:
        f.write(to_text(user))
