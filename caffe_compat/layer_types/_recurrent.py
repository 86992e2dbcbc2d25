"""What RNN and LSTM share (Caffe 1.0's RecurrentLayer): bottoms, tops, state, checks.

Bottoms: ``x`` (T, N, ...) -- T time steps of N independent streams, the rest flattened to
one input vector per item; ``cont`` (T, N), 0 where a sequence starts (the previous state
is multiplied by it); optionally ``x_static`` (N, ...) added to every step's gate input;
with ``expose_hidden: true`` then the initial states (1, N, num_output) (RNN: h_0; LSTM: h_0,
c_0). Tops: the per-step output (T, N, num_output) and, with ``expose_hidden``, the final
states (1, N, num_output) in the same order.

Caffe builds an unrolled inner net; here the same sums run as loops over time (the same
operations per step, so forward and backward agree with it within float32 rounding).
What Caffe's unrolling implies, kept here:
- without ``expose_hidden`` each forward starts from the final state of the previous one
  (zeros at first, and after the stream count N changes);
- backward reaches ``x``, ``x_static`` and the parameters, never ``cont``; the exposed
  initial states get no diff (Caffe shares only their data) and the diffs of the exposed
  final-state tops are ignored (Caffe zeroes them: no backpropagation across batches);
- ``x``'s diff is written whenever backward runs (Caffe shares it with the inner net).

recurrent_param (caffe.proto defaults): num_output 0 (must be > 0); weight_filler and
bias_filler (constant 0 unless given); debug_info false (Caffe's inner-net logging; no
effect here); expose_hidden false.
"""
from ..backend import get_array_module
from .base import Layer


class RecurrentLayer(Layer):
    # Names of the recurrent states, in Caffe's order of the exposed bottoms and tops.
    STATES = ()

    def __init__(self, layer_param, phase):
        super().__init__(layer_param, phase)
        p = layer_param.recurrent_param
        self.expose_hidden = bool(p.expose_hidden)
        exposed = len(self.STATES) if self.expose_hidden else 0
        self.MIN_BOTTOM = 2 + exposed
        self.MAX_BOTTOM = 3 + exposed
        self.EXACT_NUM_TOP = 1 + exposed

    def allow_force_backward(self, bottom_index):
        return bottom_index != 1

    # -- setup and shapes ------------------------------------------------------------------
    def setup(self, bottom, top):
        p = self.layer_param.recurrent_param
        self.num_output = int(p.num_output)
        if self.num_output <= 0:
            raise self.error("recurrent_param.num_output must be positive")
        x, cont = bottom[0].shape, bottom[1].shape
        if len(x) < 2:
            raise self.error("bottom 0 must have at least 2 axes -- (#timesteps, #streams, ...)",
                             bottom0=x)
        self.T = x[0]
        self._check_cont(x, cont)
        exposed = len(self.STATES) if self.expose_hidden else 0
        self.static_input = len(bottom) > 2 + exposed
        if self.static_input:
            s = bottom[2].shape
            if len(s) < 1 or s[0] != x[1]:
                raise self.error("the static input (bottom 2) must be (#streams, ...)",
                                 bottom0=x, bottom2=s)
        self.x_dim = bottom[0].count_range(2)
        self.static_dim = bottom[2].count_range(1) if self.static_input else 0
        if not self.blobs:
            self.make_params(p.weight_filler, p.bias_filler)
        self.state = None

    def _check_cont(self, x, cont):
        if len(cont) != 2 or tuple(cont) != tuple(x[:2]):
            raise self.error("bottom 1 (cont) must be (#timesteps, #streams) like bottom 0's "
                             "first two axes", bottom0=x, bottom1=cont)

    def reshape(self, bottom, top):
        x, cont = bottom[0].shape, bottom[1].shape
        if len(x) < 2:
            raise self.error("bottom 0 must have at least 2 axes -- (#timesteps, #streams, ...)",
                             bottom0=x)
        if x[0] != self.T:
            raise self.error(f"input number of timesteps changed (set up with {self.T})", bottom0=x)
        self._check_cont(x, cont)
        if bottom[0].count_range(2) != self.x_dim:
            raise self.error(f"expected {self.x_dim} input values per time step and stream",
                             bottom0=x)
        n = x[1]
        state_shape = (1, n, self.num_output)
        first_state = 2
        if self.static_input:
            first_state = 3
            s = bottom[2].shape
            if s[0] != n or bottom[2].count_range(1) != self.static_dim:
                raise self.error(f"the static input must be ({n}, ...) with {self.static_dim} "
                                 "values per stream", bottom0=x, bottom2=s)
        for k in range(first_state, len(bottom)):
            if tuple(bottom[k].shape) != state_shape:
                raise self.error(f"the exposed initial state (bottom {k}) must be {state_shape}",
                                 **{f"bottom{k}": bottom[k].shape})
        top[0].reshape(self.T, n, self.num_output)
        for t in top[1:]:
            t.reshape(state_shape)

    # -- helpers for the subclasses --------------------------------------------------------
    def initial_states(self, bottom):
        """The states before step 1, each (N, num_output): the exposed bottoms, else what the
        previous forward left (zeros at first)."""
        x = bottom[0].data
        n = x.shape[1]
        if self.expose_hidden:
            first = 3 if self.static_input else 2
            return [b.data[0] for b in bottom[first:]]
        xp = get_array_module(x)
        if self.state is None or self.state[0].shape != (n, self.num_output) or \
                self.state[0].dtype != x.dtype:
            self.state = [xp.zeros((n, self.num_output), x.dtype) for _ in self.STATES]
        return self.state

    def finish_forward(self, top, finals):
        """Keep the final states for the next forward; expose them as tops."""
        if self.expose_hidden:
            for t, s in zip(top[1:], finals):
                t.data[0] = s
        else:
            self.state = [s.copy() for s in finals]

    def inputs(self, bottom):
        """x as (T, N, x_dim), cont (T, N), x_static as (N, static_dim) or None."""
        x = bottom[0].data.reshape(self.T, -1, self.x_dim)
        xs = bottom[2].data.reshape(x.shape[1], self.static_dim) if self.static_input else None
        return x, bottom[1].data, xs

    def input_transform(self, x, xs, w_x, b, w_s):
        """W_x x_t + b for every step (T, N, G), and W_s x_static (N, G) or None."""
        gx = x @ w_x.T + b
        gs = xs @ w_s.T if xs is not None else None
        return gx, gs

    def input_backward(self, bottom, dgx, w_x, b_blob, wx_blob, ws_blob):
        """Parameter and input diffs of the input transform from the per-step gate diffs
        ``dgx`` (T, N, G); x_static gets the sum over steps."""
        x, _, xs = self.inputs(bottom)
        g = dgx.shape[-1]
        d2 = dgx.reshape(-1, g)
        wx_blob.diff += d2.T @ x.reshape(-1, self.x_dim)
        b_blob.diff += d2.sum(axis=0)
        bottom[0].diff[...] = (dgx @ w_x).reshape(bottom[0].shape)
        if xs is not None:
            ds = dgx.sum(axis=0)
            ws_blob.diff += ds.T @ xs
            bottom[2].diff[...] = (ds @ ws_blob.data).reshape(bottom[2].shape)
