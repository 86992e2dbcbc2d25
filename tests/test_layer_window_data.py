"""WindowData: the batches real Caffe 1.0 made from PNG files written here (warp and square
crops, context padding past the image border, mean values and mean file, scale, mirror),
its fg/bg sampling, and its refusals of bad window files."""
import numpy as np
import pytest
from PIL import Image

from caffe_compat.errors import LayerSetupError
from caffe_compat.layer_types.window_data import c_round, parse_window_file
from caffe_compat.net import Net
from gradcheck import layer_from_text, setup_shapes
from real_caffe_layers import case_names, load_case

CASES = ["window_context_square", "window_context_warp", "window_mirror", "window_warp"]


def build(tmp_path, name):
    """Our Net on the case: its images written as PNG and its window file under tmp_path."""
    param, arrays = load_case(name)
    k = 0
    while f"in/image{k}" in arrays:
        Image.fromarray(arrays[f"in/image{k}"]).save(tmp_path / f"img{k}.png")
        k += 1
    (tmp_path / "windows.txt").write_bytes(arrays["in/window_file"].tobytes())
    p = param.layer[0].window_data_param
    p.source, p.root_folder = str(tmp_path / "windows.txt"), str(tmp_path) + "/"
    return Net(param, int(arrays["meta/phase"])), arrays


def test_every_case_is_listed():
    assert case_names("window_") == CASES


@pytest.mark.parametrize("case", [c for c in CASES if c != "window_mirror"])
def test_batch_equals_caffes(tmp_path, case):
    net, arrays = build(tmp_path, case)
    net.forward()
    np.testing.assert_array_equal(net.blobs["label"].data, arrays["out/label/0"])
    want = arrays["out/data/0"]
    assert net.blobs["data"].shape == want.shape
    np.testing.assert_allclose(net.blobs["data"].data, want, rtol=1e-6, atol=1e-4)


def test_mirrored_items_equal_caffes(tmp_path):
    """With mirror each of Caffe's items is the window or its mirror image (padding
    mirrored too): each must equal one of our two renderings of it."""
    net, arrays = build(tmp_path, "window_mirror")
    layer = net.layers[0]
    for item, label in enumerate(arrays["out/label/0"]):
        window = (layer.fg if label else layer.bg)[0]
        sides = [layer.render(window, m) for m in (False, True)]
        assert not np.array_equal(*sides)
        got = arrays["out/data/0"][item]
        assert any(np.array_equal(got, s) for s in sides), f"item {item}"


def test_sampling(tmp_path):
    """bg items first, then int(batch * fg_fraction) fg items, each window drawn uniformly."""
    img = np.zeros((10, 10, 3), np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    windows = "# 0\na.png 3 10 10 5\n1 0.9 0 0 4 4\n2 0.8 1 1 5 5\n3 0.5 0 0 9 9\n0 0.1 2 2 6 6\n0 0.2 0 0 1 1\n"
    (tmp_path / "w.txt").write_text(windows)
    layer = layer_from_text(f'name: "win" type: "WindowData" top: "data" top: "label" window_data_param {{ '
                            f'source: "{tmp_path / "w.txt"}" root_folder: "{tmp_path}/" batch_size: 10 '
                            'fg_fraction: 0.35 } transform_param { crop_size: 4 }')
    bottom, top = setup_shapes(layer, num_top=2)
    assert len(layer.fg) == 3 and len(layer.bg) == 2  # overlap 0.5 >= fg_threshold 0.5
    counts = {}
    for _ in range(60):
        layer.forward(bottom, top)
        labels = top[1].data
        assert (labels[:7] == 0).all() and (labels[7:] > 0).all()  # int(10 * 0.35) = 3 fg
        for v in labels[7:]:
            counts[int(v)] = counts.get(int(v), 0) + 1
    assert sorted(counts) == [1, 2, 3] and min(counts.values()) > 30


def test_c_round_halves_away_from_zero():
    assert [c_round(x) for x in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4999)] == [1, 2, 3, -1, -3, 2]


@pytest.mark.parametrize("text,message", [
    ("", "Window file is empty"),
    ("0 a.png", "expected '#'"),
    ("# 0 a.png 3 4 4 1 0 0.9 0 0 1 1", "has class 0; it must be > 0"),
    ("# 0 a.png 3 4 4 2 1 0.9 0 0", "ends early"),
    ("# 0 a.png 3 4 4 1 1 high 0 0 1 1", "expected an overlap, got 'high'"),
])
def test_window_file_errors(text, message):
    layer = layer_from_text('name: "win" type: "WindowData"')
    with pytest.raises(LayerSetupError, match="Layer 'win' \\(WindowData\\): .*" + message):
        parse_window_file(text, "w.txt", "", 0.5, 0.5, layer)


@pytest.mark.parametrize("windows,params,message", [
    ("# 0 a.png 3 4 4 1 1 0.9 0 0 1 1", "transform_param { crop_size: 2 }", "0 background windows"),
    ("# 0 a.png 3 4 4 2 1 0.9 0 0 1 1 0 0 0 0 1 1", "", "crop_size must be > 0"),
    ("# 0 a.png 3 4 4 2 1 0.9 0 0 1 1 0 0 0 0 1 1", "transform_param { crop_size: 2 mean_value: 1 mean_value: 2 }",
     "1 mean_value or as many as channels"),
    ("# 3 a.png 3 4 4 2 1 0.9 0 0 1 1 0 0 0 0 1 1", "transform_param { crop_size: 2 }", "image index 3"),
])
def test_setup_errors(tmp_path, windows, params, message):
    (tmp_path / "w.txt").write_text(windows)
    layer = layer_from_text(f'name: "win" type: "WindowData" top: "data" top: "label" window_data_param {{ '
                            f'source: "{tmp_path / "w.txt"}" batch_size: 2 }} {params}')
    with pytest.raises(LayerSetupError, match=message):
        setup_shapes(layer, num_top=2)
