"""HDF5Data and HDF5Output: files written by h5py here read (and written) as real Caffe 1.0
reads (and writes) them, recorded by tests/tools/record_real_caffe_complex_layers.py; shuffle's
guarantees; the refusals; and the clear error when h5py is missing."""
import sys

import h5py  # in the test extra (and the hdf5 extra)
import numpy as np
import pytest

from caffe_compat.errors import CaffeError, LayerSetupError
from caffe_compat.net import Net
from gradcheck import layer_from_text, setup_shapes
from real_caffe_layers import DATA, load_case


def write_h5(path, **datasets):
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f.create_dataset(k, data=v)
    return str(path)


def hdf5_data(tmp_path, files, params="batch_size: 4", tops=("data", "label"), text=None):
    paths = [write_h5(tmp_path / f"part{i}.h5", **d) for i, d in enumerate(files)]
    (tmp_path / "list.txt").write_text(" \n".join(paths) + "\n")
    t = " ".join(f'top: "{n}"' for n in tops)
    text = text or (f'name: "h5" type: "HDF5Data" {t} hdf5_data_param {{ source: "list.txt" {params} }}')
    layer = layer_from_text(text.replace('"list.txt"', f'"{tmp_path / "list.txt"}"'))
    return layer


def test_reads_what_caffe_reads(tmp_path):
    """Caffe's four batches of 4 over a 5-row and a 3-row file (float32 and float64 data,
    int32 labels): across the file boundary and around the list, bit for bit."""
    param, arrays = load_case("hdf5_data")
    files = [{k: arrays[f"in/file{i}/{k}"] for k in ("data", "label")} for i in range(2)]
    paths = [write_h5(tmp_path / f"part{i}.h5", **d) for i, d in enumerate(files)]
    (tmp_path / "list.txt").write_text(paths[0] + "\n  " + paths[1] + " \n")
    param.layer[0].hdf5_data_param.source = str(tmp_path / "list.txt")
    net = Net(param, 1)
    for k in range(4):
        net.forward()
        for top in ("data", "label"):
            want = arrays[f"out/{top}/{k}"]
            assert net.blobs[top].shape == want.shape
            np.testing.assert_array_equal(net.blobs[top].data, want, err_msg=f"{top} batch {k}")


def test_round_trip_of_h5py_files(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(6, 3, 2, 2)).astype(np.float32)
    extra = rng.integers(0, 100, size=(6, 2)).astype(np.int64)
    layer = hdf5_data(tmp_path, [{"data": data, "extra": extra}], "batch_size: 6", tops=("data", "extra"))
    bottom, top = setup_shapes(layer, num_top=2)
    assert [t.shape for t in top] == [(6, 3, 2, 2), (6, 2)]
    layer.forward(bottom, top)
    np.testing.assert_array_equal(top[0].data, data)
    np.testing.assert_array_equal(top[1].data, extra.astype(np.float32))


def test_shuffle_keeps_files_whole(tmp_path):
    """shuffle: every pass serves each file's rows as a permutation of them, one file at a time."""
    files = [{"data": np.arange(5, dtype=np.float32).reshape(5, 1) + 100 * i} for i in range(3)]
    layer = hdf5_data(tmp_path, files, "batch_size: 4 shuffle: true", tops=("data",))
    bottom, top = setup_shapes(layer, num_top=1)
    seen = []
    for _ in range(15):  # 60 rows = 4 passes over the 15
        layer.forward(bottom, top)
        seen += list(top[0].data[:, 0])
    passes = [seen[i:i + 15] for i in range(0, 60, 15)]
    for p in passes:
        blocks = [p[i:i + 5] for i in range(0, 15, 5)]
        assert sorted(int(b[0]) // 100 for b in blocks) == [0, 1, 2]
        for b in blocks:
            base = int(b[0]) // 100 * 100
            assert sorted(b) == [base + r for r in range(5)]
    assert len({tuple(p) for p in passes}) > 1  # the order does change


@pytest.mark.parametrize("make,message", [
    (lambda t: (t / "list.txt").write_text(""), "Must have at least 1 HDF5 filename"),
    (lambda t: (t / "list.txt").write_text(str(t / "absent.h5")), "Failed opening HDF5 file"),
    (lambda t: (t / "list.txt").write_text(write_h5(t / "a.h5", data=np.zeros((2, 1)))), "no dataset 'label'"),
    (lambda t: (t / "list.txt").write_text(write_h5(t / "a.h5", data=np.zeros((2, 1)), label=np.zeros(3))),
     "same number of rows"),
])
def test_file_errors(tmp_path, make, message):
    make(tmp_path)
    layer = layer_from_text(f'name: "h5" type: "HDF5Data" top: "data" top: "label" '
                            f'hdf5_data_param {{ source: "{tmp_path / "list.txt"}" batch_size: 2 }}')
    with pytest.raises(LayerSetupError, match="Layer 'h5' \\(HDF5Data\\): .*" + message):
        setup_shapes(layer, num_top=2)


def test_parameter_errors(tmp_path):
    with pytest.raises(LayerSetupError, match="Failed to open source file .*hdf5_data_param.source"):
        setup_shapes(layer_from_text(f'name: "h5" type: "HDF5Data" top: "data" hdf5_data_param '
                                     f'{{ source: "{tmp_path / "none.txt"}" batch_size: 2 }}'), num_top=1)
    with pytest.raises(LayerSetupError, match="does not transform data"):
        setup_shapes(layer_from_text('name: "h5" type: "HDF5Data" top: "data" transform_param { scale: 2 } '
                                     'hdf5_data_param { source: "x" batch_size: 2 }'), num_top=1)
    with pytest.raises(LayerSetupError, match="batch_size must be positive"):
        setup_shapes(layer_from_text('name: "h5" type: "HDF5Data" top: "data" hdf5_data_param { source: "x" }'),
                     num_top=1)


def test_output_writes_what_caffe_writes(tmp_path):
    """Caffe writes ``data`` and ``label`` as float32 in legacy 4-D shapes ((3, 2, 2) ->
    (3, 2, 2, 1), (3,) -> (3, 1, 1, 1))."""
    param, arrays = load_case("hdf5_output")
    out = tmp_path / "out.h5"
    param.layer[1].hdf5_output_param.file_name = str(out)
    net = Net(param, 1)
    for k in ("data", "label"):
        net.blobs[k].data[...] = arrays[f"in/{k}"]
    net.forward()
    with h5py.File(out, "r") as f:
        assert sorted(f) == ["data", "label"]
        for k in ("data", "label"):
            want = arrays[f"out/file/{k}"]
            assert f[k].dtype == want.dtype and f[k].shape == want.shape
            np.testing.assert_array_equal(f[k][...], want)
    with pytest.raises(CaffeError, match="Failed to make float dataset"):
        net.forward()


def test_output_then_data_round_trip(tmp_path):
    """What HDF5Output writes, HDF5Data reads back (rows of the legacy 4-D shape)."""
    out = tmp_path / "out.h5"
    layer = layer_from_text(f'name: "o" type: "HDF5Output" hdf5_output_param {{ file_name: "{out}" }}')
    bottom, top = setup_shapes(layer, (4, 3), (4,), num_top=0)
    bottom[0].data[...] = np.arange(12).reshape(4, 3)
    bottom[1].data[...] = [1, 2, 3, 4]
    layer.forward(bottom, top)
    (tmp_path / "list.txt").write_text(str(out))
    reader = layer_from_text(f'name: "h5" type: "HDF5Data" top: "data" top: "label" '
                             f'hdf5_data_param {{ source: "{tmp_path / "list.txt"}" batch_size: 4 }}')
    _, tops = setup_shapes(reader, num_top=2)
    reader.forward([], tops)
    np.testing.assert_array_equal(tops[0].data, np.arange(12).reshape(4, 3, 1, 1))
    np.testing.assert_array_equal(tops[1].data, np.array([1, 2, 3, 4]).reshape(4, 1, 1, 1))


def test_output_batch_mismatch(tmp_path):
    layer = layer_from_text(f'name: "o" type: "HDF5Output" hdf5_output_param {{ file_name: "{tmp_path / "o.h5"}" }}')
    with pytest.raises(LayerSetupError, match="same batch size"):
        setup_shapes(layer, (4, 3), (3,), num_top=0)


@pytest.mark.parametrize("text", [
    'name: "o" type: "HDF5Output" hdf5_output_param { file_name: "x.h5" }',
    'name: "h5" type: "HDF5Data" top: "data" hdf5_data_param { source: "x" batch_size: 1 }',
])
def test_missing_h5py_is_a_clear_error(monkeypatch, text):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    with pytest.raises(LayerSetupError, match="need the h5py package.*pip install"):
        setup_shapes(layer_from_text(text), (2, 1), (2,), num_top=0) if "Output" in text else \
            setup_shapes(layer_from_text(text), num_top=1)


def test_data_files_are_small():
    assert sum(p.stat().st_size for p in DATA.glob("hdf5_*")) < 20000
