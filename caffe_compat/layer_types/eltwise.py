"""Eltwise: element-wise combination of bottoms of one shape.

* ``SUM`` (default): ``top = sum_i coeff_i * bottom_i``;  d bottom_i = coeff_i * d top.
* ``PROD``: ``top = prod_i bottom_i``;  d bottom_i = d top * prod_{j != i} bottom_j with
  ``stable_prod_grad: true`` (default), or d top * top / bottom_i with false.
* ``MAX``: ``top = max_i bottom_i``; the gradient goes to the bottom that won. As in
  Caffe, bottoms 0 and 1 compare with ``>`` (a tie goes to bottom 1), later bottoms win
  only when strictly larger (a tie stays with the earlier winner).

caffe.proto defaults (EltwiseParameter): ``operation: SUM``, ``coeff`` empty (all 1; one
per bottom otherwise, SUM only), ``stable_prod_grad: true``. All bottoms must have the
same shape.
"""
from ..backend import get_array_module
from ._index import index_dtype
from .base import Layer, register

PROD, SUM, MAX = 0, 1, 2  # EltwiseParameter.EltwiseOp


@register("Eltwise")
class EltwiseLayer(Layer):
    MIN_BOTTOM = 2
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.eltwise_param
        self.op = p.operation
        if self.op not in (PROD, SUM, MAX):
            raise self.error(f"unknown operation {self.op}")
        if p.coeff and self.op != SUM:
            raise self.error("coeff is only allowed with operation SUM")
        if p.coeff and len(p.coeff) != len(bottom):
            raise self.error(f"one coeff per bottom needed: {len(p.coeff)} coeff(s) for "
                             f"{len(bottom)} bottoms")
        self.coeffs = [float(c) for c in p.coeff] or [1.0] * len(bottom)
        self.stable_prod_grad = p.stable_prod_grad

    def reshape(self, bottom, top):
        first = bottom[0].shape
        for i, b in enumerate(bottom[1:], start=1):
            if b.shape != first:
                raise self.error("all bottoms must have the same shape",
                                 bottom0=first, **{f"bottom{i}": b.shape})
        top[0].reshape(first)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        out = top[0].data
        if self.op == PROD:
            xp.multiply(bottom[0].data, bottom[1].data, out=out)
            for b in bottom[2:]:
                out *= b.data
        elif self.op == SUM:
            out[...] = 0
            for c, b in zip(self.coeffs, bottom):
                out += b.data * out.dtype.type(c)
        else:
            a, b = bottom[0].data, bottom[1].data
            a_wins = a > b
            self.argmax = xp.where(a_wins, 0, 1).astype(index_dtype(len(bottom) - 1, smallest=xp.int8))
            out[...] = xp.where(a_wins, a, b)
            for i, blob in enumerate(bottom[2:], start=2):
                wins = blob.data > out
                self.argmax[wins] = i
                out[wins] = blob.data[wins]

    def backward(self, top, propagate_down, bottom):
        tdiff = top[0].diff
        for i, b in enumerate(bottom):
            if not propagate_down[i]:
                continue
            if self.op == PROD:
                if self.stable_prod_grad:
                    others = [o.data for j, o in enumerate(bottom) if j != i]
                    prod = others[0].copy()
                    for o in others[1:]:
                        prod *= o
                    b.diff[...] = prod * tdiff
                else:
                    b.diff[...] = top[0].data / b.data * tdiff
            elif self.op == SUM:
                c = self.coeffs[i]
                b.diff[...] = tdiff * b.diff.dtype.type(c)
            else:
                b.diff[...] = tdiff * (self.argmax == i)
