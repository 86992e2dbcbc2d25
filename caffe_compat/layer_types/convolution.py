"""Convolution: 2-D cross-correlation with groups, padding, stride and dilation.

    y[n, o, i, j] = b[o] + sum_{c in group(o), p, q} W[o, c, p, q] *
                    xpad[n, c, i*stride_h + p*dilation_h, j*stride_w + q*dilation_w]

with ``xpad`` the input zero-padded by ``pad_h``/``pad_w`` on each side. Output size per
spatial axis (integer division): ``(in + 2*pad - (dilation*(k-1)+1)) / stride + 1``.
Weights have shape (num_output, channels/group, kernel_h, kernel_w), bias (num_output,).

convolution_param (caffe.proto defaults): num_output (required, > 0); bias_term true;
kernel_size / pad / stride / dilation repeated (once, or once per spatial axis; pad 0,
stride 1, dilation 1 when absent) or the 2-D forms kernel_h/kernel_w, pad_h/pad_w (0),
stride_h/stride_w; group 1; weight_filler constant 0; bias_filler constant 0; axis 1 (the
channel axis; axes before it are batch-like); engine DEFAULT (CUDNN alike) runs the fast
engine (``_conv_fast``: per shape, the fastest of Caffe's path and onnxruntime's kernels,
equal to float32 rounding), CAFFE always Caffe's path (caffe_compat.engines);
force_nd_im2col is ignored.
Only two spatial axes after ``axis`` are supported. Several bottoms share the weights and
give one top each, as in Caffe.

Implementation: im2col into columns laid out (C*kh*kw, M, P) (M = batch, P = output pixels)
by one copy from a strided view of every window, then GEMMs; scratch arrays are reused.
"""
from .. import engines
from ..backend import xp
from ..parallel import over_batch
from . import _conv_fast
from ._conv_columns import DW_ROWS_MIN, ConvColumns
from ._workspace import Workspace
from .base import Layer, register


def _pair(p, name, h_name, w_name, default, layer):
    """Caffe's rules for a repeated spatial field and its _h/_w forms."""
    repeated = list(getattr(p, name))
    has_h, has_w = p.HasField(h_name), p.HasField(w_name)
    if has_h or has_w:
        if repeated:
            raise layer.error(f"either {name} or {h_name}/{w_name} should be specified; not both")
        if name == "kernel_size" and not (has_h and has_w):
            raise layer.error("for non-square filters both kernel_h and kernel_w are required")
        return int(getattr(p, h_name)), int(getattr(p, w_name))
    if not repeated:
        if default is None:
            raise layer.error("kernel_size (or kernel_h and kernel_w) is required")
        return default, default
    if len(repeated) == 1:
        return int(repeated[0]), int(repeated[0])
    if len(repeated) == 2:
        return int(repeated[0]), int(repeated[1])
    raise layer.error(
        f"{name} must be specified once, or once per spatial dimension "
        f"({name} specified {len(repeated)} times; 2 spatial dims)"
    )


@register("Convolution")
class ConvolutionLayer(ConvColumns, Layer):
    MIN_BOTTOM = 1
    MIN_TOP = 1
    EQUAL_NUM_BOTTOM_TOP = True
    # Output widths below this use the batch-innermost column layout (see _batch_inner).
    BATCH_INNER_BELOW_WIDTH = 16

    def setup(self, bottom, top):
        p = self.layer_param.convolution_param
        shape = bottom[0].shape
        n = len(shape)
        if not -n <= p.axis < n:
            raise self.error(f"axis {p.axis} out of range", bottom0=shape)
        self.axis = p.axis + n if p.axis < 0 else p.axis
        spatial = n - self.axis - 1
        if spatial != 2:
            raise self.error(
                f"only 2-D convolution is supported (input has {spatial} spatial axes after axis {self.axis})",
                bottom0=shape,
            )
        self.kernel = _pair(p, "kernel_size", "kernel_h", "kernel_w", None, self)
        self.stride = _pair(p, "stride", "stride_h", "stride_w", 1, self)
        self.pad = _pair(p, "pad", "pad_h", "pad_w", 0, self)
        dil = list(p.dilation)
        if len(dil) not in (0, 1, 2):
            raise self.error(f"dilation must be specified once, or once per spatial dimension (got {len(dil)})")
        self.dilation = (1, 1) if not dil else (int(dil[0]), int(dil[-1]))
        for what, v in (("kernel", self.kernel), ("stride", self.stride), ("dilation", self.dilation)):
            if min(v) <= 0:
                raise self.error(f"{what} dimensions must be nonzero, got {v[0]} x {v[1]}")
        self.channels = shape[self.axis]
        self.num_output = int(p.num_output)
        self.group = int(p.group)
        if self.num_output <= 0:
            raise self.error("num_output must be > 0")
        if self.group <= 0:
            raise self.error("group must be > 0")
        if self.channels % self.group:
            raise self.error(
                f"number of input channels ({self.channels}) must be a multiple of group ({self.group})",
                bottom0=shape,
            )
        if self.num_output % self.group:
            raise self.error(
                f"num_output ({self.num_output}) must be a multiple of group ({self.group})"
            )
        self.bias_term = bool(p.bias_term)
        if not self.blobs:
            self.blobs.append(self.new_param(self._weight_shape(), p.weight_filler))
            if self.bias_term:
                self.blobs.append(self.new_param((self.num_output,), p.bias_filler))
        self.ws = Workspace()
        self.engine = engines.resolve(p.engine)
        self.fast = None

    def _weight_shape(self):
        """(num_output, channels/group, kh, kw); Deconvolution swaps the channel counts."""
        return (self.num_output, self.channels // self.group) + self.kernel

    def _extent(self, i):
        return self.dilation[i] * (self.kernel[i] - 1) + 1

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) != self.axis + 3:
            raise self.error("bottom num_axes may not change", bottom0=shape)
        if shape[self.axis] != self.channels:
            raise self.error(
                f"input size incompatible with convolution kernel: expected {self.channels} channels",
                bottom0=shape,
            )
        for i, b in enumerate(bottom[1:], 1):
            if b.shape != shape:
                raise self.error("all inputs must have the same shape", bottom0=shape, **{f"bottom{i}": b.shape})
        out = []
        for i in range(2):
            size = shape[self.axis + 1 + i] + 2 * self.pad[i]
            if size < self._extent(i):
                raise self.error(
                    f"kernel extent {self._extent(0)} x {self._extent(1)} (kernel "
                    f"{self.kernel[0]} x {self.kernel[1]}, dilation {self.dilation[0]} x {self.dilation[1]}) "
                    f"is larger than the padded input (pad {self.pad[0]} x {self.pad[1]})",
                    bottom0=shape,
                )
            out.append((size - self._extent(i)) // self.stride[i] + 1)
        self.out_hw = tuple(out)
        for t in top:
            t.reshape(shape[: self.axis] + (self.num_output,) + self.out_hw)
        self._pick_engine(bottom)

    def _pick_engine(self, bottom):
        """The fast engine's state for this shape, or None for Caffe's path."""
        if self.engine != engines.FAST or type(self) is not ConvolutionLayer \
                or not _conv_fast.applicable(self, bottom):
            self.fast = None
        elif self.fast is None:
            self.fast = _conv_fast.FastConvolution(self)

    # -- forward / backward ------------------------------------------------------------
    def forward(self, bottom, top):
        if self.fast is not None:
            self.fast.forward(bottom, top)
        else:
            self._forward_caffe(bottom, top)

    def backward(self, top, propagate_down, bottom):
        if self.fast is not None:
            self.fast.backward(top, propagate_down, bottom)
        else:
            self._backward_caffe(top, propagate_down, bottom)

    def _forward_caffe(self, bottom, top):
        weight = self.blobs[0].data
        o, og = self.num_output, self.num_output // self.group
        kg = weight[0].size
        w2 = weight.reshape(o, kg)
        for i, (b, t) in enumerate(zip(bottom, top)):
            m, c, h, w = self._dims(b)
            p = self.out_hw[0] * self.out_hw[1]
            y = t.data.reshape(m, o, p)
            if self._pointwise():
                self._pointwise_forward(b.data.reshape(m, c, p), y, w2)
                continue
            col = self._im2col(b.data.reshape(m, c, h, w), i)
            # One GEMM per group over the whole batch (faster than one per image, most with
            # 2 threads) in the columns' order, (O, P, M) or (O, M, P); then one pass puts
            # it in the top's order and adds the bias.
            yt = self.ws.get("yt", (o, m * p), y.dtype)
            # Groups stacked in one call: the same product per group, without a Python call
            # per group (MobileNet's depthwise layers have up to 1,024).
            xp.matmul(w2.reshape(self.group, og, kg), col.reshape(self.group, kg, -1),
                      out=yt.reshape(self.group, og, -1))
            self._columns_to_top(yt, y)

    def _columns_to_top(self, yt, y):
        """The GEMM's output ``yt`` (O, N), in the columns' order, into the top ``y`` (M, O, P),
        plus the bias: one pass."""
        m, o, p = y.shape
        if self._batch_inner():
            ym = yt.reshape(o, p, m).transpose(2, 0, 1)
        else:
            ym = yt.reshape(o, m, p).transpose(1, 0, 2)
        bias = self.blobs[1].data.reshape(1, o, 1).astype(y.dtype, copy=False) if self.bias_term else 0
        over_batch(lambda lo, hi: xp.add(ym[lo:hi], bias, out=y[lo:hi]), m, y.size)

    def _dy_matrix(self, dy, name="dy2"):
        """dY (M, O, P) as an (O, N) matrix in the columns' order (workspace ``name``)."""
        m, o, p = dy.shape
        dy2 = self.ws.get(name, (o, m * p), dy.dtype)
        if self._batch_inner():
            dy2o = dy2.reshape(o, p, m)
            over_batch(lambda lo, hi: dy2o[lo:hi].__setitem__(Ellipsis, dy[:, lo:hi].transpose(1, 2, 0)),
                       o, dy.size)
        else:
            dy2m = dy2.reshape(o, m, p)
            over_batch(lambda lo, hi: dy2m[:, lo:hi].__setitem__(Ellipsis, dy[lo:hi].transpose(1, 0, 2)),
                       m, dy.size)
        return dy2

    def _backward_caffe(self, top, propagate_down, bottom):
        wblob = self.blobs[0]
        o, og = self.num_output, self.num_output // self.group
        kg = wblob.data[0].size
        w2 = wblob.data.reshape(o, kg)
        wd2 = wblob.diff.reshape(o, kg)
        kh, kw = self.kernel
        p = self.out_hw[0] * self.out_hw[1]
        bi = self._batch_inner()
        for i, (b, t) in enumerate(zip(bottom, top)):
            m, c, h, w = self._dims(b)
            col = self.ws.get(f"col{i}", (c * kh * kw, m * p), b.data.dtype)  # kept from forward
            dy = t.diff.reshape(m, o, p)
            dt = dy.dtype
            if self._pointwise():
                dx = b.diff.reshape(m, c, p) if propagate_down[i] else None
                self._pointwise_backward(b.data.reshape(m, c, p), dy, dx, w2, wd2)
                continue
            # dY as an (O, N) matrix in the columns' order: one long-K GEMM for the weight
            # gradient and one big GEMM for the column gradient. With (K, M, P) columns,
            # P > K and few outputs per group, M small products summed are cheaper than that
            # copy (measured: LeNet conv1, O=20 K=25; VGG student conv1_2, O=8 K=72; but not
            # cifar conv1, O=32 K=75, where the matrix form is 15 % faster).
            as_matrix = bi or p <= kg or (og >= 32 and kg >= 64)
            if as_matrix:
                dy2 = self._dy_matrix(dy)
                if self.bias_term:
                    # Bias gradient as a GEMV with a ones vector (as Caffe), both kept.
                    ones, new = self.ws.fresh("ones", (m * p,), dt)
                    if new:
                        ones.fill(1)
                    db = self.ws.get("db", (o,), dt)
                    xp.matmul(dy2, ones, out=db)
                    self.blobs[1].diff += db
            elif self.bias_term:
                self._bias_gradient_per_image(dy)
            G = self.group
            wd3 = wd2.reshape(G, og, kg)
            if as_matrix and og * kg >= DW_ROWS_MIN:
                # Large weights as (O, K) = dY @ col^T, added as they are: the (K, O) form's
                # transposed add costs more than its GEMM saves (ResNet's res5 3x3 at batch
                # 1: 2.8 ms GEMM + 11 ms add, against 3.0 + 0.3).
                dw = self.ws.get("dw", (G, og, kg), dt)
                xp.matmul(dy2.reshape(G, og, -1), col.reshape(G, kg, -1).transpose(0, 2, 1), out=dw)
                wd3 += dw
            elif as_matrix:
                # As (K, O) = col @ dY^T: OpenBLAS runs this orientation 1.1-1.9x faster.
                dwt = self.ws.get("dwt", (G, kg, og), dt)
                xp.matmul(col.reshape(G, kg, -1), dy2.reshape(G, og, -1).transpose(0, 2, 1), out=dwt)
                wd3 += dwt.transpose(0, 2, 1)
            else:
                # Per image and group (G, M, O/G, K/G), summed over images.
                per = self.ws.get("dw_per_image", (G, m, og, kg), dt)
                dw = self.ws.get("dw", (G, og, kg), dt)
                xp.matmul(dy.reshape(m, G, og, p).transpose(1, 0, 2, 3),
                          col.reshape(G, kg, m, p).transpose(0, 2, 3, 1), out=per)
                per.sum(axis=1, out=dw)
                wd3 += dw
            if not propagate_down[i]:
                continue
            dcol = self.ws.get("dcol", col.shape, dt)
            wt = w2.reshape(G, og, kg).transpose(0, 2, 1)
            if as_matrix:
                xp.matmul(wt, dy2.reshape(G, og, -1), out=dcol.reshape(G, kg, -1))
            else:
                xp.matmul(wt[:, None], dy.reshape(m, G, og, p).transpose(1, 0, 2, 3),
                          out=dcol.reshape(G, kg, m, p).transpose(0, 2, 1, 3))
            self._col2im(dcol, b.diff.reshape(m, c, h, w))

    def _bias_gradient_per_image(self, dy):
        """Bias gradient from dY (M, O, P): GEMVs with ones over pixels, then images."""
        m, o, p = dy.shape
        per_image = dy.reshape(m * o, p) @ xp.ones(p, dtype=dy.dtype)
        self.blobs[1].diff += xp.ones(m, dtype=dy.dtype) @ per_image.reshape(m, o)

    # -- 1x1 kernels ---------------------------------------------------------------------
    def _pointwise(self):
        """1x1 kernel, stride 1, no padding: each image's (C, P) pixels already are its
        columns, so no im2col or col2im pass is needed."""
        return self.kernel == (1, 1) and self.stride == (1, 1) and self.pad == (0, 0)

    def _pointwise_forward(self, x, y, w2):
        """x (M, C, P) -> y (M, O, P): one GEMM per image and group, straight into the top."""
        m = x.shape[0]
        og, cg = self.num_output // self.group, self.channels // self.group
        for g in range(self.group):
            xp.matmul(w2[g * og : (g + 1) * og], x[:, g * cg : (g + 1) * cg], out=y[:, g * og : (g + 1) * og])
        if self.bias_term:
            bias = self.blobs[1].data.reshape(1, -1, 1).astype(y.dtype, copy=False)
            over_batch(lambda lo, hi: y[lo:hi].__iadd__(bias), m, y.size)

    def _pointwise_backward(self, x, dy, dx, w2, wd2):
        """Weight gradient as per-image products summed over images; dX (if wanted) as one
        product per image and group, straight into the bottom's diff."""
        m = x.shape[0]
        og, cg = self.num_output // self.group, self.channels // self.group
        if self.bias_term:
            self._bias_gradient_per_image(dy)
        per = self.ws.get("dw_per_image", (m, og, cg), dy.dtype)
        dw = self.ws.get("dw", (og, cg), dy.dtype) if m > 1 else per[0]
        for g in range(self.group):
            xp.matmul(dy[:, g * og : (g + 1) * og], x[:, g * cg : (g + 1) * cg].transpose(0, 2, 1), out=per)
            if m > 1:
                per.sum(axis=0, out=dw)
            wd2[g * og : (g + 1) * og] += dw
        if dx is not None:
            for g in range(self.group):
                xp.matmul(w2[g * og : (g + 1) * og].T, dy[:, g * og : (g + 1) * og],
                          out=dx[:, g * cg : (g + 1) * cg])
