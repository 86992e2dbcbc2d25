"""Embed: a lookup table, the product of one-hot rows with a weight matrix.

    y[..., :] = W[int(x[...]), :] + b

Every element of the bottom (any shape) is an index in 0 .. input_dim - 1; the top has the
bottom's shape plus a last axis of num_output. A non-integer or out-of-range index is an
error here (Caffe only DCHECKs: its release build truncates with static_cast<int> and reads
outside the table). Weights have shape (input_dim, num_output) (InnerProduct's,
transposed), bias (num_output,).

embed_param (caffe.proto defaults): num_output and input_dim (required, > 0); bias_term
true; weight_filler and bias_filler constant 0.

Backward: dW[k] += sum of dy over the positions whose index is k (repeated indices
accumulate), db += sum of dy over all positions. The indices get no gradient: as in Caffe,
asking for one (force_backward, a layer below that learns) is an error.
"""
from ..backend import get_array_module
from ..errors import NetError
from .base import Layer, register


@register("Embed")
class EmbedLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.embed_param
        self.num_output, self.input_dim = int(p.num_output), int(p.input_dim)
        if self.num_output <= 0:
            raise self.error("EmbedLayer num_output must be positive (embed_param.num_output)")
        if self.input_dim <= 0:
            raise self.error("EmbedLayer input_dim must be positive (embed_param.input_dim)")
        self.bias_term = bool(p.bias_term)
        if not self.blobs:
            self.blobs.append(self.new_param((self.input_dim, self.num_output), p.weight_filler))
            if self.bias_term:
                self.blobs.append(self.new_param((self.num_output,), p.bias_filler))

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape + (self.num_output,))

    def _indices(self, bottom):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data.reshape(-1)
        idx = xp.trunc(x).astype(xp.int64)
        bad = (idx < 0) | (idx >= self.input_dim) | (idx != x)
        if bool(bad.any()):
            raise self.error(f"index {float(x[bad][0]):g} is not an integer in 0 .. {self.input_dim - 1} "
                             "(embed_param.input_dim)", bottom0=bottom[0].shape)
        return idx

    def forward(self, bottom, top):
        self.idx = self._indices(bottom)
        y = top[0].data.reshape(-1, self.num_output)
        y[...] = self.blobs[0].data[self.idx]
        if self.bias_term:
            y += self.blobs[1].data

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            raise NetError(f"Layer '{self.name}' (Embed): can't backpropagate to EmbedLayer input "
                           "(the indices); remove force_backward or what asks for that gradient")
        xp = get_array_module(top[0].diff)
        dy = top[0].diff.reshape(-1, self.num_output)
        xp.add.at(self.blobs[0].diff, self.idx, dy)
        if self.bias_term:
            self.blobs[1].diff += dy.sum(axis=0)
