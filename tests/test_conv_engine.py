"""Convolution's fast engine (engine DEFAULT) against the loop reference, candidate by
candidate, on the real nets' shapes; and which layers take it.

The grid and the reference are test_grid_convolution's (Caffe's loops written out); here
each candidate of caffe_compat/layer_types/_conv_fast.py is pinned in turn (onnxruntime's
forward; backward by onnxruntime entirely, or its data gradient with Caffe's weight
gradient, or Caffe's after an onnxruntime forward), threads off and forced on.
"""
import numpy as np
import pytest

import caffe_compat.engines as engines
from caffe_compat.layer_types import _conv_fast, _conv_nchwc, _conv_weight_gradient
from grid_support import assert_close, f64, run_layer, threads, uniform  # noqa: F401
from test_grid_convolution import GRID, check_against_the_loops, conv_reference, conv_text

# (forward, backward, data gradient) pinned; a candidate a layer does not have falls back to
# mixed or caffe (depthwise layers: to their own kernels), a flipped data gradient to
# ConvTranspose where the stride is not 1.
CANDIDATES = [("ort", "ort", "flipped"), ("ort", "ort", "transpose"), ("ort", "mixed", "flipped"),
              ("ort", "mixed", "transpose"), ("ort", "caffe", "flipped"), ("caffe", "ort", "flipped"),
              ("ort", "gemm", "transpose"), ("caffe", "gemm", "flipped"), ("colgemm", "gemm", "flipped"),
              ("colgemm", "caffe", "transpose"), ("depthwise", "depthwise", "flipped"),
              ("nchwc", "ort", "nchwc"), ("nchwc", "gemm", "nchwc"), ("nchwc", "mixed", "flipped"),
              ("nchwc", "depthwise", "nchwc"), ("depthwise", "dwx", "nchwc"), ("nchwc", "dwx", "flipped"),
              ("depthwise", "dwx", "transpose"), ("ort", "tiled", "flipped"), ("nchwc", "tiled", "nchwc"),
              ("caffe", "tiled", "transpose")]


@pytest.fixture
def pinned(request, monkeypatch):
    fwd, bwd, dx = request.param
    monkeypatch.setattr(_conv_fast, "MIN_FLOPS", 0)
    monkeypatch.setattr(_conv_fast, "FORCE", {"fwd": fwd, "bwd": bwd, "dx": dx})
    monkeypatch.setattr(_conv_weight_gradient, "CHUNK_BYTES", 1)  # "tiled": one image per chunk
    return request.param


# The grid's rows plus MobileNet's depthwise layers at their real sizes.
DEPTHWISE = [
    (1, 32, 112, 112, 32, (3, 3), (1, 1), (1, 1), 1, 32, True),   # conv2_1/dw
    (2, 64, 112, 112, 64, (3, 3), (2, 2), (1, 1), 1, 64, False),  # conv2_2/dw, stride 2
    (1, 512, 14, 14, 512, (3, 3), (1, 1), (1, 1), 1, 512, True),  # conv4_x/dw
    (3, 16, 15, 15, 16, (3, 3), (2, 2), (2, 2), 2, 16, True),     # dilation, odd map
]
# The NCHWc forms (_conv_nchwc.py) where the grid has few channels: channels padded to the
# block both ways, input channels not a multiple of 4 (no form), a first layer's NCHW input
# whose data gradient has 3 channels, stride, dilation, 1x1, and depthwise off the block.
NCHWC = [
    (2, 20, 12, 12, 50, (5, 5), (1, 1), (0, 0), 1, 1, True),     # LeNet conv2
    (2, 32, 16, 16, 40, (3, 3), (1, 1), (1, 1), 1, 1, True),     # 40 outputs: padded to the block
    (3, 64, 9, 9, 32, (3, 3), (2, 2), (1, 1), 1, 1, False),      # stride 2
    (2, 3, 32, 32, 32, (5, 5), (1, 1), (2, 2), 1, 1, True),      # cifar10 conv1
    (2, 32, 14, 14, 32, (3, 3), (1, 1), (2, 2), 2, 1, True),     # dilation 2
    (2, 48, 7, 7, 24, (1, 1), (1, 1), (0, 0), 1, 1, True),       # 1x1
    (2, 18, 11, 11, 16, (3, 3), (1, 1), (1, 1), 1, 1, True),     # 18 inputs: not a multiple of 4
    (2, 24, 10, 10, 24, (3, 3), (1, 1), (1, 1), 1, 24, True),    # depthwise, 24 channels
    (2, 32, 13, 13, 32, (3, 3), (1, 1), (1, 1), 1, 32, True),    # depthwise on the block
    (2, 32, 13, 13, 32, (3, 3), (1, 1), (1, 1), 1, 2, True),     # two groups: no form
]
# The weight gradient in chunks of images (_conv_weight_gradient.py's "tiled") at a real
# batch, with columns laid out image by image and (short rows) batch innermost.
TILED = [
    (100, 32, 16, 16, 32, (5, 5), (1, 1), (2, 2), 1, 1, True),   # cifar10_quick conv2
    (16, 16, 7, 7, 32, (3, 3), (1, 1), (1, 1), 1, 2, False),     # short rows, two groups
]


@pytest.mark.parametrize("pinned", CANDIDATES, ids=["-".join(c) for c in CANDIDATES], indirect=True)
@pytest.mark.parametrize("n,c,h,w,o,k,s,p,d,g,bias", GRID + DEPTHWISE + NCHWC + TILED)
def test_fast_engine_candidates_match_the_loops(n, c, h, w, o, k, s, p, d, g, bias, threads, pinned):
    layer = check_against_the_loops(n, c, h, w, o, k, s, p, d, g, bias, f"fast {pinned} threads {threads}")
    assert layer.fast is not None, "the fast engine ran"
    fwd, bwd, dx = pinned
    ran = {key: _conv_fast._left(pick) for choice in layer.fast.choices.values() for key, pick in choice.items()}
    if fwd == "nchwc" and _conv_nchwc.form(c, o, g):  # the direct kernels did run where they can
        assert ran["fwd"] == ["nchwc"], ran
    depthwise = _conv_fast._conv_depthwise.is_depthwise(layer)
    if dx == "nchwc" and s == (1, 1) and _conv_nchwc.form(o, c, g) and (
            bwd == "dwx" if depthwise else bwd in ("gemm", "mixed") or bwd == "ort" and g == 1):
        assert ran["dx"] == ["nchwc"], ran
    if bwd == "tiled" and n > 1 and not depthwise and not layer._pointwise():
        assert list(ran[("bwd", (True,))]) == ["tiled"], ran


def test_without_nchwc_kernels_the_candidate_is_never_offered(monkeypatch):
    """A CPU or onnxruntime build without NCHWc kernels (block 0): the engine picks among
    the others and still matches the loops."""
    monkeypatch.setattr(_conv_nchwc, "block", lambda: 0)
    monkeypatch.setattr(_conv_fast, "MIN_FLOPS", 0)
    layer = check_against_the_loops(2, 32, 16, 16, 40, (3, 3), (1, 1), (1, 1), 1, 1, True, "no NCHWc")
    names = {n for choice in layer.fast.choices.values() for pick in choice.values() for n in pick.names}
    assert names and "nchwc" not in names


def test_two_iterations_accumulate_parameter_gradients_once_each(monkeypatch):
    """The timed candidates must leave the gradients as one backward would: two backward
    passes give twice the reference's parameter gradients (Caffe accumulates them)."""
    monkeypatch.setattr(_conv_fast, "MIN_FLOPS", 0)
    x = uniform((4, 6, 20, 20), 1)
    wt = uniform((8, 6, 3, 3), 2, -0.5, 0.5)
    b = uniform((8,), 3)
    layer, bottom, top, (dy,) = run_layer(conv_text(8, (3, 3), (1, 1), (1, 1), 1, 1, True), [x],
                                          params=[wt, b])
    assert layer.fast is not None and layer.fast.choices, "the engine timed its candidates"
    layer.backward(top, [True], bottom)
    _, _, dw, db = conv_reference(f64(x), f64(wt), f64(b), dy, (1, 1), (1, 1), (1, 1), 1)
    assert_close(layer.blobs[0].diff, 2 * dw, "dW after two backward passes")
    assert_close(layer.blobs[1].diff, 2 * db, "db after two backward passes")


def test_a_new_thread_count_times_only_the_candidates_that_came_close(monkeypatch):
    """The picks made at two threads inform those at one (engines.Pick.informed_by): only
    the candidates within KEEP of the best there are timed again, and the results still
    match the loops."""
    import caffe_compat.parallel as parallel
    monkeypatch.setattr(_conv_fast, "MIN_FLOPS", 0)
    x = uniform((8, 16, 24, 24), 1)
    wt = uniform((16, 16, 3, 3), 2, -0.5, 0.5)
    b = uniform((16,), 3)
    try:
        parallel.set_num_threads(2)
        layer, bottom, top, _ = run_layer(conv_text(16, (3, 3), (1, 1), (1, 1), 1, 1, True), [x],
                                          params=[wt, b])
        for _ in range(30):  # the data gradient picked first, then the backward candidates
            layer.forward(bottom, top)
            layer.backward(top, [True], bottom)
        (key2,) = [k for k in layer.fast.choices if k[2] == 2]
        at2 = layer.fast.choices[key2]
        assert at2 and all(p.chosen for p in at2.values())
        parallel.set_num_threads(1)
        rng = np.random.default_rng(5)
        dy = rng.uniform(-1, 1, top[0].shape).astype(np.float32)
        for _ in range(30):  # the data gradient picked first, then the backward candidates
            layer.forward(bottom, top)
            top[0].diff[...] = dy
            layer.backward(top, [True], bottom)
        at1 = layer.fast.choices[key2[:2] + (1,)]
        assert set(at1) == set(at2)
        for what, pick in at1.items():
            done = at2[what]
            best = min(done.times[done.chosen])
            close = {n for n, t in done.times.items() if t and min(t) <= engines.KEEP * best}
            assert pick.informed and set(pick.names) == close and pick.chosen in close
        y, dx, _, _ = conv_reference(f64(x), f64(wt), f64(b), f64(dy), (1, 1), (1, 1), (1, 1), 1)
        assert_close(top[0].data, y, "forward after the count changed")
        assert_close(bottom[0].diff, dx, "data gradient after the count changed")
    finally:
        parallel.set_num_threads(None)


def test_the_data_gradient_is_picked_before_the_backward_candidates_that_take_it(monkeypatch):
    """The backward candidates that take the data gradient's pick (ort, gemm, mixed) are
    timed only once that pick is made: timed while it still tries its slow candidates they
    would look slower than they are, and Caffe's backward would win where it loses."""
    monkeypatch.setattr(_conv_fast, "MIN_FLOPS", 0)
    timed = []  # (pick, candidate) of every call a Pick timed, in order
    record = engines.Pick.record

    def logging_record(self, name, seconds):
        if self.chosen is None:
            timed.append((self, name))
        record(self, name, seconds)

    monkeypatch.setattr(engines.Pick, "record", logging_record)
    x = uniform((8, 16, 24, 24), 1)
    layer, bottom, top, _ = run_layer(conv_text(16, (3, 3), (1, 1), (1, 1), 1, 1, True), [x],
                                      params=[uniform((16, 16, 3, 3), 2, -0.5, 0.5), uniform((16,), 3)])
    for _ in range(30):
        layer.forward(bottom, top)
        layer.backward(top, [True], bottom)
    (choice,) = layer.fast.choices.values()
    dx, bwd = choice["dx"], choice[("bwd", (True,))]
    assert dx.chosen and bwd.chosen, "both picks made in 30 iterations"
    dx_calls = [i for i, (p, _) in enumerate(timed) if p is dx]
    bwd_calls = [i for i, (p, n) in enumerate(timed) if p is bwd and n in ("ort", "gemm", "mixed")]
    assert dx_calls and bwd_calls and max(dx_calls) < min(bwd_calls), timed


@pytest.mark.parametrize("engine_field,forced,dtype,takes_fast", [
    ("", None, np.float32, True),
    ("engine: CUDNN", None, np.float32, True),
    ("engine: CAFFE", None, np.float32, False),
    ("", "CAFFE", np.float32, False),
    ("engine: CUDNN", "CAFFE", np.float32, False),
    ("", None, np.float64, False),
    ("engine: CAFFE", "FAST", np.float32, True),
    ("", "FAST", np.float64, False),
])
def test_which_layers_take_the_fast_engine(engine_field, forced, dtype, takes_fast, monkeypatch):
    from caffe_compat.blob import Blob
    from gradcheck import layer_from_text

    if forced:
        monkeypatch.setenv("TSCAFFE_ENGINE", forced)
    layer = layer_from_text("name: 'c' " + conv_text(16, (3, 3), (1, 1), (1, 1), 1, 1, True, engine_field), 0)
    bottom, top = [Blob((8, 16, 32, 32), dtype=dtype)], [Blob(dtype=dtype)]
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    assert (layer.fast is not None) == takes_fast


def test_small_layers_stay_on_caffes_path():
    from caffe_compat.blob import Blob
    from gradcheck import layer_from_text

    layer = layer_from_text("name: 'c' " + conv_text(2, (3, 3), (1, 1), (1, 1), 1, 1, True), 0)
    bottom, top = [Blob((1, 2, 8, 8))], [Blob()]
    layer.setup(bottom, top)
    layer.reshape(bottom, top)
    assert layer.fast is None


def test_bad_engine_override_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TSCAFFE_ENGINE", "FASTEST")
    with pytest.raises(Exception, match="TSCAFFE_ENGINE must be CAFFE, DEFAULT or FAST, got 'FASTEST'"):
        engines.resolve(0)
    monkeypatch.delenv("TSCAFFE_ENGINE")
    with pytest.raises(ValueError, match="engine must be"):
        engines.set_engine("cudnn")


def test_set_engine_forces_caffe_for_layers_set_up_afterwards():
    try:
        engines.set_engine("CAFFE")
        assert engines.resolve(0) == engines.CAFFE and engines.resolve(2) == engines.CAFFE
        engines.set_engine("DEFAULT")
        assert engines.resolve(0) == engines.FAST and engines.resolve(1) == engines.CAFFE
        engines.set_engine("fast")
        assert engines.resolve(1) == engines.FAST and engines.get_engine() == "FAST"
    finally:
        engines.set_engine(None)


@pytest.mark.parametrize("forced", [None, "CAFFE"])
def test_time_command_says_which_engine_computed_each_convolution(forced, capfd, monkeypatch):
    import re

    from conftest import CAFFE_REF, need
    from caffe_compat.proto import caffe_pb2
    from google.protobuf import text_format
    from solver.cli import main

    if forced:
        monkeypatch.setenv("TSCAFFE_ENGINE", forced)
    monkeypatch.setattr(_conv_fast, "MIN_FLOPS", 0)
    path = need(CAFFE_REF / "solvers/sgd_inv/net.prototxt")
    param = text_format.Parse(path.read_text(), caffe_pb2.NetParameter())
    convs = [l.name for l in param.layer if l.type == "Convolution"]
    pools = [l.name for l in param.layer if l.type == "Pooling"]
    assert convs
    import caffe_compat.parallel as parallel

    capfd.readouterr()
    parallel.set_num_threads(1)  # one thread count: its picks are made after 3 rounds (the data gradient's first)
    try:
        assert main(["time", "-model", str(path), "-iterations", "25", "-engines"]) == 0
    finally:
        parallel.set_num_threads(None)
    lines = dict(re.findall(r"caffe\.cpp:405\] +(\S+)\tengine: (.*)", capfd.readouterr().err))
    assert main(["time", "-model", str(path), "-iterations", "1"]) == 0
    assert "engine:" not in capfd.readouterr().err, "without -engines, Caffe's lines only"
    assert sorted(lines) == sorted(convs + pools)
    for name in pools:  # one fast kernel (its 2x2/2 MAX tiling may keep Caffe's path)
        want = "CAFFE" if forced else r"DEFAULT: (FastPool|WholeImageAve|caffe \(not worth a faster kernel here\))"
        assert re.fullmatch(want, lines[name]), lines[name]
    for name in convs:
        if forced:
            assert lines[name] == "CAFFE"
        else:
            back = r"backward( \(parameters only\))? (caffe|mixed|ort|gemm)"
            dx = r"(, data gradient (nchwc|flipped|transpose))?"
            assert re.fullmatch(rf"DEFAULT: forward (nchwc|caffe|ort|colgemm)(, {back})+{dx}", lines[name]), lines[name]
            if "data gradient" in lines[name]:
                assert re.search("backward (ort|gemm|mixed)", lines[name]), "shown only when it is used"


def test_tiled_chunks_divide_the_batch_and_fit_the_bytes(monkeypatch):
    """Chunks are whole divisors of the batch whose columns fit CHUNK_BYTES; a batch whose
    columns fit in one chunk is not offered the candidate (it would be ``gemm``)."""
    monkeypatch.setattr(_conv_fast, "MIN_FLOPS", 0)
    x = uniform((100, 32, 16, 16), 5)
    layer, _, _, _ = run_layer(conv_text(32, (5, 5), (1, 1), (2, 2), 1, 1, True), [x],
                               params=[uniform((32, 32, 5, 5), 6), uniform((32,), 7)])
    per_image = 32 * 25 * 256 * 4  # cifar10_quick conv2's columns of one image: 800 KiB
    for limit, want in ((4 << 20, 5), (per_image * 30, 25), (per_image - 1, 1), (per_image * 100, 100)):
        monkeypatch.setattr(_conv_weight_gradient, "CHUNK_BYTES", limit)
        assert _conv_weight_gradient.images_per_chunk(layer, 100, 32) == want, limit
        assert _conv_weight_gradient.tiled_applicable(layer, 100, 32) == (want < 100)
