"""LSTMUnit: one LSTM time step on gate pre-activations, Caffe 1.0's formulas.

Bottoms: ``c_prev`` (1, N, H), ``x`` (1, N, 4H) the gate inputs (i', f', o', g' blocks of H
along the last axis), ``cont`` (1, N) the sequence-continuation indicators. Tops: ``c`` and
``h``, both (1, N, H)::

    i = sigmoid(i'),  o = sigmoid(o'),  g = tanh(g')
    f = 0 where cont == 0, else cont * sigmoid(f')
    c = f * c_prev + i * g,   h = o * tanh(c)

with ``sigmoid(x) = 1 / (1 + exp(-x))`` and ``tanh(x) = 2 sigmoid(2x) - 1`` as Caffe writes
them. Backward (Caffe's expressions, also for a non-binary ``cont``): with
``d = dc + dh * o * (1 - tanh(c)^2)``: ``dc_prev = d f``, ``di' = d g i (1 - i)``,
``df' = d c_prev f (1 - f)``, ``do' = dh tanh(c) o (1 - o)``, ``dg' = d i (1 - g^2)``.
Both bottom diffs are written when either is asked for; ``cont`` never gets one.
No parameters. The LSTM layer runs these same functions once per time step.
"""
from ..backend import get_array_module
from .base import Layer, register


def sigmoid(x):
    xp = get_array_module(x)
    with xp.errstate(over="ignore"):
        return 1 / (1 + xp.exp(-x))


def tanh_by_sigmoid(x):
    return 2 * sigmoid(2 * x) - 1


def _gates(gates, cont, hidden):
    """(i, f, o, g) of (N, 4H) pre-activations; ``cont`` is (N,)."""
    xp = get_array_module(gates)
    i = sigmoid(gates[:, :hidden])
    c1 = cont[:, None]
    f = xp.where(c1 == 0, gates.dtype.type(0), c1 * sigmoid(gates[:, hidden : 2 * hidden]))
    o = sigmoid(gates[:, 2 * hidden : 3 * hidden])
    g = tanh_by_sigmoid(gates[:, 3 * hidden :])
    return i, f.astype(gates.dtype, copy=False), o, g


def unit_forward(c_prev, gates, cont):
    """(c, h) of one step: ``c_prev`` (N, H), ``gates`` (N, 4H), ``cont`` (N,)."""
    i, f, o, g = _gates(gates, cont, c_prev.shape[-1])
    c = f * c_prev + i * g
    return c, o * tanh_by_sigmoid(c)


def unit_backward(c_prev, gates, cont, c, dc, dh):
    """(dc_prev (N, H), dgates (N, 4H)) of one step, Caffe's expressions."""
    xp = get_array_module(gates)
    hidden = c_prev.shape[-1]
    i, f, o, g = _gates(gates, cont, hidden)
    tanh_c = tanh_by_sigmoid(c)
    d = dc + dh * o * (1 - tanh_c * tanh_c)
    dgates = xp.empty_like(gates)
    dgates[:, :hidden] = d * g * i * (1 - i)
    dgates[:, hidden : 2 * hidden] = d * c_prev * f * (1 - f)
    dgates[:, 2 * hidden : 3 * hidden] = dh * tanh_c * o * (1 - o)
    dgates[:, 3 * hidden :] = d * i * (1 - g * g)
    return d * f, dgates


@register("LSTMUnit")
class LSTMUnitLayer(Layer):
    EXACT_NUM_BOTTOM = 3
    EXACT_NUM_TOP = 2

    def allow_force_backward(self, bottom_index):
        return bottom_index != 2

    def reshape(self, bottom, top):
        shapes = {f"bottom{k}": b.shape for k, b in enumerate(bottom)}
        n = bottom[0].shape[1] if len(bottom[0].shape) > 1 else None
        for k, b in enumerate(bottom):
            want = 2 if k == 2 else 3
            if len(b.shape) != want or b.shape[0] != 1 or b.shape[1] != n:
                raise self.error(
                    "bottoms must be c_prev (1, N, H), gate inputs (1, N, 4H) and cont (1, N); "
                    f"bottom {k} is not", **shapes)
        self.hidden = bottom[0].shape[2]
        if bottom[1].shape[2] != 4 * self.hidden:
            raise self.error(f"the gate inputs need 4 * H = {4 * self.hidden} values per item",
                             **shapes)
        top[0].reshape(bottom[0].shape)
        top[1].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        c, h = unit_forward(bottom[0].data[0], bottom[1].data[0], bottom[2].data[0])
        top[0].data[0] = c
        top[1].data[0] = h

    def backward(self, top, propagate_down, bottom):
        if propagate_down[2]:
            raise self.error("cannot backpropagate to the sequence indicators (bottom 2)")
        if not (propagate_down[0] or propagate_down[1]):
            return
        dc_prev, dgates = unit_backward(bottom[0].data[0], bottom[1].data[0], bottom[2].data[0],
                                        top[0].data[0], top[0].diff[0], top[1].diff[0])
        bottom[0].diff[0] = dc_prev
        bottom[1].diff[0] = dgates
