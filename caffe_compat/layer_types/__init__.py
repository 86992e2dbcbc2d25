"""Layer implementations: one module per prototxt type, each registering itself.

Modules are discovered, so adding a layer means adding a file. ``create_layer`` in
``base`` builds a layer from its ``LayerParameter``.
"""
import importlib
import pkgutil

from .base import Layer, create_layer, layer_types, register  # noqa: F401

_loaded = False


def load_all_layer_modules():
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
