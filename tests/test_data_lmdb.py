"""Our Data layer reads Caffe's own LMDBs to exactly the arrays Caffe's Data layer gave."""
import threading

import numpy as np
import pytest

from caffe_compat.errors import CaffeError, FormatError, LayerSetupError
from conftest import CAFFE_REF, need
from data_helpers import datum, run_data_layer, write_lmdb

MNIST = CAFFE_REF / "formats" / "mnist_lmdb"
IMAGESET = CAFFE_REF / "formats" / "imageset_lmdb"


def data_layer(source, batch, transform="", prefetch=4):
    return (f'name: "d" type: "Data" top: "data" top: "label" data_param {{ source: "{source}" '
            f'batch_size: {batch} backend: LMDB prefetch: {prefetch} }} '
            f'transform_param {{ {transform} }}')


def test_mnist_scaled_matches_caffe():
    exp = np.load(need(MNIST / "expected.npz"))
    [(data, label)] = run_data_layer(data_layer(MNIST / "lmdb", 20, "scale: 0.00390625"))
    assert data.dtype == np.float32 and data.shape == (20, 1, 28, 28)
    np.testing.assert_array_equal(data, exp["datalayer_scaled"])
    np.testing.assert_array_equal(label, exp["labels"])


def test_mnist_mean_subtracted_matches_caffe():
    exp = np.load(need(MNIST / "expected.npz"))
    t = f'mean_file: "{MNIST / "mean.binaryproto"}"'
    [(data, _)] = run_data_layer(data_layer(MNIST / "lmdb", 20, t))
    np.testing.assert_array_equal(data, exp["datalayer_mean_subtracted"])


def test_mnist_key_order_and_wrap_around():
    exp = np.load(need(MNIST / "expected.npz"))
    # 600 records, batches of 64: the 10th batch wraps around to the first records.
    out = run_data_layer(data_layer(MNIST / "lmdb", 64, "", prefetch=2), batches=10)
    labels = np.concatenate([lab for _, lab in out]).astype(np.int32)
    want = np.concatenate([exp["all_labels"], exp["all_labels"][:40]])
    np.testing.assert_array_equal(labels, want)
    # 9 * 64 = 576: records 576..599, then records 0..39 again.
    np.testing.assert_array_equal(out[9][0][24:44], exp["images"].astype(np.float32))


def test_mnist_synchronous_when_prefetch_zero():
    exp = np.load(need(MNIST / "expected.npz"))
    [(data, _)] = run_data_layer(data_layer(MNIST / "lmdb", 20, "", prefetch=0))
    np.testing.assert_array_equal(data, exp["images"].astype(np.float32))


@pytest.mark.parametrize("db", ["encoded_resized", "raw_resized", "encoded_original"])
def test_imageset_dbs_decode_like_caffe(db):
    exp = np.load(need(IMAGESET / "expected.npz"))
    t = "force_color: true" if db == "encoded_original" else ""
    [(data, label)] = run_data_layer(data_layer(IMAGESET / f"lmdb_{db}", 30, t))
    np.testing.assert_array_equal(data, exp[f"{db}/decoded_bgr"].astype(np.float32))
    np.testing.assert_array_equal(label, exp[f"{db}/labels"])


def test_encoded_native_gray_stays_one_channel():
    exp = np.load(need(IMAGESET / "expected.npz"))
    # Record 0 is a 1-channel PNG: without force_color it decodes to 1 channel (batch of 1).
    assert exp["encoded_original/native_channels"][0] == 1
    [(data, _)] = run_data_layer(data_layer(IMAGESET / "lmdb_encoded_original", 1, ""))
    assert data.shape == (1, 1, 10, 12)
    np.testing.assert_array_equal(data[0, 0], exp["encoded_original/decoded_bgr"][0, 0])


def test_mixed_channels_is_a_clear_size_error():
    need(IMAGESET)
    # Without force_color the gray PNGs (1 channel) do not match the color ones (3).
    with pytest.raises(FormatError, match=r"record '00000002_img_02.png'.*3 x 10 x 12.*1 x 10 x 12"):
        run_data_layer(data_layer(IMAGESET / "lmdb_encoded_original", 30, ""))


def test_force_gray_gives_one_channel():
    need(IMAGESET)
    [(data, _)] = run_data_layer(data_layer(IMAGESET / "lmdb_raw_resized", 4, ""))
    [(gray, _)] = run_data_layer(data_layer(IMAGESET / "lmdb_encoded_resized", 4,
                                            "force_gray: true"))
    assert gray.shape == (4, 1, 7, 9)
    # ITU-R 601 luma of the BGR pixels, within a grey level of rounding.
    luma = 0.114 * data[:, 0] + 0.587 * data[:, 1] + 0.299 * data[:, 2]
    assert np.abs(gray[:, 0] - luma).max() <= 1.0


def test_missing_database_names_the_path(tmp_path):
    with pytest.raises(FormatError, match="LMDB database not found: .*no_such_db"):
        run_data_layer(data_layer(tmp_path / "no_such_db", 4))


def test_leveldb_backend_is_refused(tmp_path):
    text = (f'name: "d" type: "Data" top: "data" data_param {{ source: "{tmp_path}" '
            'batch_size: 2 backend: LEVELDB }')
    with pytest.raises(LayerSetupError, match="LEVELDB is not supported"):
        run_data_layer(text, ntop=1)


def test_mean_file_shape_mismatch(tmp_path):
    need(MNIST)
    from caffe_compat.data.convert import write_mean_binaryproto

    write_mean_binaryproto(tmp_path / "m.binaryproto", np.zeros((3, 28, 28), np.float32))
    t = f'mean_file: "{tmp_path / "m.binaryproto"}"'
    with pytest.raises(CaffeError, match=r"m.binaryproto.*3 28 28"):
        run_data_layer(data_layer(MNIST / "lmdb", 4, t))


def test_datum_size_mismatch_names_key_and_shapes(tmp_path):
    db = tmp_path / "db"
    items = [(b"%08d" % i, datum(channels=1, height=4, width=4, data=bytes(16), label=i))
             for i in range(3)]
    items.append((b"00000003", datum(channels=1, height=5, width=4, data=bytes(20), label=3)))
    write_lmdb(db, items)
    with pytest.raises(FormatError, match=r"record '00000003'.*1 x 5 x 4.*1 x 4 x 4"):
        run_data_layer(data_layer(db, 4))


def test_corrupt_encoded_image_names_key(tmp_path):
    db = tmp_path / "db"
    write_lmdb(db, [(b"00000000_bad.png", datum(data=b"\x89PNG garbage", label=1, encoded=True))])
    with pytest.raises(FormatError, match=r"record '00000000_bad.png': corrupt"):
        run_data_layer(data_layer(db, 1))


def test_float_data_datums(tmp_path):
    db = tmp_path / "db"
    vals = np.linspace(-1, 1, 12, dtype=np.float32)
    d = datum(channels=3, height=2, width=2, label=7)
    from caffe_compat.proto import caffe_pb2

    msg = caffe_pb2.Datum.FromString(d)
    msg.float_data.extend(vals.tolist())
    write_lmdb(db, [(b"0", msg.SerializeToString())])
    [(data, label)] = run_data_layer(data_layer(db, 2, "scale: 2"))
    np.testing.assert_array_equal(data, np.stack([vals.reshape(3, 2, 2) * 2] * 2))
    np.testing.assert_array_equal(label, [7, 7])


def test_prefetch_thread_stops_on_close():
    need(MNIST)
    from data_helpers import make_layer
    from caffe_compat.blob import Blob

    layer = make_layer(data_layer(MNIST / "lmdb", 8, "", prefetch=3))
    top = [Blob(), Blob()]
    layer.setup([], top)
    layer.forward([], top)
    thread = layer.prefetcher._thread
    assert thread.daemon and thread.is_alive()
    layer.close()
    assert not thread.is_alive()
    assert not any(t is thread for t in threading.enumerate())


def test_get_state_set_state_resumes_exactly():
    need(MNIST)
    import json

    from caffe_compat import rng
    from caffe_compat.blob import Blob
    from data_helpers import TRAIN, make_layer

    text = data_layer(MNIST / "lmdb", 64, "crop_size: 20 mirror: true", prefetch=2)
    rng.set_seed(7)
    a = make_layer(text, TRAIN)
    top = [Blob(), Blob()]
    a.setup([], top)
    for _ in range(9):  # past the end of the 600 records: the position wraps
        a.forward([], top)
    state = json.loads(json.dumps(a.get_state()))  # survives the solver's JSON sidecar
    want = []
    for _ in range(3):
        a.forward([], top)
        want.append((top[0].data.copy(), top[1].data.copy()))
    a.close()
    rng.set_seed(99)
    b = make_layer(text, TRAIN)
    b.setup([], top)
    b.forward([], top)
    b.set_state(state)
    for data, label in want:
        b.forward([], top)
        np.testing.assert_array_equal(top[0].data, data)
        np.testing.assert_array_equal(top[1].data, label)
    b.close()


def test_rand_skip_starts_at_a_seeded_random_record():
    """rand_skip: the first batch starts a uniform number of records in [0, rand_skip) in;
    the same seed gives the same start, and the order after it is the key order."""
    import caffe_compat

    exp = np.load(need(MNIST / "expected.npz"))
    text = data_layer(MNIST / "lmdb", 8, "").replace("prefetch: 4", "prefetch: 4 rand_skip: 500")
    starts = []
    for seed in (1, 1, 2, 3, 4):
        caffe_compat.set_random_seed(seed)
        [(_, label)] = run_data_layer(text)
        labels = exp["all_labels"]
        hits = [k for k in range(500) if np.array_equal(labels[k:k + 8], label)]
        assert hits, "the batch must be 8 consecutive records"
        starts.append(hits[0])
    assert starts[0] == starts[1]
    assert len(set(starts)) > 2 and max(starts) < 500
