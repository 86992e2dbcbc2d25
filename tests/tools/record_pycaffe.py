"""Record real pycaffe 1.0's answers to the cases of tests/pycaffe_cases.py.

    caffe-python3 tests/tools/record_pycaffe.py [--out tests/data/pycaffe_real.json]

Runs inside Debian 11's Caffe 1.0 (``caffe-python3``: Python 3.9 with ``import caffe``): the
printed NetSpec nets (pycaffe's own test nets, naming cases, the 2017 notebook's nets),
coord_map results, caffe.io conversions, resizes, crops and Transformer results, Net views,
the HDF5 layout of save_hdf5, forward_all / forward_backward_all, levels and stages,
layer_type_list, the graphs caffe.draw builds, and the six solver classes driven through
pycaffe (get_solver, step, callbacks, snapshot files, restore, solve, apply_update), and
Classifier / Detector predictions on a small net with seeded weights. Real Caffe's Python has no pydot, so
``pydot`` is replaced by a small recorder of the nodes and edges draw.py creates.

Also recorded: ``load_image`` as pycaffe computes it with scikit-image (pycaffe 1.0 passes
``as_grey``, which scikit-image 0.18 no longer accepts, so on Debian it raises; the recording
calls scikit-image with the renamed ``as_gray`` to get the values pycaffe meant).
"""
import argparse
import os
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, HERE)


class _Element:
    def __init__(self, name="", **attrs):
        self.name = name
        self.attrs = attrs

    def get_name(self):
        return self.name

    def get_attributes(self):
        return self.attrs


class _Edge:
    def __init__(self, src, dst, **attrs):
        self.src, self.dst, self.attrs = src.name, dst.name, attrs

    def get_source(self):
        return self.src

    def get_destination(self):
        return self.dst

    def get_attributes(self):
        return self.attrs


class _Dot(_Element):
    def __init__(self, name, **attrs):
        super().__init__(name, **attrs)
        self.nodes, self.edges = [], []

    def add_node(self, node):
        self.nodes.append(node)

    def add_edge(self, edge):
        self.edges.append(edge)

    def get_nodes(self):
        return self.nodes

    def get_edges(self):
        return self.edges


def _fake_pydot():
    module = types.ModuleType("pydot")
    module.Dot, module.Node, module.Edge = _Dot, _Element, _Edge
    return module


def _load_image_as_gray(filename, color=True):
    """pycaffe 1.0's load_image with scikit-image 0.18's keyword (as_gray, not as_grey)."""
    import skimage
    import skimage.io

    img = skimage.img_as_float(skimage.io.imread(filename, as_gray=not color)).astype(np.float32)
    if img.ndim == 2:
        img = img[:, :, np.newaxis]
        if color:
            img = np.tile(img, (1, 1, 3))
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    return img


def _load_image_values(tmpdir):
    from PIL import Image

    rng = np.random.RandomState(11)
    out = {}
    images = {"rgb": rng.randint(0, 256, (5, 4, 3)).astype(np.uint8),
              "rgba": rng.randint(0, 256, (3, 6, 4)).astype(np.uint8),
              "gray": rng.randint(0, 256, (4, 3)).astype(np.uint8)}
    for key, pixels in images.items():
        path = os.path.join(tmpdir, key + ".png")
        Image.fromarray(pixels).save(path)
        for color in (True, False):
            img = _load_image_as_gray(path, color)
            out[f"{key}_{'color' if color else 'gray'}"] = [list(img.shape), img.ravel().tolist()]
    try:
        import caffe

        caffe.io.load_image(os.path.join(tmpdir, "rgb.png"))
        out["pycaffe_load_image"] = "ok"
    except Exception as e:
        out["pycaffe_load_image"] = f"{type(e).__name__}: {e}"
    return out, {k: [list(v.shape), v.ravel().tolist()] for k, v in images.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "tests", "data", "pycaffe_real.json"))
    args = parser.parse_args(argv)
    sys.modules.setdefault("pydot", _fake_pydot())
    import caffe
    import caffe.coord_map
    import caffe.draw

    import pycaffe_cases as cases
    from _record import write_json

    caffe.set_mode_cpu()
    record = {"version": caffe.__version__, "layer_type_list": sorted(caffe.layer_type_list()),
              "netspec": cases.netspec_texts(caffe), "netspec_errors": cases.netspec_errors(caffe),
              "coord_map": cases.coord_maps(caffe, caffe.coord_map), "io": cases.io_results(caffe),
              "draw": cases.draw_records(caffe.draw, caffe.proto.caffe_pb2, cases.draw_nets(caffe))}
    with tempfile.TemporaryDirectory() as tmpdir:
        record["net"] = cases.net_results(caffe, tmpdir)
        record["solvers"] = cases.solver_results(caffe, tmpdir)
        # Detector reads images with caffe.io.load_image, which fails on Debian (as_grey):
        # the cases run with the same function calling scikit-image's renamed as_gray.
        caffe.io.load_image = _load_image_as_gray
        record["apps"] = cases.app_results(caffe, tmpdir)
        record["load_image"], record["load_image_pixels"] = _load_image_values(tmpdir)
    write_json(args.out, record)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
