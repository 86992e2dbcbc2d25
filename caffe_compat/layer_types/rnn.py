"""RNN: Caffe 1.0's simple recurrent layer (see ``_recurrent`` for bottoms, tops, state).

For t = 1..T, with h_0 the initial state::

    h_t = tanh(W_hh (cont_t * h_{t-1}) + W_xh x_t + b_h [+ W_xh_static x_static])
    o_t = tanh(W_ho h_t + b_o)

Top 0 is o (T, N, num_output); with ``expose_hidden`` top 1 is h_T. Parameters, in Caffe's
order and shapes (H = num_output): W_xh (H, x_dim) and b_h (H,) [weight_filler,
bias_filler], then W_xh_static (H, static_dim) only with a static input, then W_hh (H, H),
W_ho (H, H), b_o (H,). Backward is the chain rule through the steps in reverse
(tanh' = 1 - y^2), summing each parameter's diff over the steps.
"""
from ..backend import get_array_module
from ._recurrent import RecurrentLayer
from .base import register


@register("RNN")
class RNNLayer(RecurrentLayer):
    STATES = ("h",)

    def make_params(self, weight_filler, bias_filler):
        h = self.num_output
        self.blobs.append(self.new_param((h, self.x_dim), weight_filler))
        self.blobs.append(self.new_param((h,), bias_filler))
        if self.static_input:
            self.blobs.append(self.new_param((h, self.static_dim), weight_filler))
        self.blobs.append(self.new_param((h, h), weight_filler))
        self.blobs.append(self.new_param((h, h), weight_filler))
        self.blobs.append(self.new_param((h,), bias_filler))

    def _params(self):
        b = self.blobs
        k = 3 if self.static_input else 2
        return b[0], b[1], (b[2] if self.static_input else None), b[k], b[k + 1], b[k + 2]

    def forward(self, bottom, top):
        x, cont, xs = self.inputs(bottom)
        xp = get_array_module(x)
        w_xh, b_h, w_s, w_hh, w_ho, b_o = self._params()
        gx, gs = self.input_transform(x, xs, w_xh.data, b_h.data, w_s.data if w_s is not None else None)
        t_steps, n = cont.shape
        h = xp.empty((t_steps + 1, n, self.num_output), x.dtype)
        hc = xp.empty((t_steps, n, self.num_output), x.dtype)
        h[0] = self.initial_states(bottom)[0]
        for t in range(t_steps):
            hc[t] = cont[t][:, None] * h[t]
            pre = hc[t] @ w_hh.data.T + gx[t]
            if gs is not None:
                pre += gs
            h[t + 1] = xp.tanh(pre)
        top[0].data[...] = xp.tanh(h[1:] @ w_ho.data.T + b_o.data)
        self.h, self.hc = h, hc
        self.finish_forward(top, [h[t_steps]])

    def backward(self, top, propagate_down, bottom):
        if propagate_down[1]:
            raise self.error("cannot backpropagate to the sequence indicators (bottom 1)")
        xp = get_array_module(bottom[0].data)
        w_xh, b_h, w_s, w_hh, w_ho, b_o = self._params()
        cont, h, hc, nh = bottom[1].data, self.h, self.hc, self.num_output
        o = top[0].data
        do = top[0].diff * (1 - o * o)
        w_ho.diff += do.reshape(-1, nh).T @ h[1:].reshape(-1, nh)
        b_o.diff += do.reshape(-1, nh).sum(axis=0)
        dh_out = do @ w_ho.data
        da = xp.empty_like(dh_out)
        dh_next = xp.zeros_like(dh_out[0])
        for t in reversed(range(len(cont))):
            dh = dh_out[t] + dh_next
            da[t] = dh * (1 - h[t + 1] * h[t + 1])
            dh_next = (da[t] @ w_hh.data) * cont[t][:, None]
        w_hh.diff += da.reshape(-1, nh).T @ hc.reshape(-1, nh)
        self.input_backward(bottom, da, w_xh.data, b_h, w_xh, w_s)
