"""Record real Caffe 1.0's forward and backward of the "complex" layer types.

    caffe-python3 tests/tools/record_real_caffe_complex_layers.py [--only CASE ...] [--out DIR]

Runs inside the Caffe chroot's python3 (pycaffe, numpy, h5py); imports nothing of this
project. Writes tests/data/real_caffe_layers/<case>.prototxt and <case>.npz in the key
conventions of ../shared/caffe-reference (README there): ``meta/phase``, ``in/<blob>``,
``param/<layer>/<k>``, ``out/<blob>``, ``topdiff/<blob>``, ``indiff/<blob>``,
``diff/<blob>``, ``paramdiff/<layer>/<k>``.

Layer cases: an Input layer named ``input`` gives the inputs, then the layer(s) under test,
``force_backward: true``. Forward, then every net output that is not a loss gets a random
diff (uniform in [-1, 1]), losses keep their loss weight, then one Backward with zeroed
parameter diffs. Parameters are N(0, 0.1^2) draws unless the case keeps Caffe's fillers
(``param/`` then holds what Caffe's filler gave). Labels and indices get no ``indiff/``.

Files: a case may need a file named in its prototxt (InfogainLoss's ``source``): it is
written next to the case as ``<case>.<name>`` and the stored prototxt names it by that
relative name (the tests point it at the stored file).

Data-layer cases (HDF5Data, HDF5Output, WindowData) are recorded by their own functions
below: their ``in/`` keys are the contents of the files Caffe read or was given (the tests
write them again), ``out/<top>/<k>`` what Caffe's k-th Forward gave.

``complex_errors.json`` (same folder): for each of ``ERROR_CASES``, a net real Caffe refuses
(at construction, at a Forward or in Backward) and the fatal message it printed.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "data", "real_caffe_layers")
FILL = 'weight_filler { type: "gaussian" std: 1 } bias_filler { type: "gaussian" std: 1 }'


def rng(seed):
    return np.random.RandomState(seed)


def normal(seed, *shape):
    return rng(seed).normal(size=shape).astype(np.float32)


def labels(seed, n, classes, shape=None):
    return rng(seed).randint(0, classes, size=shape or (n,)).astype(np.float32)


def _deconv(params):
    return f'layer {{ name: "deconv" type: "Deconvolution" bottom: "x" top: "y" convolution_param {{ {params} }} }}'


def _loss(type_, bottoms, extra="", tops=("loss",)):
    b = " ".join(f'bottom: "{n}"' for n in bottoms)
    t = " ".join(f'top: "{n}"' for n in tops)
    return f'layer {{ name: "loss" type: "{type_}" {b} {t} {extra} }}'


def _infogain_h(seed, k):
    h = rng(seed).uniform(0, 1, size=(k, k)).astype(np.float32)
    return h + np.eye(k, dtype=np.float32)


CASES = {
    # -- Deconvolution ----------------------------------------------------------------
    "deconv_stride2_pad1": dict(
        what="Deconvolution num_output 3 kernel 4 stride 2 pad 1",
        layers=_deconv("num_output: 3 kernel_size: 4 stride: 2 pad: 1"),
        inputs={"x": normal(1, 2, 2, 3, 4)}),
    "deconv_group_dilation": dict(
        what="Deconvolution num_output 4 group 2 kernel 3 dilation 2",
        layers=_deconv("num_output: 4 kernel_size: 3 group: 2 dilation: 2"),
        inputs={"x": normal(2, 2, 4, 3, 3)}),
    "deconv_rect_nobias": dict(
        what="Deconvolution kernel 2x3 stride 2x1 pad 1x0, no bias",
        layers=_deconv("num_output: 2 kernel_h: 2 kernel_w: 3 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0 "
                       "bias_term: false"),
        inputs={"x": normal(3, 2, 3, 3, 4)}),
    "deconv_bilinear_fcn": dict(
        what="FCN upsampling: Deconvolution group = channels, kernel 4 stride 2, bilinear filler, lr_mult 0",
        layers=('layer { name: "deconv" type: "Deconvolution" bottom: "x" top: "y" param { lr_mult: 0 } '
                'convolution_param { num_output: 3 group: 3 kernel_size: 4 stride: 2 bias_term: false '
                'weight_filler { type: "bilinear" } } }'),
        inputs={"x": normal(4, 1, 3, 5, 5)}, keep_params=True),
    # -- Embed ------------------------------------------------------------------------
    # Without force_backward (Caffe's Embed refuses it) a layer gets a backward only when it
    # leads to a loss: a EuclideanLoss against a target input follows the Embed.
    "embed_bias": dict(
        what="Embed input_dim 7 num_output 5 (bias) -> EuclideanLoss; repeated indices accumulate",
        layers=('layer { name: "embed" type: "Embed" bottom: "i" top: "y" embed_param { input_dim: 7 num_output: 5 } }\n'
                + _loss("EuclideanLoss", ("y", "t"))),
        inputs={"i": np.array([[0, 3, 3], [6, 1, 3]], np.float32), "t": normal(30, 2, 3, 5)},
        nograd=("i", "t"), force=False),
    "embed_nobias": dict(
        what="Embed input_dim 4 num_output 3 bias_term false on a 1-D index blob -> EuclideanLoss",
        layers=('layer { name: "embed" type: "Embed" bottom: "i" top: "y" '
                'embed_param { input_dim: 4 num_output: 3 bias_term: false } }\n'
                + _loss("EuclideanLoss", ("y", "t"))),
        inputs={"i": np.array([2, 0, 2, 3, 2], np.float32), "t": normal(31, 5, 3)}, nograd=("i", "t"), force=False),
    # -- ContrastiveLoss --------------------------------------------------------------
    "contrastive": dict(
        what="ContrastiveLoss margin 1 (default) on (N, C, 1, 1), similar and dissimilar pairs, some beyond the margin",
        layers=_loss("ContrastiveLoss", ("a", "b", "sim")),
        inputs={"a": 0.4 * normal(5, 6, 4, 1, 1), "b": 0.4 * normal(6, 6, 4, 1, 1),
                "sim": np.array([1, 0, 0, 1, 0, 0], np.float32).reshape(6, 1, 1, 1)}, nograd=("sim",)),
    "contrastive_legacy": dict(
        what="ContrastiveLoss margin 2 legacy_version true, loss_weight 0.5",
        layers=_loss("ContrastiveLoss", ("a", "b", "sim"),
                     "loss_weight: 0.5 contrastive_loss_param { margin: 2 legacy_version: true }"),
        inputs={"a": 0.6 * normal(7, 6, 3), "b": 0.6 * normal(8, 6, 3),
                "sim": np.array([0, 1, 0, 0, 1, 0], np.float32)}, nograd=("sim",)),
    # -- HingeLoss --------------------------------------------------------------------
    "hinge_l1": dict(
        what="HingeLoss L1 (default) on (N, C)",
        layers=_loss("HingeLoss", ("x", "label")),
        inputs={"x": normal(9, 5, 4), "label": labels(10, 5, 4)}, nograd=("label",)),
    "hinge_l2": dict(
        what="HingeLoss L2 on (N, C, H, W) (labels index the flattened C*H*W), loss_weight 2",
        layers=_loss("HingeLoss", ("x", "label"), "loss_weight: 2 hinge_loss_param { norm: L2 }"),
        inputs={"x": normal(11, 3, 2, 2, 2), "label": labels(12, 3, 8)}, nograd=("label",)),
    # -- InfogainLoss -----------------------------------------------------------------
    "infogain_bottom": dict(
        what="InnerProduct then InfogainLoss with H as the third bottom, two tops (loss, prob); no "
             "force_backward (Caffe refuses to force a gradient into H)",
        layers=('layer { name: "ip" type: "InnerProduct" bottom: "x" top: "s" inner_product_param { num_output: 5 } }\n'
                + _loss("InfogainLoss", ("s", "label", "H"), "loss_weight: 1 loss_weight: 0", tops=("loss", "prob"))),
        inputs={"x": normal(13, 4, 5), "label": labels(14, 4, 5), "H": _infogain_h(15, 5)},
        nograd=("x", "label", "H"), force=False),
    "infogain_source_axis": dict(
        what="InfogainLoss with H from infogain_loss_param.source (binaryproto), axis 1 on (N, C, H, W), "
             "ignore_label 1, normalization VALID",
        layers=_loss("InfogainLoss", ("x", "label"),
                     'infogain_loss_param { source: "H.binaryproto" axis: 1 } '
                     'loss_param { ignore_label: 1 normalization: VALID }'),
        inputs={"x": normal(16, 2, 3, 2, 3), "label": labels(17, 2, 3, (2, 1, 2, 3))},
        nograd=("label",), files={"H.binaryproto": _infogain_h(18, 3).reshape(1, 1, 3, 3)}),
    # -- MultinomialLogisticLoss ------------------------------------------------------
    "multinomial_logistic": dict(
        what="MultinomialLogisticLoss on probabilities, one below Caffe's 1e-20 threshold",
        layers=_loss("MultinomialLogisticLoss", ("p", "label")),
        inputs={"p": np.array([[0.2, 0.5, 0.3], [0.7, 0.1, 0.2], [1e-25, 0.5, 0.5], [0.3, 0.3, 0.4]],
                              np.float32),
                "label": np.array([1, 0, 0, 2], np.float32)}, nograd=("label",)),
    # -- SPP --------------------------------------------------------------------------
    "spp_max3": dict(
        what="SPP pyramid_height 3 MAX on 9x10",
        layers='layer { name: "spp" type: "SPP" bottom: "x" top: "y" spp_param { pyramid_height: 3 } }',
        inputs={"x": normal(19, 2, 3, 9, 10)}),
    "spp_ave2": dict(
        what="SPP pyramid_height 2 AVE on 7x5",
        layers='layer { name: "spp" type: "SPP" bottom: "x" top: "y" spp_param { pyramid_height: 2 pool: AVE } }',
        inputs={"x": normal(20, 2, 2, 7, 5)}),
    "spp_height1": dict(
        what="SPP pyramid_height 1 (one global pooling, top stays 4-D)",
        layers='layer { name: "spp" type: "SPP" bottom: "x" top: "y" spp_param { pyramid_height: 1 } }',
        inputs={"x": normal(21, 2, 3, 4, 6)}),
}


def net_text(case):
    lines = ["name: \"case\""] + (["force_backward: true"] if case.get("force", True) else []) + [
             'layer { name: "input" type: "Input" ' + " ".join(f'top: "{n}"' for n in case["inputs"])
             + " input_param { "
             + " ".join("shape { " + " ".join(f"dim: {d}" for d in a.shape) + " }" for a in case["inputs"].values())
             + " } }", case["layers"]]
    return "\n".join(lines) + "\n"


def record_layer_case(caffe, name, case, tmp):
    text = net_text(case)
    run_text = text
    for fname, value in case.get("files", {}).items():
        stored = os.path.join(OUT, f"{name}.{fname}")
        with open(stored, "wb") as f:
            f.write(caffe.io.array_to_blobproto(value).SerializeToString())
        run_text = run_text.replace(f'"{fname}"', f'"{stored}"')
        text = text.replace(f'"{fname}"', f'"{name}.{fname}"')
    path = os.path.join(tmp, name + ".prototxt")
    with open(path, "w") as f:
        f.write(run_text)
    phase = case.get("phase", 1)
    net = caffe.Net(path, phase)
    arrays = {"meta/phase": np.array(phase, np.int32)}
    for n, a in case["inputs"].items():
        net.blobs[n].data[...] = a
        arrays[f"in/{n}"] = a
    g = rng(1000 + sum(map(ord, name)))
    for lname, params in net.params.items():
        for k, p in enumerate(params):
            if not case.get("keep_params"):
                p.data[...] = g.normal(0, 0.1, size=p.data.shape)
            arrays[f"param/{lname}/{k}"] = p.data.copy()
            p.diff[...] = 0
    net.forward()
    losses = {n for n, w in net.blob_loss_weights.items() if w != 0}
    for n in net.outputs:
        if n not in losses:
            net.blobs[n].diff[...] = g.uniform(-1, 1, size=net.blobs[n].diff.shape)
        arrays[f"topdiff/{n}"] = net.blobs[n].diff.copy()
    for n, b in net.blobs.items():
        if n not in case["inputs"] and "_split_" not in n:
            arrays[f"out/{n}"] = b.data.copy()
    net.backward()
    for n, b in net.blobs.items():
        if "_split_" in n or n in net.outputs:
            continue
        if n in case["inputs"]:
            if n not in case.get("nograd", ()):
                arrays[f"indiff/{n}"] = b.diff.copy()
        else:
            arrays[f"diff/{n}"] = b.diff.copy()
    for lname, params in net.params.items():
        for k, p in enumerate(params):
            arrays[f"paramdiff/{lname}/{k}"] = p.diff.copy()
    save(name, text, arrays)


def save(name, text, arrays):
    with open(os.path.join(OUT, name + ".prototxt"), "w") as f:
        f.write(text)
    np.savez_compressed(os.path.join(OUT, name + ".npz"), **arrays)
    print(name, sorted(arrays), file=sys.stderr)


def _input(**shapes):
    tops = " ".join(f'top: "{n}"' for n in shapes)
    dims = " ".join("shape { " + " ".join(f"dim: {d}" for d in s) + " }" for s in shapes.values())
    return f'layer {{ name: "input" type: "Input" {tops} input_param {{ {dims} }} }}\n'


# Nets real Caffe refuses: ``net`` (``TMP/`` stands for a scratch folder, which holds an empty
# ``empty.txt``), ``run``: build (default), forward N times, or forward + backward with ``feed``.
ERROR_CASES = {
    "deconv_no_num_output": dict(net=_input(x=(1, 2, 4, 4)) + _deconv("kernel_size: 3")),
    "deconv_group_channels": dict(net=_input(x=(1, 3, 4, 4)) + _deconv("num_output: 4 kernel_size: 3 group: 2")),
    "embed_no_input_dim": dict(net=_input(i=(3,)) + 'layer { name: "embed" type: "Embed" bottom: "i" top: "y" '
                                                     'embed_param { num_output: 2 } }'),
    "embed_force_backward": dict(
        net="force_backward: true\n" + _input(i=(3,)) + 'layer { name: "embed" type: "Embed" bottom: "i" '
                                                          'top: "y" embed_param { num_output: 2 input_dim: 4 } }',
        feed={"i": [0, 3, 1]}, run="backward"),
    "spp_pad_not_below_kernel": dict(
        net=_input(x=(1, 1, 3, 3)) + 'layer { name: "spp" type: "SPP" bottom: "x" top: "y" spp_param { pyramid_height: 3 } }'),
    "infogain_no_source": dict(net=_input(x=(2, 3), label=(2,)) + _loss("InfogainLoss", ("x", "label"))),
    "infogain_normalize": dict(net=_input(x=(2, 3), label=(2,), H=(3, 3))
                               + _loss("InfogainLoss", ("x", "label", "H"), "loss_param { normalize: true }")),
    "infogain_force_backward_h": dict(
        net="force_backward: true\n" + _input(x=(2, 3), label=(2,), H=(3, 3)) + _loss("InfogainLoss", ("x", "label", "H")),
        feed={"x": [[0, 1, 2], [1, 0, 0]], "label": [0, 2], "H": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}, run="backward"),
    "contrastive_channels": dict(net=_input(a=(4, 3), b=(4, 2), s=(4,)) + _loss("ContrastiveLoss", ("a", "b", "s"))),
    "multinomial_label_shape": dict(net=_input(p=(4, 3), label=(4, 2)) + _loss("MultinomialLogisticLoss", ("p", "label"))),
    "hdf5_data_transform": dict(net='layer { name: "h5" type: "HDF5Data" top: "data" transform_param { scale: 2 } '
                                    'hdf5_data_param { source: "TMP/empty.txt" batch_size: 2 } }'),
    "hdf5_data_no_source": dict(net='layer { name: "h5" type: "HDF5Data" top: "data" '
                                    'hdf5_data_param { source: "TMP/absent.txt" batch_size: 2 } }'),
    "hdf5_data_empty_list": dict(net='layer { name: "h5" type: "HDF5Data" top: "data" '
                                     'hdf5_data_param { source: "TMP/empty.txt" batch_size: 2 } }'),
    "hdf5_output_twice": dict(net=_input(data=(2, 3), label=(2,)) + 'layer { name: "out" type: "HDF5Output" '
                                  'bottom: "data" bottom: "label" hdf5_output_param { file_name: "TMP/out.h5" } }',
                              run="forward2"),
    "window_data_empty_file": dict(net='layer { name: "win" type: "WindowData" top: "data" top: "label" '
                                       'window_data_param { source: "TMP/empty.txt" batch_size: 2 } '
                                       'transform_param { crop_size: 4 } }'),
}
FATAL = re.compile(r"^F\d{4} [\d:.]+ +\d+ (\S+?):\d+\] (.*)$", re.M)


def record_error(name, case, tmp):
    """Caffe's fatal message for a net it refuses, from a child process."""
    folder = os.path.join(tmp, "err_" + name)
    os.makedirs(folder)
    open(os.path.join(folder, "empty.txt"), "w").close()
    path = os.path.join(folder, "net.prototxt")
    with open(path, "w") as f:
        f.write(f'name: "{name}"\n' + case["net"].replace("TMP/", folder + "/") + "\n")
    code = f"import caffe; net = caffe.Net({path!r}, caffe.TEST)"
    for blob, values in case.get("feed", {}).items():
        code += f"; net.blobs[{blob!r}].data[...] = {values!r}"
    run = case.get("run", "build")
    if run == "backward":
        code += "; net.forward(); net.backward()"
    elif run.startswith("forward"):
        code += "; net.forward()" * int(run[len("forward"):])
    env = dict(os.environ, GLOG_logtostderr="1", GLOG_minloglevel="0")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    m = FATAL.search(proc.stderr)
    if proc.returncode == 0 or not m:
        raise SystemExit(f"{name}: Caffe did not refuse this net:\n{proc.stderr[-2000:]}")
    entry = dict(case, file=m.group(1), message=m.group(2).replace(folder + "/", "TMP/").strip())
    entry.setdefault("run", "build")
    return entry


def main():
    global OUT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="record only these cases")
    ap.add_argument("--out", default=OUT, help="folder to write (default: tests/data/real_caffe_layers)")
    args = ap.parse_args()
    OUT = args.out
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe

    caffe.set_mode_cpu()
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in CASES.items():
            if not args.only or name in args.only:
                record_layer_case(caffe, name, case, tmp)
        for name, fn in DATA_CASES.items():
            if not args.only or name in args.only:
                fn(caffe, name, tmp)
        errors_path = os.path.join(OUT, "complex_errors.json")
        errors = {}
        if os.path.exists(errors_path):
            with open(errors_path) as f:
                errors = json.load(f)
        for name, case in ERROR_CASES.items():
            if not args.only or name in args.only:
                errors[name] = record_error(name, case, tmp)
                print(name, errors[name]["message"], file=sys.stderr)
        with open(errors_path, "w") as f:
            json.dump(errors, f, indent=1, sort_keys=True)
            f.write("\n")


def _hdf5_files(seed):
    """Two files: 5 rows (float32 data, int32 labels) and 3 rows (float64 data)."""
    g = rng(seed)
    return [{"data": g.normal(size=(5, 2, 3)).astype(np.float32),
             "label": g.randint(0, 10, size=5).astype(np.int32)},
            {"data": g.normal(size=(3, 2, 3)).astype(np.float64),
             "label": g.randint(0, 10, size=3).astype(np.int32)}]


def record_hdf5_data(caffe, name, tmp):
    """HDF5Data batch_size 4 over the two files listed in ``list.txt`` (5 + 3 rows: batches
    cross the files and wrap around); ``out/<top>/<k>`` = the k-th Forward's tops."""
    import h5py

    files = _hdf5_files(40)
    arrays = {"meta/phase": np.array(1, np.int32)}
    paths = []
    for i, datasets in enumerate(files):
        path = os.path.join(tmp, f"part{i}.h5")
        with h5py.File(path, "w") as f:
            for key, value in datasets.items():
                f.create_dataset(key, data=value)
                arrays[f"in/file{i}/{key}"] = value
        paths.append(path)
    with open(os.path.join(tmp, "list.txt"), "w") as f:
        f.write(paths[0] + "\n  " + paths[1] + " \n")
    text = ('name: "case"\nlayer { name: "h5" type: "HDF5Data" top: "data" top: "label" '
            'hdf5_data_param { source: "list.txt" batch_size: 4 } }\n')
    path = os.path.join(tmp, name + ".prototxt")
    with open(path, "w") as f:
        f.write(text.replace('"list.txt"', '"%s"' % os.path.join(tmp, "list.txt")))
    net = caffe.Net(path, 1)
    for k in range(4):
        net.forward()
        for top in ("data", "label"):
            arrays[f"out/{top}/{k}"] = net.blobs[top].data.copy()
    save(name, text, arrays)


def record_hdf5_output(caffe, name, tmp):
    """HDF5Output of a (3, 2, 2) data and a (3,) label: ``out/file/<dataset>`` = what Caffe
    wrote (read back with h5py)."""
    import gc

    import h5py

    inputs = {"data": normal(41, 3, 2, 2), "label": np.array([3, 0, 7], np.float32)}
    case = dict(inputs=inputs, force=False,
                layers='layer { name: "out" type: "HDF5Output" bottom: "data" bottom: "label" '
                       'hdf5_output_param { file_name: "out.h5" } }')
    text = net_text(case)
    out = os.path.join(tmp, "out.h5")
    path = os.path.join(tmp, name + ".prototxt")
    with open(path, "w") as f:
        f.write(text.replace('"out.h5"', '"%s"' % out))
    net = caffe.Net(path, 1)
    arrays = {"meta/phase": np.array(1, np.int32)}
    for k, v in inputs.items():
        net.blobs[k].data[...] = v
        arrays[f"in/{k}"] = v
    net.forward()
    del net
    gc.collect()
    with h5py.File(out, "r") as f:
        for key in f:
            arrays[f"out/file/{key}"] = f[key][...]
    save(name, text, arrays)


# WindowData: one foreground and one background window survive the thresholds in each case
# (others fall between them), so Caffe's random picks cannot change the batch; only
# window_mirror leaves a coin flip per item (the test accepts either side).
WINDOW_CASES = {
    "window_warp": dict(
        what="WindowData crop_mode warp, crop 8, mean_value, scale 0.5, fg_fraction 0.5, a dropped window",
        images=[(17, 23)],
        windows="# 0\nimg0.png\n3\n17\n23\n3\n3 0.8 2 3 14 12\n5 0.1 0 0 22 16\n2 0.45 1 1 5 5\n",
        params=("window_data_param { source: \"windows.txt\" root_folder: \"ROOT/\" batch_size: 4 "
                "fg_threshold: 0.6 bg_threshold: 0.3 fg_fraction: 0.5 scale: 0.5 } "
                "transform_param { crop_size: 8 mean_value: 10 mean_value: 20 mean_value: 30 }")),
    "window_context_square": dict(
        what="WindowData crop_mode square, context_pad 2, crop 10, boxes past the image border, mean_file "
             "(12 x 12: read at offset 1), two images, fg_fraction 0.5",
        images=[(15, 19), (21, 13)],
        windows=("# 0\nimg0.png\n3\n15\n19\n1\n0 0.2 10 1 18 9\n"
                 "# 1\nimg1.png\n3\n21\n13\n1\n4 0.9 0 3 6 20\n"),
        params=("window_data_param { source: \"windows.txt\" root_folder: \"ROOT/\" batch_size: 2 "
                "fg_fraction: 0.5 context_pad: 2 crop_mode: \"square\" } "
                "transform_param { crop_size: 10 mean_file: \"window_context_square.mean.binaryproto\" }"),
        mean=(1, 3, 12, 12)),
    "window_context_warp": dict(
        what="WindowData crop_mode warp, context_pad 3, crop 11, a box clipped on every side, "
             "fg_fraction 0.25 (3 background + 1 foreground)",
        images=[(14, 16)],
        windows="# 0\nimg0.png\n3\n14\n16\n2\n1 0.7 1 1 14 12\n0 0.0 3 4 9 8\n",
        params=("window_data_param { source: \"windows.txt\" root_folder: \"ROOT/\" batch_size: 4 "
                "context_pad: 3 } transform_param { crop_size: 11 }")),
    "window_mirror": dict(
        what="WindowData mirror, crop_mode square, context_pad 1 (the padding mirrors too), batch 8",
        images=[(12, 20)],
        windows="# 0\nimg0.png\n3\n12\n20\n2\n2 0.9 0 2 8 10\n0 0.0 11 0 19 5\n",
        params=("window_data_param { source: \"windows.txt\" root_folder: \"ROOT/\" batch_size: 8 "
                "fg_fraction: 0.5 context_pad: 1 crop_mode: \"square\" } "
                "transform_param { crop_size: 9 mirror: true }")),
}


def record_window_data(caffe, name, tmp):
    """``in/image<k>``: the RGB pixels of the PNG files; ``in/window_file``: the window file's
    bytes (image names relative to root_folder ROOT/); ``out/data/0``, ``out/label/0``: the
    first batch."""
    from PIL import Image

    case = WINDOW_CASES[name]
    g = rng(50 + len(name))
    arrays = {"meta/phase": np.array(0, np.int32),
              "in/window_file": np.frombuffer(case["windows"].encode(), np.uint8)}
    for k, (h, w) in enumerate(case["images"]):
        rgb = g.randint(0, 256, size=(h, w, 3)).astype(np.uint8)
        Image.fromarray(rgb).save(os.path.join(tmp, f"img{k}.png"))
        arrays[f"in/image{k}"] = rgb
    with open(os.path.join(tmp, "windows.txt"), "w") as f:
        f.write(case["windows"])
    text = f'name: "case"\nlayer {{ name: "win" type: "WindowData" top: "data" top: "label" {case["params"]} }}\n'
    run_text = text.replace('"windows.txt"', '"%s"' % os.path.join(tmp, "windows.txt")).replace('"ROOT/"', '"%s/"' % tmp)
    if "mean" in case:
        mean = g.uniform(0, 255, size=case["mean"]).astype(np.float32)
        stored = os.path.join(OUT, f"{name}.mean.binaryproto")
        with open(stored, "wb") as f:
            f.write(caffe.io.array_to_blobproto(mean).SerializeToString())
        run_text = run_text.replace(f'"{name}.mean.binaryproto"', '"%s"' % stored)
    path = os.path.join(tmp, name + ".prototxt")
    with open(path, "w") as f:
        f.write(run_text)
    caffe.set_random_seed(7)  # WindowData's prefetch generator is seeded from Caffe's
    net = caffe.Net(path, 0)
    net.forward()
    arrays["out/data/0"] = net.blobs["data"].data.copy()
    arrays["out/label/0"] = net.blobs["label"].data.copy()
    del net
    save(name, text, arrays)


DATA_CASES = {"hdf5_data": record_hdf5_data, "hdf5_output": record_hdf5_output}
DATA_CASES.update({name: record_window_data for name in WINDOW_CASES})

if __name__ == "__main__":
    main()
