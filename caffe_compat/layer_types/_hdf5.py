"""h5py, an optional dependency (``pip install tscaffe[hdf5]``), for the HDF5 layers."""


def import_h5py(layer):
    """The h5py module, or a clear error naming it and the layer that needs it."""
    try:
        import h5py
    except ImportError:
        raise layer.error("the HDF5 layers need the h5py package, which is not installed: "
                          "pip install h5py (or pip install tscaffe[hdf5])") from None
    return h5py
