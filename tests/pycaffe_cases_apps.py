"""pycaffe cases: Classifier and Detector on a small deploy net with seeded weights (see
pycaffe_cases.py)."""
import os

import numpy as np

from pycaffe_cases_net import _write

DEPLOY_NET = """name: 'tiny'
layer { type: 'Input' name: 'data' top: 'data' input_param { shape { dim: 4 dim: 3 dim: 6 dim: 6 } } }
layer { type: 'Convolution' name: 'conv' bottom: 'data' top: 'conv' convolution_param { num_output: 4 kernel_size: 3 } }
layer { type: 'ReLU' name: 'relu' bottom: 'conv' top: 'conv' }
layer { type: 'InnerProduct' name: 'ip' bottom: 'conv' top: 'ip' inner_product_param { num_output: 5 } }
layer { type: 'Softmax' name: 'prob' bottom: 'ip' top: 'prob' }
"""


def _weights(caffe, tmpdir):
    deploy = _write(tmpdir, "deploy.prototxt", DEPLOY_NET)
    net = caffe.Net(deploy, caffe.TEST)
    rng = np.random.RandomState(21)
    for blobs in net.params.values():
        for b in blobs:
            b.data[...] = rng.randn(*b.data.shape) * 0.5
    weights = os.path.join(tmpdir, "tiny.caffemodel")
    net.save(weights)
    return deploy, weights


def app_results(caffe, tmpdir):
    from PIL import Image

    deploy, weights = _weights(caffe, tmpdir)
    rng = np.random.RandomState(22)
    images = [rng.rand(9, 7, 3).astype(np.float32) for _ in range(3)]
    out = {}
    clf = caffe.Classifier(deploy, weights, image_dims=(8, 8), mean=np.array([0.1, 0.2, 0.3]),
                           raw_scale=2.0, channel_swap=(2, 1, 0), input_scale=1.5)
    for oversample in (True, False):
        pred = clf.predict(images, oversample=oversample)
        out[f"classify_oversample_{oversample}"] = [list(pred.shape), pred.ravel().tolist()]
    plain = caffe.Classifier(deploy, weights)
    pred = plain.predict(images[:1], oversample=False)
    out["classify_plain"] = [list(pred.shape), pred.ravel().tolist()]
    files = []
    for k in range(2):
        path = os.path.join(tmpdir, f"det{k}.png")
        Image.fromarray(rng.randint(0, 256, (12, 10, 3)).astype(np.uint8)).save(path)
        files.append(path)
    det = caffe.Detector(deploy, weights, mean=np.array([0.5, 0.4, 0.3]), raw_scale=1.0)
    windows = [(files[0], [np.array([0, 0, 5, 5]), np.array([2, 1, 9, 7])]),
               (files[1], [np.array([3, 3, 12, 10])])]
    found = det.detect_windows(windows)
    out["detect"] = [[os.path.basename(d["filename"]), [int(v) for v in d["window"]],
                      np.asarray(d["prediction"]).ravel().tolist()] for d in found]
    out["detector_crop_dims"] = [int(v) for v in det.crop_dims]
    return out
