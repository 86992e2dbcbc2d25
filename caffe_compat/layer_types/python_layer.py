"""Python: a user layer written in Python, driven the way pycaffe drives one.

``python_param { module: "m" layer: "C" param_str: "..." }`` imports module ``m`` (from
``sys.path``, as pycaffe does), instantiates class ``C`` -- a subclass of
``caffe_compat.Layer`` (``import caffe_compat as caffe; class C(caffe.Layer)``) -- and sets
``self.param_str`` (default "") and ``self.phase`` before calling ``setup(bottom, top)``. Then
``reshape``, ``forward(bottom, top)`` and ``backward(top, propagate_down, bottom)`` are the
user's. ``self.blobs`` is a list with pycaffe's ``add_blob(*shape)``. A Python layer is a loss
only where the prototxt gives ``loss_weight`` (it is not a Caffe LossLayer).
"""
import importlib

from ..blob import Blob
from ..errors import NetError
from .base import Layer, register


class BlobVec(list):
    """pycaffe's ``layer.blobs``: a list of Blob that can grow with ``add_blob(*shape)``."""

    def add_blob(self, *shape):
        self.append(Blob(shape))


@register("Python")
class PythonLayer(Layer):
    """Builds the user's class: ``PythonLayer(param, phase)`` returns an instance of it."""

    def __new__(cls, layer_param, phase):
        p = layer_param.python_param
        where = f"Layer '{layer_param.name}' (Python)"
        if not p.module or not p.layer:
            raise NetError(f"{where}: python_param needs both 'module' and 'layer'")
        module_name = p.module
        if module_name.startswith("caffe_compat.layers."):
            # Nets written before the implementation package was renamed (caffe_compat.layers
            # is now pycaffe's NetSpec layer factory).
            module_name = "caffe_compat.layer_types." + module_name[len("caffe_compat.layers."):]
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise NetError(f"{where}: cannot import python_param.module '{p.module}': {e}") from e
        user_cls = getattr(module, p.layer, None)
        if user_cls is None:
            raise NetError(f"{where}: module '{p.module}' has no class '{p.layer}'")
        if not (isinstance(user_cls, type) and issubclass(user_cls, Layer)):
            raise NetError(f"{where}: '{p.module}.{p.layer}' must be a subclass of caffe_compat.Layer "
                           "(import caffe_compat as caffe; class ...(caffe.Layer))")
        obj = user_cls(layer_param, phase)
        obj.type = "Python"
        obj.param_str = p.param_str
        obj.phase = phase
        obj.blobs = BlobVec(obj.blobs)
        return obj
