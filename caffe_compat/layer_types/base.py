"""The Layer interface and the registry of layer types.

A layer module defines one class per prototxt ``type`` and registers it::

    @register("ReLU")
    class ReLULayer(Layer):
        ...

The Net drives every layer the way Caffe's ``Layer::SetUp`` and ``Net`` do:

1. ``check_blob_counts(bottom, top)`` against the class's EXACT/MIN/MAX counts;
2. ``setup(bottom, top)``  (Caffe's LayerSetUp: read parameters, create ``self.blobs``);
3. ``reshape(bottom, top)`` (shape the tops from the bottoms; also before every forward);
4. ``forward(bottom, top)`` and ``backward(top, propagate_down, bottom)``.

``bottom`` and ``top`` are lists of ``Blob``; an in-place layer gets the same Blob object in
both. ``self.blobs`` holds the learnable parameters in Caffe's order. Backward accumulates
into parameter diffs (``+=``) and overwrites bottom diffs, as Caffe does. pycaffe's
``caffe.Layer`` for Python layers is this same class, so the four method names match it.
"""
from ..backend import xp
from ..errors import LayerSetupError, NetError, fmt_shape

_REGISTRY = {}


def register(type_name):
    """Class decorator: make ``type_name`` (the exact prototxt type string) build this class."""

    def deco(cls):
        if type_name in _REGISTRY and _REGISTRY[type_name] is not cls:
            raise RuntimeError(f"layer type '{type_name}' registered twice")
        cls.type = type_name
        _REGISTRY[type_name] = cls
        return cls

    return deco


def layer_types():
    _load_all()
    return sorted(_REGISTRY)


def _load_all():
    from . import load_all_layer_modules

    load_all_layer_modules()


def create_layer(layer_param, phase):
    """Instantiate the registered class for ``layer_param.type``."""
    _load_all()
    cls = _REGISTRY.get(layer_param.type)
    if cls is None:
        known = ", ".join(sorted(_REGISTRY))
        raise NetError(
            f"Layer '{layer_param.name}': unknown layer type '{layer_param.type}' "
            f"(known types: {known})"
        )
    return cls(layer_param, phase)


class Layer:
    """Base class of every layer (and of user Python layers, as ``caffe_compat.Layer``)."""

    type = None
    # Blob-count constraints (Caffe's ExactNumBottomBlobs etc.); -1 means unconstrained.
    EXACT_NUM_BOTTOM = -1
    MIN_BOTTOM = -1
    MAX_BOTTOM = -1
    EXACT_NUM_TOP = -1
    MIN_TOP = -1
    MAX_TOP = -1
    # Caffe's EqualNumBottomTopBlobs (Split is the exception, not the rule).
    EQUAL_NUM_BOTTOM_TOP = False
    # Loss layers: top 0 gets loss_weight 1 unless the prototxt says otherwise.
    IS_LOSS = False
    # Caffe's AutoTopBlobs: create anonymous tops up to the minimum count.
    AUTO_TOP_BLOBS = False

    def __init__(self, layer_param, phase):
        self.layer_param = layer_param
        self.phase = phase
        self.name = layer_param.name
        self.blobs = []

    # -- the four methods a layer implements --------------------------------------------
    def setup(self, bottom, top):
        """Read parameters and create learnable blobs (Caffe's LayerSetUp)."""

    def reshape(self, bottom, top):
        raise NotImplementedError(f"{type(self).__name__}.reshape")

    def forward(self, bottom, top):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, top, propagate_down, bottom):
        """Default: the layer has no gradient to give (data layers, Accuracy...)."""

    # -- what the Net asks ----------------------------------------------------------------
    def allow_force_backward(self, bottom_index):
        """False where a bottom (a label, a target) can never receive a gradient."""
        return True

    def has_backward(self):
        return type(self).backward is not Layer.backward

    def check_blob_counts(self, bottom, top):
        name, t = self.name, self.type
        nb, nt = len(bottom), len(top)

        def bad(what, want, got):
            return LayerSetupError(f"Layer '{name}' ({t}) takes {want} {what} blob(s), got {got}")

        if self.EXACT_NUM_BOTTOM >= 0 and nb != self.EXACT_NUM_BOTTOM:
            raise bad("bottom", f"exactly {self.EXACT_NUM_BOTTOM}", nb)
        if self.MIN_BOTTOM >= 0 and nb < self.MIN_BOTTOM:
            raise bad("bottom", f"at least {self.MIN_BOTTOM}", nb)
        if self.MAX_BOTTOM >= 0 and nb > self.MAX_BOTTOM:
            raise bad("bottom", f"at most {self.MAX_BOTTOM}", nb)
        if self.EXACT_NUM_TOP >= 0 and nt != self.EXACT_NUM_TOP:
            raise bad("top", f"exactly {self.EXACT_NUM_TOP}", nt)
        if self.MIN_TOP >= 0 and nt < self.MIN_TOP:
            raise bad("top", f"at least {self.MIN_TOP}", nt)
        if self.MAX_TOP >= 0 and nt > self.MAX_TOP:
            raise bad("top", f"at most {self.MAX_TOP}", nt)
        if self.EQUAL_NUM_BOTTOM_TOP and nb != nt:
            raise LayerSetupError(
                f"Layer '{name}' ({t}) needs as many tops as bottoms, got {nb} bottom(s) and {nt} top(s)"
            )

    # -- helpers for subclasses ------------------------------------------------------------
    def error(self, message, **shapes):
        """A LayerSetupError naming this layer and, where given, shapes (``bottom0=(...)``)."""
        parts = [f"Layer '{self.name}' ({self.type}): {message}"]
        parts += [f"{k}: {fmt_shape(v)}" for k, v in shapes.items()]
        return LayerSetupError("; ".join(parts))

    def new_param(self, shape, filler):
        """The next learnable blob (``<layer>/<k>``), filled as ``filler`` says."""
        from ..blob import Blob
        from ..fillers import fill

        blob = Blob(shape, name=f"{self.name}/{len(self.blobs)}")
        blob.data[...] = fill(filler, shape)
        return blob

    def param_blob_shapes(self):
        return [b.shape for b in self.blobs]

    def __repr__(self):
        return f"<{type(self).__name__} '{self.name}'>"


class NeuronLayer(Layer):
    """Caffe's NeuronLayer: one bottom, one top of the bottom's shape (element-wise layers)."""
    EXACT_NUM_BOTTOM = 1
    EXACT_NUM_TOP = 1

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape)


def as_float32(a):
    return xp.asarray(a, dtype=xp.float32)
