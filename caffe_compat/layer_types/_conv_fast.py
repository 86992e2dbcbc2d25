"""Convolution's fast engine (``engine: DEFAULT`` or ``CUDNN``; caffe_compat.engines).

For each input shape and thread count it times the candidates on the first calls (each
call runs one of them; caffe_compat.engines.Pick), as cuDNN's ``find`` does, and keeps the
fastest for each pass:

- forward: Caffe's im2col + GEMM (``caffe``), the same with the GEMM by onnxruntime's
  ``Gemm`` (``colgemm``; the columns then serve the weight gradient too), onnxruntime's
  ``Conv`` (``ort``: MLAS convolves in cache-sized blocks of columns instead of one big
  im2col buffer), or MLAS's direct kernels on its channel-blocked layout (``nchwc``,
  _conv_nchwc.py: no columns at all; 1.2-1.7x faster than ``ort`` on VGG's 3x3 layers);
- backward: Caffe's (``caffe``: weight GEMM on the columns, column GEMM + col2im), or the
  data gradient by onnxruntime with Caffe's weight gradient (``mixed``), or with the
  weight GEMM on Caffe's columns run by onnxruntime's ``Gemm`` (``gemm``), or that product
  in chunks of images whose columns stay in the cache (``tiled``), or both from onnxruntime
  (``ort``, one group only; the weight gradient as a convolution of the input by the
  output gradient); the weight gradients of these in _conv_weight_gradient.py.
- the data gradient of those four, a pass of its own, timed the same way
  (_conv_data_gradient.py: ConvTranspose, or a Conv of the flipped weights, plain or by
  the direct kernels). This pick is made first (its candidates run inside ``mixed``, whose
  time is then not recorded), and only then are the backward candidates timed, each with
  the data gradient it will keep.

1x1 stride-1 kernels have no columns: Caffe's products on the pixels, or onnxruntime's.
Depthwise layers (group = channels = num_output) have their own candidate, by kernel
offsets (_conv_depthwise.py), in place of Caffe's one GEMM per channel; in backward, its
weight gradient either with its own data gradient (``depthwise``) or with the timed data
gradient above (``dwx``: a depthwise Conv of the flipped kernels, plain or NCHWc).

Every candidate computes the same sums in another order, so results equal Caffe's path to
float32 rounding. Layers the engine does not pay off on stay on Caffe's path: float64 blobs
(onnxruntime's convolutions are float32), arrays that are not contiguous and small
layers (under ``MIN_FLOPS``, where a kernel call
costs more than it saves).
"""
from ..backend import xp
from .. import engines, parallel
from ..ort_ops import OrtOp
from . import _conv_data_gradient, _conv_depthwise, _conv_nchwc, _conv_weight_gradient

MIN_FLOPS = 2e6
# Tests pin a candidate per pass instead of timing ({"fwd": "ort", "bwd": "mixed"}, say).
FORCE = {}
# Candidates in the order they are tried (a single pass runs the first). Depthwise layers
# (_conv_depthwise.py) skip Caffe's one GEMM per channel, far slower at any size.
FORWARD = ("nchwc", "ort", "colgemm", "caffe")
BACKWARD = ("ort", "gemm", "tiled", "mixed", "caffe")
# 1x1 stride-1 kernels have no columns (each image's pixels are its columns).
POINTWISE_FORWARD = ("nchwc", "ort", "caffe")
POINTWISE_BACKWARD = ("ort", "mixed", "caffe")
DEPTHWISE_FORWARD = ("depthwise", "nchwc", "ort")
DEPTHWISE_BACKWARD = ("depthwise", "dwx")
# The onnxruntime operators each candidate calls (the others' are released once picked);
# "dx" in _BACKWARD_OPS: the candidate takes the data gradient's pick (_DX_OPS).
_FORWARD_OPS = {"ort": {"fwd"}, "colgemm": {"colgemm"}, "nchwc": {"fwdc"}}
_BACKWARD_OPS = {"ort": {"dw", "dx"}, "gemm": {"gemm", "dx"}, "tiled": {"tiled", "dx"}, "mixed": {"dx"},
                 "dwx": {"dx"}}
_DX_OPS = _conv_data_gradient.OPS


def _left(pick):
    """The candidates a Pick may still run: the one kept, or those still timed."""
    return [pick.chosen] if pick.chosen else pick.names


def applicable(layer, bottom):
    """True when ``layer`` (a ConvolutionLayer set up and reshaped) should use the engine."""
    for b in bottom:
        if b.data.dtype != xp.float32 or not b.data.flags.c_contiguous:
            return False
    if layer.blobs[0].data.dtype != xp.float32:
        return False
    if _conv_depthwise.is_depthwise(layer):
        return True
    m, c, h, w = layer._dims(bottom[0])
    flops = 2.0 * m * layer.num_output * layer.out_hw[0] * layer.out_hw[1] * layer.blobs[0].data[0].size
    return flops >= MIN_FLOPS


class FastConvolution:
    """The fast engine of one ConvolutionLayer: its onnxruntime operators and choices."""

    def __init__(self, layer):
        self.layer = layer
        self.ops = {}
        self.choices = {}  # (shape, bottoms, threads) -> {pass: engines.Pick}
        self.last_key = None
        self.cols_ready = False  # Caffe's forward left the columns backward needs

    # -- the operators -------------------------------------------------------------------
    def _op(self, kind, m, c, h, w):
        key = (kind, m, c, h, w)
        op = self.ops.get(key)
        if op is None:
            op = self.ops[key] = self._build(kind, m, c, h, w)
        return op

    def _build(self, kind, m, c, h, w):
        L = self.layer
        o, (kh, kw), (oh, ow) = L.num_output, L.kernel, L.out_hw
        (ph, pw), (sh, sw), (dh, dw) = L.pad, L.stride, L.dilation
        wshape = L.blobs[0].data.shape
        if kind == "fwdc":
            return _conv_nchwc.build(self._nchwc_form(), (m, c, h, w), (m, o, oh, ow), L.group, (kh, kw),
                                     (ph, pw), (sh, sw), (dh, dw), L.bias_term)
        if kind in _conv_data_gradient.KINDS:
            return _conv_data_gradient.build(kind, L, m, c, h, w)
        if kind in _conv_weight_gradient.KINDS:
            return _conv_weight_gradient.build(kind, L, m, c, h, w)
        if kind == "fwd":
            ins = {"x": (m, c, h, w), "w": wshape}
            if L.bias_term:
                ins["b"] = (o,)
            return OrtOp("Conv", ins, {"y": (m, o, oh, ow)}, kernel_shape=[kh, kw],
                         pads=[ph, pw, ph, pw], strides=[sh, sw], dilations=[dh, dw], group=L.group)
        if kind == "colgemm":
            # One group's output from Caffe's columns: (O/G, K/G) x (K/G, N).
            n = m * oh * ow
            kg = c // L.group * kh * kw
            og = o // L.group
            return OrtOp("Gemm", {"w": (og, kg), "col": (kg, n)}, {"y": (og, n)})
    # -- forward -------------------------------------------------------------------------
    def _ort_forward(self, bottom, top):
        L = self.layer
        w = L.blobs[0].data
        for b, t in zip(bottom, top):
            m, c, h, wd = L._dims(b)
            op = self._op("fwd", m, c, h, wd)
            args = {"x": b.data.reshape(m, c, h, wd), "w": w,
                    "y": t.data.reshape(m, L.num_output, *L.out_hw)}
            if L.bias_term:
                args["b"] = L.blobs[1].data
            op(**args)

    def _nchwc_form(self):
        """The NCHWc form of the forward convolution; None where the direct kernels do not
        take it."""
        L = self.layer
        return _conv_nchwc.form(L.blobs[0].data.shape[1] * L.group, L.num_output, L.group)

    def _nchwc_forward(self, bottom, top):
        L = self.layer
        args = {"w": _conv_nchwc.weights(L.ws, "nchwc_w", L.blobs[0].data, self._nchwc_form(), L.group)}
        if L.bias_term:
            args["b"] = _conv_nchwc.bias(L.ws, "nchwc_b", L.blobs[1].data)
        for b, t in zip(bottom, top):
            m, c, h, wd = L._dims(b)
            self._op("fwdc", m, c, h, wd)(x=b.data.reshape(m, c, h, wd),
                                          y=t.data.reshape(m, L.num_output, *L.out_hw), **args)

    def _release_unpicked(self):
        """Drops the onnxruntime sessions that no pick made or still timing can call."""
        need = set()
        for choice in self.choices.values():
            for key, pick in choice.items():
                if self.in_use(choice, key):
                    table = _FORWARD_OPS if key == "fwd" else _DX_OPS if key == "dx" else _BACKWARD_OPS
                    for name in _left(pick):
                        need |= table.get(name, set())
        for k in [k for k in self.ops if k[0] not in need]:
            del self.ops[k]

    @staticmethod
    def in_use(choice, key):
        """False for the data gradient's pick (``key`` "dx") when every backward pick of the
        ``choice`` has settled on a candidate that does not take it (engines.describe, and the
        sessions kept by _release_unpicked)."""
        if key != "dx":
            return True
        return any("dx" in _BACKWARD_OPS.get(n, ()) for k, p in choice.items() if k not in ("fwd", "dx")
                   for n in _left(p))

    def _run(self, pick, calls):
        decided = pick.chosen
        name = pick.run(calls)
        if pick.chosen and not decided:
            self._release_unpicked()
        return name

    def _choice(self, bottom, key, names):
        """The Pick for this pass at this shape and thread count (pinned by FORCE)."""
        shape_key = (bottom[0].shape, len(bottom), parallel.num_threads())
        self.last_key = shape_key
        choice = self.choices.setdefault(shape_key, {})
        pick = choice.get(key)
        if pick is None:
            forced = FORCE.get(key if key in ("fwd", "dx") else "bwd")
            if forced is not None:
                names = [forced] if forced in names else [n for n in ("mixed", "caffe", "transpose") if n in names][:1] or names[:1]
            pick = choice[key] = engines.Pick(names)
        if pick.inform(other.get(key) for k, other in self.choices.items() if k[:2] == shape_key[:2]):
            self._release_unpicked()
        return pick

    def _colgemm_forward(self, bottom, top):
        """Caffe's im2col, its GEMM by onnxruntime's Gemm, Caffe's bias pass; the columns
        stay for the weight gradient."""
        L = self.layer
        o, G = L.num_output, L.group
        og = o // G
        w2 = L.blobs[0].data.reshape(o, -1)
        kg = w2.shape[1]
        p = L.out_hw[0] * L.out_hw[1]
        for i, (b, t) in enumerate(zip(bottom, top)):
            m, c, h, w = L._dims(b)
            col = L._im2col(b.data.reshape(m, c, h, w), i)
            yt = L.ws.get("yt", (o, m * p), xp.float32)
            op = self._op("colgemm", m, c, h, w)
            for g in range(G):
                op(w=w2[g * og:(g + 1) * og], col=col[g * kg:(g + 1) * kg], y=yt[g * og:(g + 1) * og])
            L._columns_to_top(yt, t.data.reshape(m, o, p))

    def forward(self, bottom, top):
        L = self.layer
        names = DEPTHWISE_FORWARD if _conv_depthwise.is_depthwise(L) else \
            POINTWISE_FORWARD if L._pointwise() else FORWARD
        if self._nchwc_form() is None:
            names = [n for n in names if n != "nchwc"]
        name = self._run(self._choice(bottom, "fwd", names), {
            "nchwc": lambda: self._nchwc_forward(bottom, top),
            "caffe": lambda: L._forward_caffe(bottom, top),
            "colgemm": lambda: self._colgemm_forward(bottom, top),
            "ort": lambda: self._ort_forward(bottom, top),
            "depthwise": lambda: _conv_depthwise.forward(L, bottom, top)})
        self.cols_ready = name in ("caffe", "colgemm")

    # -- backward ------------------------------------------------------------------------
    def _columns(self, bottom):
        """Caffe's columns of every bottom, for its weight gradient after an ort forward."""
        L = self.layer
        if not self.cols_ready and not L._pointwise():
            for i, b in enumerate(bottom):
                m, c, h, w = L._dims(b)
                L._im2col(b.data.reshape(m, c, h, w), i)
            self.cols_ready = True

    def _dx_pick(self, bottom):
        names = _conv_data_gradient.candidates(self.layer)
        return self._choice(bottom, "dx", names), names

    def _ort_dx(self, top, propagate_down, bottom):
        """The data gradient of the backward candidates that take its pick."""
        if not any(propagate_down):
            return
        pick, names = self._dx_pick(bottom)
        self._run(pick, {n: (lambda n=n: _conv_data_gradient.run(self, n, top, propagate_down, bottom))
                         for n in names})

    def _backward(self, name, top, propagate_down, bottom):
        L = self.layer
        if name == "depthwise":
            _conv_depthwise.backward(L, top, propagate_down, bottom)
        elif name == "dwx":
            _conv_depthwise.backward(L, top, [False] * len(bottom), bottom)
            self._ort_dx(top, propagate_down, bottom)
        elif name == "caffe":
            self._columns(bottom)
            L._backward_caffe(top, propagate_down, bottom)
        elif name in ("gemm", "tiled"):
            _conv_weight_gradient.run(self, name, top, bottom)
            self._ort_dx(top, propagate_down, bottom)
        elif name == "mixed":
            self._columns(bottom)
            L._backward_caffe(top, [False] * len(bottom), bottom)
            self._ort_dx(top, propagate_down, bottom)
        else:
            _conv_weight_gradient.run(self, "dw", top, bottom)
            self._ort_dx(top, propagate_down, bottom)

    def backward(self, top, propagate_down, bottom):
        pd = tuple(bool(p) for p in propagate_down)
        if _conv_depthwise.is_depthwise(self.layer):
            names = [n for n in DEPTHWISE_BACKWARD if n != "dwx" or any(pd)]
        else:
            candidates = POINTWISE_BACKWARD if self.layer._pointwise() else BACKWARD
            m, c = self.layer._dims(bottom[0])[:2]
            names = [n for n in candidates
                     if not (n == "mixed" and not any(pd)) and not (n == "ort" and self.layer.group > 1)
                     and not (n == "tiled" and not _conv_weight_gradient.tiled_applicable(self.layer, m, c))]
        takes_dx = [n for n in names if "dx" in _BACKWARD_OPS.get(n, ())]
        bwd = self._choice(bottom, ("bwd", pd), names)
        if any(pd) and takes_dx and not bwd.settled() and not self._dx_pick(bottom)[0].settled():
            # The data gradient is picked first (its candidates timed inside one backward
            # candidate, left out of that pick's times): timed while the data gradient still
            # tries its slow candidates, the candidates that take it would look slower than
            # they are (the VGG student's conv5_1: "mixed" 1.72 ms so, 0.62 with its kept
            # data gradient).
            self._backward("mixed" if "mixed" in takes_dx else takes_dx[0], top, propagate_down, bottom)
            return
        self._run(bwd, {n: (lambda n=n: self._backward(n, top, propagate_down, bottom)) for n in names})
