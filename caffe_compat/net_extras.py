"""The parts of pycaffe's ``caffe.Net`` built on the core (caffe_compat.net): batched
forward/backward over whole arrays, HDF5 weights, pycaffe's index views.

- ``forward_all(blobs=None, **inputs)``: ``inputs`` (arrays of any length along axis 0) cut
  into the net's batch size (the last batch padded with zeros), one ``forward`` per batch;
  returns {output (and each name in ``blobs``): the stacked results, padding dropped};
- ``forward_backward_all(blobs=None, diffs=None, **arrays)``: the same with a ``backward``
  after each forward (arrays named after outputs set the top diffs); returns (outputs, diffs);
- ``save_hdf5(path)`` / ``load_hdf5(path)``: Caffe's Net::ToHDF5 layout: group ``data``,
  one group per layer (named as the layer), datasets ``"0"``, ``"1"``, ... holding the layer's
  own parameters (shared ones only with their owner). Needs h5py (``pip install tscaffe[hdf5]``).
"""
import itertools

import numpy as np

from .errors import CaffeError, LayerSetupError, fmt_shape


def _h5py():
    try:
        import h5py
    except ImportError:
        raise CaffeError("Net.save_hdf5/load_hdf5 need the h5py package: "
                         "pip install 'tscaffe[hdf5]' (or pip install h5py)") from None
    return h5py


class NetExtras:
    """Mixed into caffe_compat.net.Net."""

    @property
    def _inputs(self):
        return list(self._input_ids)

    @property
    def _outputs(self):
        return list(self._output_ids)

    def _batch(self, blobs):
        """Yield {name: one batch} from {name: array}, the last batch padded with zeros."""
        num = len(next(iter(blobs.values())))
        batch_size = next(iter(self.blobs.values())).shape[0]
        full, remainder = divmod(num, batch_size)
        for b in range(full):
            yield {name: blobs[name][b * batch_size:(b + 1) * batch_size] for name in blobs}
        if remainder:
            padded = {}
            for name, values in blobs.items():
                values = np.asarray(values)
                padding = np.zeros((batch_size - remainder,) + values.shape[1:])
                padded[name] = np.concatenate([values[-remainder:], padding])
            yield padded

    def forward_all(self, blobs=None, **kwargs):
        collected = {name: [] for name in set(self.outputs + (blobs or []))}
        for batch in self._batch(kwargs):
            for name, data in self.forward(blobs=blobs, **batch).items():
                collected[name].extend(data.copy())
        out = {name: np.asarray(values) for name, values in collected.items()}
        pad = len(next(iter(out.values()))) - len(next(iter(kwargs.values())))
        if pad:
            out = {name: values[:-pad] for name, values in out.items()}
        return out

    def forward_backward_all(self, blobs=None, diffs=None, **kwargs):
        outs = {name: [] for name in set(self.outputs + (blobs or []))}
        grads = {name: [] for name in set(self.inputs + (diffs or []))}
        forward_batches = self._batch({k: kwargs[k] for k in self.inputs if k in kwargs})
        backward_batches = self._batch({k: kwargs[k] for k in self.outputs if k in kwargs})
        for fb, bb in itertools.zip_longest(forward_batches, backward_batches, fillvalue={}):
            for name, data in self.forward(blobs=blobs, **fb).items():
                outs[name].extend(data.copy())
            for name, diff in self.backward(diffs=diffs, **bb).items():
                grads[name].extend(diff.copy())
        outs = {name: np.asarray(v) for name, v in outs.items()}
        grads = {name: np.asarray(v) for name, v in grads.items()}
        pad = len(next(iter(outs.values()))) - len(next(iter(kwargs.values())))
        if pad:
            outs = {name: v[:-pad] for name, v in outs.items()}
            grads = {name: v[:-pad] for name, v in grads.items()}
        return outs, grads

    # -- HDF5 weights -------------------------------------------------------------------
    def save_hdf5(self, filename):
        h5py = _h5py()
        with h5py.File(filename, "w") as f:
            data = f.create_group("data")
            for layer_id, (name, layer) in enumerate(zip(self._layer_names, self.layers)):
                group = data.create_group(name)
                for k, blob in enumerate(layer.blobs):
                    if self._owner_of(layer_id, k) < 0:
                        group.create_dataset(str(k), data=np.asarray(blob.data, dtype=np.float32))

    def load_hdf5(self, filename):
        h5py = _h5py()
        with h5py.File(filename, "r") as f:
            data = f["data"]
            for source_name in data:
                if source_name not in self._layer_index:
                    continue
                layer_id = self._layer_index[source_name]
                group = data[source_name]
                target = self.layers[layer_id].blobs
                if len(target) != len(group):
                    raise LayerSetupError(f"Incompatible number of blobs for layer '{source_name}' "
                                          f"in {filename}: the file has {len(group)}, the net has {len(target)}")
                for k, blob in enumerate(target):
                    if str(k) not in group:
                        if self._owner_of(layer_id, k) >= 0:
                            continue  # a shared parameter: its owner's dataset loads it
                        raise LayerSetupError(f"Incompatible number of blobs for layer '{source_name}' "
                                              f"in {filename}: no dataset '{k}'")
                    values = np.asarray(group[str(k)])
                    if values.shape != blob.shape:
                        raise LayerSetupError(
                            f"Cannot load blob {k} of layer '{source_name}' from {filename}: "
                            f"dimension mismatch: file {fmt_shape(values.shape)}, net {fmt_shape(blob.shape)}")
                    blob.data[...] = values

    def _owner_of(self, layer_id, k):
        return self._param_owners[self._param_layer_indices.index((layer_id, k))]
