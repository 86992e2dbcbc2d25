"""Crop: cut bottom[0] to the shape of bottom[1] on the axes from ``axis`` on.

crop_param (caffe.proto): ``axis`` 2 (negative counts from the end); ``offset`` repeated:
none (0 on every cropped axis), once (the same offset on every cropped axis) or once per
axis from ``axis`` to the last. Axes before ``axis`` keep bottom[0]'s size. Every cropped
axis needs ``offset + bottom[1] size <= bottom[0] size``.

    top = bottom[0][..., o_a : o_a + s_a, ..., o_last : o_last + s_last]

Backward: bottom[0]'s diff is zero outside the window and top's diff inside it; bottom[1]
only gives the shape and gets no gradient (its diff is left as it is, as in Caffe).
"""
from ._axis import canonical_axis
from .base import Layer, register


@register("Crop")
class CropLayer(Layer):
    EXACT_NUM_BOTTOM = 2
    EXACT_NUM_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.crop_param
        ndim = bottom[0].num_axes
        axis = canonical_axis(self, p.axis, bottom[0].shape)
        if len(p.offset) > 1 and axis + len(p.offset) != ndim:
            raise self.error(f"number of offset values specified ({len(p.offset)}) must be "
                             f"equal to the number of dimensions following axis {axis}",
                             bottom0=bottom[0].shape)

    def reshape(self, bottom, top):
        p = self.layer_param.crop_param
        xs, rs = bottom[0].shape, bottom[1].shape
        axis = canonical_axis(self, p.axis, xs)
        if len(rs) < len(xs):
            raise self.error("bottom[1] needs at least as many axes as bottom[0] (its sizes "
                             "give the cropped ones)", bottom0=xs, bottom1=rs)
        index, shape = [], []
        for i, size in enumerate(xs):
            if i < axis:
                index.append(slice(None))
                shape.append(size)
                continue
            offset = 0 if not len(p.offset) else int(p.offset[0 if len(p.offset) == 1 else i - axis])
            if size - offset < rs[i]:
                raise self.error(f"the crop for dimension {i} is out of bounds with size "
                                 f"{rs[i]} and offset {offset}", bottom0=xs, bottom1=rs)
            index.append(slice(offset, offset + rs[i]))
            shape.append(rs[i])
        self.window = tuple(index)
        top[0].reshape(tuple(shape))

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data[self.window]

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            dx = bottom[0].diff
            dx[...] = 0
            dx[self.window] = top[0].diff
