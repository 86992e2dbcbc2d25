"""LSTM: Caffe 1.0's long short-term memory layer (see ``_recurrent`` for bottoms, tops, state).

For t = 1..T, with h_0, c_0 the initial states and H = num_output::

    gates_t = W_hc (cont_t * h_{t-1}) + W_xc x_t + b_c [+ W_xc_static x_static]   (N, 4H)
    c_t, h_t = LSTMUnit(c_{t-1}, gates_t, cont_t)

(the LSTMUnit formulas: gate blocks i, f, o, g; ``c = f c_prev + i g``, ``h = o tanh(c)``,
``f = 0`` where cont is 0). Top 0 is h (T, N, H); with ``expose_hidden`` tops 1 and 2 are
h_T and c_T, and bottoms h_0, c_0 follow x, cont [, x_static]. Parameters, in Caffe's
order and shapes: W_xc (4H, x_dim), b_c (4H,) [weight_filler, bias_filler], then
W_xc_static (4H, static_dim) only with a static input, then W_hc (4H, H).
Backward runs LSTMUnit's backward through the steps in reverse.
"""
from ..backend import get_array_module
from ._recurrent import RecurrentLayer
from .base import register
from .lstm_unit import unit_backward, unit_forward


@register("LSTM")
class LSTMLayer(RecurrentLayer):
    STATES = ("h", "c")

    def make_params(self, weight_filler, bias_filler):
        g = 4 * self.num_output
        self.blobs.append(self.new_param((g, self.x_dim), weight_filler))
        self.blobs.append(self.new_param((g,), bias_filler))
        if self.static_input:
            self.blobs.append(self.new_param((g, self.static_dim), weight_filler))
        self.blobs.append(self.new_param((g, self.num_output), weight_filler))

    def _params(self):
        b = self.blobs
        return (b[0], b[1], b[2], b[3]) if self.static_input else (b[0], b[1], None, b[2])

    def forward(self, bottom, top):
        x, cont, xs = self.inputs(bottom)
        xp = get_array_module(x)
        w_xc, b_c, w_s, w_hc = self._params()
        gx, gs = self.input_transform(x, xs, w_xc.data, b_c.data, w_s.data if w_s is not None else None)
        t_steps, n = cont.shape
        shape = (t_steps + 1, n, self.num_output)
        h, c = xp.empty(shape, x.dtype), xp.empty(shape, x.dtype)
        hc = xp.empty((t_steps, n, self.num_output), x.dtype)
        gates = xp.empty_like(gx)
        h[0], c[0] = self.initial_states(bottom)
        for t in range(t_steps):
            hc[t] = cont[t][:, None] * h[t]
            gates[t] = hc[t] @ w_hc.data.T + gx[t]
            if gs is not None:
                gates[t] += gs
            c[t + 1], h[t + 1] = unit_forward(c[t], gates[t], cont[t])
        top[0].data[...] = h[1:]
        self.c, self.hc, self.gates = c, hc, gates
        self.finish_forward(top, [h[t_steps], c[t_steps]])

    def backward(self, top, propagate_down, bottom):
        if propagate_down[1]:
            raise self.error("cannot backpropagate to the sequence indicators (bottom 1)")
        xp = get_array_module(bottom[0].data)
        w_xc, b_c, w_s, w_hc = self._params()
        cont, c, hc, gates = bottom[1].data, self.c, self.hc, self.gates
        dgates = xp.empty_like(gates)
        dh_next = xp.zeros_like(c[0])
        dc_next = xp.zeros_like(c[0])
        for t in reversed(range(len(cont))):
            dh = top[0].diff[t] + dh_next
            dc_next, dgates[t] = unit_backward(c[t], gates[t], cont[t], c[t + 1], dc_next, dh)
            dh_next = (dgates[t] @ w_hc.data) * cont[t][:, None]
        g = dgates.shape[-1]
        w_hc.diff += dgates.reshape(-1, g).T @ hc.reshape(-1, self.num_output)
        self.input_backward(bottom, dgates, w_xc.data, b_c, w_xc, w_s)
