"""The real-Caffe half of record_real_caffe_zoo.py: runs under Caffe 1.0's python3 (chroot).

    caffe-python3 _zoo_caffe_side.py probe NET.prototxt PHASE
    caffe-python3 _zoo_caffe_side.py run NET.prototxt PHASE WEIGHTS.caffemodel SPEC.json

``probe`` builds the net and prints (last stdout line, JSON) each layer's name, type and
parameter shapes, the inputs, outputs and their loss weights. ``run`` loads the weights,
sets the seeded inputs (tests/zoo_checks.py), runs Forward, sets seeded diffs on the outputs
that are not losses, runs Backward and prints the compact checks of every blob's data and
diff and of every parameter's data and diff. A net Caffe refuses aborts (LOG(FATAL)); the
caller reads the message from stderr.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import zoo_checks  # noqa: E402

import caffe  # noqa: E402


def _phase(name):
    return caffe.TRAIN if name == "TRAIN" else caffe.TEST


def probe(prototxt, phase):
    net = caffe.Net(prototxt, _phase(phase))
    layers = []
    for name, layer in zip(net._layer_names, net.layers):
        layers.append([name, layer.type, [list(b.data.shape) for b in layer.blobs]])
    return {"layers": layers, "inputs": list(net.inputs), "outputs": list(net.outputs),
            "loss_weights": {o: float(net.blob_loss_weights[o]) for o in net.outputs}}


def run(prototxt, phase, weights, spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    name = spec["name"]
    net = caffe.Net(prototxt, weights, _phase(phase))
    for blob in net.inputs:
        kind = spec["inputs"].get(blob)
        net.blobs[blob].data[...] = zoo_checks.input_array(name, blob, net.blobs[blob].data.shape, kind)
    net.forward()
    for blob in net.outputs:
        if net.blob_loss_weights[blob] == 0:
            net.blobs[blob].diff[...] = zoo_checks.top_diff(name, blob, net.blobs[blob].diff.shape)
    net.backward()
    blobs = []
    for blob_name, blob in net.blobs.items():
        blobs.append([blob_name, list(blob.data.shape), zoo_checks.rounded(zoo_checks.stats(blob.data)),
                      zoo_checks.rounded(zoo_checks.stats(blob.diff))])
    params = []
    for layer_name, layer in zip(net._layer_names, net.layers):
        for k, b in enumerate(layer.blobs):
            params.append([layer_name, k, list(b.data.shape), zoo_checks.rounded(zoo_checks.stats(b.data)),
                           zoo_checks.rounded(zoo_checks.stats(b.diff))])
    return {"blobs": blobs, "params": params}


if __name__ == "__main__":
    mode = sys.argv[1]
    result = probe(*sys.argv[2:4]) if mode == "probe" else run(*sys.argv[2:6])
    sys.stdout.write("\n" + json.dumps(result) + "\n")
