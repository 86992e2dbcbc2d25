"""caffe_compat against real pycaffe 1.0 on the cases of tests/pycaffe_cases.py.

Real pycaffe's answers were recorded by tests/tools/record_pycaffe.py (Debian 11's Caffe 1.0,
Python 3.9) into tests/data/pycaffe_real.json; here the same case code runs with
``import caffe_compat as caffe``. Covered: NetSpec's printed nets (pycaffe's test nets, naming
rules, the 2017 notebook's nets), its exceptions, coord_map, every caffe.io function,
Transformer, the Net views pycaffe adds, save_hdf5's layout, forward_all /
forward_backward_all, levels and stages, layer_type_list and draw's graphs.
"""
import builtins
import json
import os

import numpy as np
import pytest

import caffe_compat as caffe
import pycaffe_cases as cases

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "data", "pycaffe_real.json")) as _f:
    REAL = json.load(_f)


def _close(ours, real, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(real, dtype=float), rtol=rtol, atol=atol)


def _close_record(ours, real):
    """[shape, values] records (or plain lists) compared within float32 tolerance."""
    if isinstance(real, list) and len(real) == 2 and isinstance(real[0], list) and isinstance(real[1], list) \
            and all(isinstance(d, int) for d in real[0]):
        assert ours[0] == real[0]
        _close(ours[1], real[1])
    else:
        _close(ours, real)


def test_version_and_types():
    assert caffe.__version__ == REAL["version"]
    ours = caffe.layer_type_list()
    assert {"Data", "Convolution", "InnerProduct", "Python"} <= set(ours)
    assert ours == REAL["layer_type_list"]  # every layer type of Caffe 1.0, sorted as Caffe's registry


@pytest.mark.parametrize("key", sorted(REAL["netspec"]))
def test_netspec_prints_what_pycaffe_prints(key):
    ours = cases.netspec_texts(caffe)
    assert ours[key] == REAL["netspec"][key]


def test_netspec_nets_load():
    from google.protobuf import text_format

    for key in ("lenet", "anon_lenet", "notebook_ts_le_net"):
        param = caffe.proto.caffe_pb2.NetParameter()
        text_format.Merge(REAL["netspec"][key], param)
        assert len(param.layer) >= 9


def test_netspec_errors():
    real = REAL["netspec_errors"]
    ours = cases.netspec_errors(caffe)
    assert ours["tuple_input"] == real["tuple_input"]
    for key in ("unknown_field", "missing_attribute"):
        # Same exception class (ours may be a subclass, e.g. a KeyError hasattr() understands).
        assert key in ours
    with pytest.raises(getattr(builtins, real["missing_attribute"][0])):
        caffe.NetSpec().missing
    with pytest.raises(getattr(builtins, real["unknown_field"][0])):
        caffe.layers.Convolution(caffe.layers.Input(shape=dict(dim=[1])), no_such_field=3).to_proto()
    assert not hasattr(caffe.NetSpec(), "missing")


def test_coord_map():
    import caffe_compat.coord_map as coord_map

    ours = cases.coord_maps(caffe, coord_map)
    assert len(ours) == len(REAL["coord_map"])
    for mine, real in zip(ours, REAL["coord_map"]):
        assert mine["case"] == real["case"]
        for key in ("map", "crop_of_relu"):
            assert mine[key][0] == real[key][0], (mine["case"], key)
            _close(mine[key][1], real[key][1])
            _close(mine[key][2], real[key][2])
        assert mine["crop"] == real["crop"], mine["case"]


def test_io_serialized_messages():
    ours, real = cases.io_results(caffe), REAL["io"]
    for key in ("array_to_blobproto", "blobprotovector", "datum_uint8", "datum_float"):
        assert ours[key] == real[key], key
    assert ours["blobproto_legacy_shape"] == real["blobproto_legacy_shape"]
    assert ours["datum_back_uint8"] == real["datum_back_uint8"]
    assert ours["datum_2d"] == real["datum_2d"]
    for key in ("blobproto_to_array_diff", "datum_back_float"):
        _close(ours[key], real[key])
    for mine, theirs in zip(ours["blobprotovector_back"], real["blobprotovector_back"]):
        _close(mine, theirs)


def test_io_resize_oversample_transformer():
    ours, real = cases.io_results(caffe), REAL["io"]
    for key, (dtype, shape, values) in real["resize_image"].items():
        assert ours["resize_image"][key][:2] == [dtype, shape], key
        _close(ours["resize_image"][key][2], values, rtol=1e-5, atol=2e-6)
    for key in ("oversample", "oversample_odd", "transformer_pre", "transformer_resize"):
        _close_record(ours[key], real[key])
    _close(ours["transformer_de"], real["transformer_de"], rtol=1e-5, atol=1e-5)
    _close(ours["transformer_mean_resized"], real["transformer_mean_resized"], rtol=1e-5, atol=1e-4)
    assert ours["transformer_errors"] == real["transformer_errors"]


def test_load_image(tmp_path):
    from PIL import Image

    for key, (shape, pixels) in REAL["load_image_pixels"].items():
        Image.fromarray(np.asarray(pixels, dtype=np.uint8).reshape(shape)).save(tmp_path / f"{key}.png")
    for key, record in REAL["load_image"].items():
        if key == "pycaffe_load_image":  # Debian's pycaffe raises (scikit-image renamed as_grey)
            continue
        shape, values = record
        name, mode = key.rsplit("_", 1)
        img = caffe.io.load_image(str(tmp_path / f"{name}.png"), color=(mode == "color"))
        assert img.dtype == np.float32 and list(img.shape) == shape, key
        _close(img.ravel(), values, rtol=1e-6, atol=1e-6)


def test_net_views_and_batches(tmp_path):
    pytest.importorskip("h5py")
    ours, real = cases.net_results(caffe, str(tmp_path)), REAL["net"]
    assert ours["simple"] == real["simple"]
    assert ours["hdf5_layout"] == real["hdf5_layout"]
    assert ours["batches"] == real["batches"]
    assert ours["levels_stages"] == real["levels_stages"]
    for key, record in real["forward_all"].items():
        _close_record(ours["forward_all"][key], record)
    for mine, theirs in zip(ours["forward_backward_all"], real["forward_backward_all"]):
        assert sorted(mine) == sorted(theirs)
        for key in theirs:
            _close_record(mine[key], theirs[key])
    assert ours["not_batch_sized"].startswith(real["not_batch_sized"])
    assert ours["bad_input"].startswith(real["bad_input"].rstrip("."))


@pytest.mark.parametrize("key", [c[0] for c in cases.DRAW_NETS])
def test_draw_graph_is_pycaffes(key):
    import caffe_compat.draw as draw

    nets = {k: (text, rankdir, phase, lrm) for k, text, rankdir, phase, lrm in cases.draw_nets(caffe)}
    text, rankdir, phase, lrm = nets[key]
    ours = cases.draw_records(draw, caffe.proto.caffe_pb2, [(key, text, rankdir, phase, lrm)])[key]
    assert ours == REAL["draw"][key]


def test_draw_to_files(tmp_path):
    import shutil

    import caffe_compat.draw as draw
    from google.protobuf import text_format

    net = caffe.proto.caffe_pb2.NetParameter()
    text_format.Merge(REAL["netspec"]["lenet"], net)
    raw = tmp_path / "lenet.raw"
    draw.draw_net_to_file(net, str(raw), "TB")
    assert b"conv1" in raw.read_bytes() and b"digraph" in raw.read_bytes()
    if shutil.which("dot") is None:
        with pytest.raises(caffe.CaffeError, match="Graphviz"):
            draw.draw_net(net, "LR")
        return
    png = draw.draw_net(net, "LR")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    draw.draw_net_to_file(net, str(tmp_path / "lenet.svg"), phase=caffe.TRAIN)
    assert b"<svg" in (tmp_path / "lenet.svg").read_bytes()


def test_gpu_calls_warn_once_and_run_on_cpu(monkeypatch):
    import warnings

    from caffe_compat import runtime

    monkeypatch.setitem(runtime._state, "gpu_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        caffe.set_mode_gpu()
        caffe.set_device(0)
        caffe.set_mode_gpu()
    assert [str(w.message) for w in caught] == [
        "caffe_compat.set_mode_gpu(): this build computes on the CPU (numpy); the net runs there"]
    caffe.set_mode_cpu()
    assert caffe.has_nccl() is False and caffe.solver_count() == 1 and caffe.solver_rank() == 0
    timer = caffe.Timer()
    timer.start()
    timer.stop()
    assert timer.ms >= 0.0


def test_hdf5_without_h5py_names_the_extra(monkeypatch, tmp_path):
    import sys

    net = caffe.Net(cases._write(str(tmp_path), "b.prototxt", cases.BATCH_NET), caffe.TEST)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(caffe.CaffeError, match=r"h5py.*tscaffe\[hdf5\]"):
        net.save_hdf5(str(tmp_path / "w.h5"))


def test_hdf5_round_trip_and_mismatch(tmp_path):
    pytest.importorskip("h5py")
    path = cases._write(str(tmp_path), "b.prototxt", cases.BATCH_NET)
    net = caffe.Net(path, caffe.TEST)
    net.params["ip"][0].data[...] = np.arange(24, dtype=np.float32).reshape(3, 8)
    net.save_hdf5(str(tmp_path / "w.h5"))
    other = caffe.Net(path, caffe.TEST)
    other.load_hdf5(str(tmp_path / "w.h5"))
    np.testing.assert_array_equal(other.params["ip"][0].data, net.params["ip"][0].data)
    wider = caffe.Net(cases._write(str(tmp_path), "w.prototxt", cases.BATCH_NET.replace("num_output: 3", "num_output: 4")),
                      caffe.TEST)
    with pytest.raises(caffe.CaffeError, match="layer 'ip'.*dimension mismatch"):
        wider.load_hdf5(str(tmp_path / "w.h5"))


def test_private_views_as_pycaffe(tmp_path):
    net = caffe.Net(cases._write(str(tmp_path), "b.prototxt", cases.BATCH_NET), caffe.TEST)
    names = list(net.blobs)
    # pycaffe's _top_ids / _bottom_ids are methods taking the layer index
    assert [names[i] for i in net._top_ids(1)] == ["ip"] and [names[i] for i in net._bottom_ids(1)] == ["data"]
    assert [names[i] for i in net._inputs] == net.inputs and [names[i] for i in net._outputs] == net.outputs
    assert list(net._blob_names) == names and len(net._blob_loss_weights) == len(names)


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    return cases.app_results(caffe, str(tmp_path_factory.mktemp("apps")))


@pytest.mark.parametrize("key", ["classify_oversample_True", "classify_oversample_False", "classify_plain"])
def test_classifier_predicts_as_pycaffe(apps, key):
    _close_record(apps[key], REAL["apps"][key])


def test_detector_as_pycaffe(apps):
    ours, real = apps, REAL["apps"]
    assert ours["detector_crop_dims"] == real["detector_crop_dims"]
    assert [d[:2] for d in ours["detect"]] == [d[:2] for d in real["detect"]]
    for mine, theirs in zip(ours["detect"], real["detect"]):
        _close(mine[2], theirs[2])


def test_detector_context_pad_fills_outside_with_the_mean(tmp_path):
    # pycaffe 1.0 indexes with float boxes here, which Python 3's numpy refuses; ours crops.
    from pycaffe_cases_apps import _weights

    deploy, weights = _weights(caffe, str(tmp_path))
    det = caffe.Detector(deploy, weights, mean=np.array([0.5, 0.4, 0.3]), raw_scale=2.0, context_pad=1)
    image = np.full((12, 10, 3), 0.9, dtype=np.float32)
    crop = det.crop(image, np.array([0, 0, 5, 5]))
    assert crop.shape == (6, 6, 3)
    np.testing.assert_allclose(crop[0, 0], [0.25, 0.2, 0.15])  # mean / raw_scale, outside the image
    np.testing.assert_allclose(crop[-1, -1], [0.9, 0.9, 0.9], rtol=1e-6)
