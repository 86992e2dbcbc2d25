"""DummyData: tops filled by fillers, with no bottoms (Caffe's DummyDataLayer).

dummy_data_param (caffe.proto): ``data_filler`` given 0 times (constant 0), once (for every
top) or once per top; the shapes as ``shape`` (once for every top, or once per top) or as the
legacy 4-D fields ``num``, ``channels``, ``height``, ``width`` (each once, or once per top;
not together with ``shape``). Constant tops are filled once, in setup, and never again (a
value written into one stays); the others are refilled from the fillers (and the solver's
random seed, see caffe_compat.rng) on every forward. Reshape does nothing; no backward.
"""
from ..fillers import fill
from ..proto import caffe_pb2
from .base import Layer, register


@register("DummyData")
class DummyDataLayer(Layer):
    EXACT_NUM_BOTTOM = 0
    MIN_TOP = 1

    def setup(self, bottom, top):
        p = self.layer_param.dummy_data_param
        n = len(top)
        if len(p.data_filler) not in (0, 1, n):
            raise self.error(f"number of data fillers must be 0, 1 or equal to the number of "
                             f"tops: {n}; you specified {len(p.data_filler)} data fillers")
        legacy = {f: list(getattr(p, f)) for f in ("num", "channels", "height", "width")}
        if any(legacy.values()):
            if len(p.shape):
                raise self.error("both shape and legacy fields (num, channels, height, "
                                 "width) were specified")
            for field, values in legacy.items():
                if len(values) not in (1, n):
                    raise self.error(f"must specify '{field}' once, or once per top blob "
                                     f"({n}); specified {len(values)}")
            shapes = [tuple(int(legacy[f][0 if len(legacy[f]) == 1 else i])
                            for f in ("num", "channels", "height", "width")) for i in range(n)]
        else:
            if len(p.shape) not in (1, n):
                raise self.error(f"must specify 'shape' once, or once per top blob ({n}); "
                                 f"specified {len(p.shape)}")
            shapes = [tuple(int(d) for d in p.shape[0 if len(p.shape) == 1 else i].dim)
                      for i in range(n)]
        if len(p.data_filler) == 0:
            default = caffe_pb2.FillerParameter(type="constant", value=0)
            fillers = [default] * n
        else:
            fillers = [p.data_filler[0 if len(p.data_filler) == 1 else i] for i in range(n)]
        self.fillers = fillers
        self.refill = [f.type != "constant" for f in fillers]
        for blob, shape, filler in zip(top, shapes, fillers):
            if any(d < 0 for d in shape):
                raise self.error(f"negative dimension in shape {shape} of top '{blob.name}'")
            blob.reshape(shape)
            if filler.type == "constant":
                blob.data[...] = fill(filler, shape)

    def reshape(self, bottom, top):
        """Nothing: the shapes are fixed in setup."""

    def forward(self, bottom, top):
        for blob, filler, refill in zip(top, self.fillers, self.refill):
            if refill:
                blob.data[...] = fill(filler, blob.shape)
