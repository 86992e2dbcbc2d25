"""Scale: multiply by a learned (or second-bottom) scale, broadcast; optional bias.

``top = bottom[0] * s (+ b)``, with ``s`` of shape ``bottom[0].shape[axis : axis +
num_axes]`` broadcast along the outer axes (before ``axis``) and the inner ones (after).
``s`` is parameter blob 0 (one bottom) or ``bottom[1]`` (two bottoms: its shape sets the
axes and ``num_axes`` is ignored). With ``bias_term`` a bias ``b`` of the same shape is
added; it is the last parameter blob (blob 1 with a learned scale, blob 0 with a
second-bottom scale). A 0-axis (scalar) ``s`` multiplies everything.

Backward: ``d bottom[0] = d top * s``; ``d s = sum over outer/inner of d top * bottom[0]``;
``d b = sum over outer/inner of d top``. Parameter diffs accumulate; ``bottom[1].diff`` is
written.

caffe.proto defaults (ScaleParameter): ``axis: 1``, ``num_axes: 1`` (-1 = to the end),
``filler`` constant 1 when unset, ``bias_term: false``, ``bias_filler`` constant 0.
"""
from ..backend import get_array_module
from ..blob import Blob
from ..fillers import fill
from ..parallel import over_batch
from ._workspace import Workspace
from .base import Layer, register
from .bias import broadcast_dims, param_shape, sum_outer_inner


@register("Scale")
class ScaleLayer(Layer):
    MIN_BOTTOM = 1
    MAX_BOTTOM = 2
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.scale_param
        self.ws = Workspace()
        if self.blobs:
            return  # parameters given already (Caffe skips initialization)
        if len(bottom) == 1:
            shape = param_shape(self, p.axis, p.num_axes, bottom[0].shape)
            s = Blob(shape)
            if p.HasField("filler"):
                s.data[...] = fill(p.filler, shape)
            else:
                s.data[...] = 1  # identity by default
            self.blobs.append(s)
        if p.bias_term:
            bias_axes = bottom[1].num_axes if len(bottom) > 1 else p.num_axes
            shape = param_shape(self, p.axis, bias_axes, bottom[0].shape)
            b = Blob(shape)
            b.data[...] = fill(p.bias_filler, shape)
            self.blobs.append(b)

    def _scale(self, bottom):
        return bottom[1] if len(bottom) > 1 else self.blobs[0]

    def reshape(self, bottom, top):
        p = self.layer_param.scale_param
        scale = self._scale(bottom)
        self.dims = broadcast_dims(self, p.axis, bottom[0].shape, scale.shape, "scale")
        if p.bias_term:
            self.bias_dims = broadcast_dims(self, p.axis, bottom[0].shape,
                                            self.blobs[-1].shape, "bias")
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        x = bottom[0].data
        xp = get_array_module(x)
        outer, dim, inner = self.dims
        x3, y3 = x.reshape(self.dims), top[0].data.reshape(self.dims)
        s3 = self._scale(bottom).data.astype(x.dtype, copy=False).reshape(1, -1, 1)
        bias = self.layer_param.scale_param.bias_term
        b3 = self.blobs[-1].data.astype(x.dtype, copy=False).reshape(1, -1, 1) if bias else None
        # In place, the input is overwritten: keep it for the scale's gradient.
        saved = self.ws.get("saved_input", self.dims, x.dtype) if top[0] is bottom[0] else None
        self.saved_input = saved

        def rows(lo, hi):
            if saved is not None:
                saved[lo:hi] = x3[lo:hi]
            xp.multiply(x3[lo:hi], s3, out=y3[lo:hi])
            if b3 is not None:
                y3[lo:hi] += b3

        over_batch(rows, outer, x.size)

    def backward(self, top, propagate_down, bottom):
        tdiff = top[0].diff
        xp = get_array_module(tdiff)
        outer = self.dims[0]
        if self.layer_param.scale_param.bias_term:
            b = self.blobs[-1]
            b.diff += sum_outer_inner(tdiff, self.bias_dims).reshape(b.shape).astype(b.diff.dtype)
        x = self.saved_input if self.saved_input is not None else bottom[0].data
        d3, x3 = tdiff.reshape(self.dims), x.reshape(self.dims)
        wants_scale = propagate_down[1] if len(bottom) > 1 else True
        if wants_scale:
            work = self.ws.get("work", self.dims, tdiff.dtype)
            over_batch(lambda lo, hi: xp.multiply(d3[lo:hi], x3[lo:hi], out=work[lo:hi]), outer, tdiff.size)
            grad = sum_outer_inner(work, self.dims)
            if len(bottom) > 1:
                bottom[1].diff[...] = grad.reshape(bottom[1].shape)
            else:
                s = self.blobs[0]
                s.diff += grad.reshape(s.shape).astype(s.diff.dtype)
        if propagate_down[0]:
            s3 = self._scale(bottom).data.astype(tdiff.dtype, copy=False).reshape(1, -1, 1)
            dx3 = bottom[0].diff.reshape(self.dims)  # may be the top's diff (in place)
            over_batch(lambda lo, hi: xp.multiply(d3[lo:hi], s3, out=dx3[lo:hi]), outer, tdiff.size)
