"""Tile: repeat the bottom ``tiles`` times along ``axis`` (whole blocks, not elements).

    top.shape[axis] = tiles * bottom.shape[axis];  top[.., t*d + i, ..] = bottom[.., i, ..]

tile_param (caffe.proto): ``axis`` 1 (negative counts from the end), ``tiles`` required and
> 0. Backward: the bottom's diff is the sum of the top diff's ``tiles`` blocks.
"""
from ..backend import get_array_module
from ._axis import canonical_axis
from .base import Layer, register


@register("Tile")
class TileLayer(Layer):
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.tile_param
        if not p.HasField("tiles"):
            raise self.error("number of tiles must be specified (tile_param.tiles)")
        if p.tiles <= 0:
            raise self.error(f"number of tiles must be positive, got {p.tiles}")
        self.tiles = int(p.tiles)

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        self.axis = canonical_axis(self, self.layer_param.tile_param.axis, shape)
        self.outer = bottom[0].count_range(0, self.axis)
        top[0].reshape(shape[:self.axis] + (shape[self.axis] * self.tiles,) + shape[self.axis + 1:])

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        x = bottom[0].data.reshape(self.outer, 1, -1)
        top[0].data.reshape(self.outer, self.tiles, -1)[...] = xp.broadcast_to(
            x, (self.outer, self.tiles, x.shape[2]))

    def backward(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy = top[0].diff.reshape(self.outer, self.tiles, -1)
        bottom[0].diff.reshape(self.outer, -1)[...] = dy.sum(axis=1)
