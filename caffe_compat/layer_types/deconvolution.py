"""Deconvolution: the transpose of Convolution (Caffe's DeconvolutionLayer).

Forward is Convolution's backward-data pass, backward-data is Convolution's forward:

    y[n, o, i*s_h + p*d_h - pad_h, j*s_w + q*d_w - pad_w] += W[c, o - g*O/G, p, q] * x[n, c, i, j]

for every input pixel (i, j), kernel offset (p, q) and channel c of group g (output channels
o of the same group), positions outside the output dropped; then ``y[n, o] += b[o]``.
Output size per spatial axis: ``stride * (in - 1) + dilation * (kernel - 1) + 1 - 2 * pad``.
Weights have shape (channels, num_output/group, kernel_h, kernel_w) (Caffe's: the
convolution it transposes maps num_output channels to ``channels``), bias (num_output,).

convolution_param as for Convolution, with the same defaults and setup checks (num_output
required, > 0; bias_term true; stride 1, pad 0, dilation 1; group 1 and both channel counts
multiples of it; fillers constant 0). FCN's upsampling layers use ``weight_filler
{ type: "bilinear" }`` with ``lr_mult: 0`` and ``group`` = channels.

Implementation: the columns and col2im/im2col of ConvolutionLayer, with the image they
belong to being the top: forward is W^T x into columns then col2im onto the top; backward
im2cols the top's diff, then dX = W col and dW += x col^T, per group.
"""
from ..backend import xp
from ..parallel import over_batch
from .base import register
from .convolution import ConvolutionLayer


@register("Deconvolution")
class DeconvolutionLayer(ConvolutionLayer):

    def _weight_shape(self):
        return (self.channels, self.num_output // self.group) + self.kernel

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if len(shape) != self.axis + 3:
            raise self.error("bottom num_axes may not change", bottom0=shape)
        if shape[self.axis] != self.channels:
            raise self.error(f"input size incompatible with the weights: expected {self.channels} channels",
                             bottom0=shape)
        for i, b in enumerate(bottom[1:], 1):
            if b.shape != shape:
                raise self.error("all inputs must have the same shape", bottom0=shape, **{f"bottom{i}": b.shape})
        in_hw = shape[self.axis + 1:]
        out = tuple(self.stride[i] * (in_hw[i] - 1) + self._extent(i) - 2 * self.pad[i] for i in range(2))
        if min(out) <= 0:
            raise self.error(
                f"output size {out[0]} x {out[1]} is not positive (kernel {self.kernel[0]} x {self.kernel[1]}, "
                f"stride {self.stride[0]} x {self.stride[1]}, pad {self.pad[0]} x {self.pad[1]})", bottom0=shape)
        # The columns are those of the convolution from the top back to the bottom: their
        # "output" pixels are the bottom's.
        self.out_hw = tuple(in_hw)
        self.top_hw = out
        for t in top:
            t.reshape(shape[: self.axis] + (self.num_output,) + out)

    def _to_columns_order(self, x, name):
        """x (M, C, P) -> (C, N) in the columns' pixel order ((P, M) batch inner, else (M, P))."""
        m, c, p = x.shape
        out = self.ws.get(name, (c, m * p), x.dtype)
        if self._batch_inner():
            o3 = out.reshape(c, p, m)
            over_batch(lambda lo, hi: o3[lo:hi].__setitem__(Ellipsis, x[:, lo:hi].transpose(1, 2, 0)), c, x.size)
        else:
            o3 = out.reshape(c, m, p)
            over_batch(lambda lo, hi: o3[:, lo:hi].__setitem__(Ellipsis, x[lo:hi].transpose(1, 0, 2)), m, x.size)
        return out

    def _from_columns_order(self, cols, x):
        """Inverse of ``_to_columns_order``: (C, N) into x (M, C, P)."""
        m, c, p = x.shape
        if self._batch_inner():
            src = cols.reshape(c, p, m).transpose(2, 0, 1)
        else:
            src = cols.reshape(c, m, p).transpose(1, 0, 2)
        over_batch(lambda lo, hi: x[lo:hi].__setitem__(Ellipsis, src[lo:hi]), m, x.size)

    def forward(self, bottom, top):
        weight = self.blobs[0].data
        cg, og = self.channels // self.group, self.num_output // self.group
        kg = weight[0].size
        w2 = weight.reshape(self.channels, kg)
        p_in = self.out_hw[0] * self.out_hw[1]
        for i, (b, t) in enumerate(zip(bottom, top)):
            m = b.count // (self.channels * p_in)
            x = self._to_columns_order(b.data.reshape(m, self.channels, p_in), "xcol")
            col = self.ws.get(f"col{i}", (self.num_output * kg // og, m * p_in), x.dtype)
            for g in range(self.group):
                xp.matmul(w2[g * cg:(g + 1) * cg].T, x[g * cg:(g + 1) * cg], out=col[g * kg:(g + 1) * kg])
            y = t.data.reshape((m, self.num_output) + self.top_hw)
            self._col2im(col, y)
            if self.bias_term:
                bias = self.blobs[1].data.reshape(1, -1, 1, 1).astype(y.dtype, copy=False)
                over_batch(lambda lo, hi: y[lo:hi].__iadd__(bias), m, y.size)

    def backward(self, top, propagate_down, bottom):
        wblob = self.blobs[0]
        cg = self.channels // self.group
        kg = wblob.data[0].size
        w2 = wblob.data.reshape(self.channels, kg)
        wd2 = wblob.diff.reshape(self.channels, kg)
        p_in = self.out_hw[0] * self.out_hw[1]
        for i, (b, t) in enumerate(zip(bottom, top)):
            m = b.count // (self.channels * p_in)
            dy = t.diff.reshape((m, self.num_output) + self.top_hw)
            if self.bias_term:
                # Per-image sums over pixels, then over images (GEMVs with ones, as Caffe).
                d2 = dy.reshape(m * self.num_output, -1)
                per_image = d2 @ xp.ones(d2.shape[1], dtype=d2.dtype)
                self.blobs[1].diff += xp.ones(m, dtype=d2.dtype) @ per_image.reshape(m, self.num_output)
            col = self._im2col(dy, i)
            x = self._to_columns_order(b.data.reshape(m, self.channels, p_in), "xcol")
            dw = self.ws.get("dw", (cg, kg), dy.dtype)
            for g in range(self.group):
                xp.matmul(x[g * cg:(g + 1) * cg], col[g * kg:(g + 1) * kg].T, out=dw)
                wd2[g * cg:(g + 1) * cg] += dw
            if not propagate_down[i]:
                continue
            dx = self.ws.get("dxcol", x.shape, dy.dtype)
            for g in range(self.group):
                xp.matmul(w2[g * cg:(g + 1) * cg], col[g * kg:(g + 1) * kg], out=dx[g * cg:(g + 1) * cg])
            self._from_columns_order(dx, b.diff.reshape(m, self.channels, p_in))
