"""CIFAR-10's python-version batches (cifar-10-python.tar.gz, torchvision's download) read
as the binary version is: the same arrays, the same LMDB records as real Caffe's
convert_cifar_data on the binary batches, and a pickle holding anything but a batch is
refused without being run (caffe_compat.data.cifar_python)."""
import pickle

import numpy as np
import pytest

from caffe_compat.data import convert, datasets
from caffe_compat.data.cifar_python import read_cifar10_python
from caffe_compat.errors import CaffeError, FormatError
from conftest import CAFFE_REF, need
from test_data_convert import lmdb_items

CIFAR = CAFFE_REF / "formats" / "cifar_bin"
NAMES = {f"data_batch_{i}.bin": f"data_batch_{i}" for i in range(1, 6)}
NAMES["test_batch.bin"] = "test_batch"


def python_version(folder, protocol=2):
    """The fixture's binary batches rewritten as python-version pickles (plain numpy: each
    3073-byte record is a label byte and 3072 pixels)."""
    folder.mkdir(parents=True)
    for binary, name in NAMES.items():
        records = np.frombuffer((need(CIFAR / "input") / binary).read_bytes(), np.uint8)
        records = records.reshape(-1, 3073)
        batch = {b"batch_label": b"batch", b"labels": records[:, 0].astype(int).tolist(),
                 b"data": records[:, 1:].copy(), b"filenames": [b"x.png"] * len(records)}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=protocol)
    return folder


@pytest.mark.parametrize("protocol", [2, 4])
def test_python_batches_give_real_caffes_arrays(tmp_path, protocol):
    exp = np.load(need(CIFAR / "expected.npz"))
    folder = python_version(tmp_path / "py", protocol)
    tr_x, tr_y, te_x, te_y = datasets.load_cifar10_dir(folder)
    np.testing.assert_array_equal(tr_x, exp["train/data_chw"])
    np.testing.assert_array_equal(tr_y, exp["train/labels"])
    np.testing.assert_array_equal(te_x, exp["test/data_chw"])
    np.testing.assert_array_equal(te_y, exp["test/labels"])


def test_python_batches_convert_to_real_caffes_records(tmp_path):
    exp = np.load(need(CIFAR / "expected.npz"))
    python_version(tmp_path / "cifar-10-batches-py")
    counts = convert.convert_cifar10(tmp_path, tmp_path / "out")   # the tarball's subfolder
    for split in ("train", "test"):
        items = lmdb_items(tmp_path / "out" / f"cifar10_{split}_lmdb")
        assert counts[split] == len(items) == len(exp[f"{split}/labels"])
        assert [int(k) for k, _ in items] == exp[f"{split}/key_int"].tolist()
        for (_, value), want in zip(items, exp[f"{split}/datum_bytes"]):
            assert value == want.tobytes()


def test_distill_detects_the_python_version(tmp_path):
    from caffe_compat.data.dataset import detect

    python_version(tmp_path / "cifar-10-batches-py")
    assert detect(str(tmp_path)) == "cifar10"


class Payload:
    """What a hostile pickle does: call a function when loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_that_would_run_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": Payload(str(marker)), b"labels": [0]}, protocol=2))
    with pytest.raises(FormatError, match=r"its pickle names (io|builtins).open, which a "
                                          r"batch never holds; refused rather than run"):
        read_cifar10_python(path)
    assert not marker.exists()


@pytest.mark.parametrize("batch, message", [
    ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, r"shape \(N, 3072\) with N labels, got uint8 \(2, 100\)"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "must be uint8"),
    ({b"labels": [0, 1]}, "no 'data' and 'labels'"),
    ([1, 2, 3], "a pickled list, not a dict"),
])
def test_a_malformed_batch_is_a_clear_error(tmp_path, batch, message):
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(CaffeError, match=message):
        read_cifar10_python(path)
