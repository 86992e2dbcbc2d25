"""Net: Caffe's ``Net<float>`` in numpy, with pycaffe's ``caffe.Net`` surface.

Construction follows ``Net::Init`` step by step:

1. a NetParameter in an old form (V1 layers, net-level ``input`` fields) is upgraded first;
2. ``FilterNet``: include/exclude ``NetStateRule`` against the NetState (phase, level, stages);
3. ``InsertSplits``: a top consumed more than once (a use as a loss counts once) is fed through an
   automatic Split layer ``<blob>_<layer>_<top_idx>_split`` with tops ``..._split_<k>``;
4. layers are created, wired (in-place when top j == bottom j), set up and reshaped; loss tops
   get ``diff = loss_weight`` (loss layers default to 1 for top 0);
5. which layers and bottoms need backward: Caffe's ``blob_need_backward`` / ``propagate_down``
   forward pass, the ``layer_contributes_loss`` pruning pass, then ``force_backward``
   (bottoms the layer allows) -- all kept for inspection;
6. parameters are registered; a ``ParamSpec.name`` seen before shares the owner's blob
   (strict shape check, or count check with PERMISSIVE), and ``lr_mult``/``decay_mult`` are kept
   per learnable parameter for the solver.

Layers get ``param_propagate_down`` (one bool per parameter blob, Caffe's flag); where it is
False the Net restores the parameter's diff after the layer's backward, so a frozen parameter
never receives a gradient, as in Caffe.

Steps 1-3 are caffe_compat.net_param's, 4-6 caffe_compat.net_init's (``NetInit``); loading, saving and sharing parameters are
caffe_compat.net_weights' (``copy_from``, ``to_proto``, ``save``, ``share_trained_layers_with``,
which shares parameter *arrays*, Caffe's ShareData: whoever updates parameters must write
into ``blob.data`` in place).
"""
import collections
import os

import numpy as np

from .errors import CaffeError, NetError, fmt_shape
from .net_extras import NetExtras
from .net_init import NetInit, debug_string  # noqa: F401  (debug_string: callers import it from here)
from .net_param import _phase_value, read_net_text
from .net_weights import NetWeights
from .parallel import measured
from .proto import caffe_pb2

TRAIN = caffe_pb2.TRAIN
TEST = caffe_pb2.TEST

# ---------------------------------------------------------------------------------- the Net
class Net(NetInit, NetWeights, NetExtras):
    """A Caffe net. ``Net(model, phase)``, ``Net(model, weights, phase)``,
    ``Net(model, phase, weights=..., level=0, stages=None)``; ``model`` is a prototxt path or a
    NetParameter (whose ``state`` gives the phase when none is passed)."""

    def __init__(self, model, *args, phase=None, weights=None, level=None, stages=None):
        for arg in args:
            if isinstance(arg, (str, os.PathLike)):
                weights = arg
            else:
                phase = arg
        if isinstance(model, caffe_pb2.NetParameter):
            param = caffe_pb2.NetParameter()
            param.CopyFrom(model)
        else:
            if phase is None:
                raise NetError("Net(model_file, phase): the phase (caffe_compat.TRAIN or TEST) is required")
            param = read_net_text(os.fspath(model))
        if phase is not None:
            param.state.phase = _phase_value(phase)
        if level is not None:
            param.state.level = int(level)
        if stages:
            param.state.stage.extend(list(stages))
        self._hooks = {"before_forward": [], "after_forward": [], "before_backward": [],
                       "after_backward": []}
        self._init(param)
        if weights is not None:
            self.copy_from(weights)

    # -- pycaffe's views ------------------------------------------------------------------
    @property
    def blobs(self):
        return self._blob_dict

    @property
    def params(self):
        return collections.OrderedDict(
            (name, layer.blobs) for name, layer in zip(self._layer_names, self.layers) if layer.blobs
        )

    @property
    def layer_names(self):
        return list(self._layer_names)

    @property
    def layer_dict(self):
        return collections.OrderedDict(zip(self._layer_names, self.layers))

    @property
    def blob_loss_weights(self):
        return collections.OrderedDict(zip(self._blob_names, self._blob_loss_weights))

    @property
    def inputs(self):
        return [self._blob_names[i] for i in self._input_ids]

    @property
    def outputs(self):
        return [self._blob_names[i] for i in self._output_ids]

    @property
    def bottom_names(self):
        return collections.OrderedDict(
            (name, [self._blob_names[i] for i in ids]) for name, ids in zip(self._layer_names, self._bottom_ids)
        )

    @property
    def top_names(self):
        return collections.OrderedDict(
            (name, [self._blob_names[i] for i in ids]) for name, ids in zip(self._layer_names, self._top_ids)
        )

    @property
    def layer_need_backward(self):
        return list(self._layer_need_backward)

    @property
    def bottom_need_backward(self):
        return [list(b) for b in self._bottom_need_backward]

    @property
    def blob_need_backward(self):
        return collections.OrderedDict(zip(self._blob_names, self._blob_need_backward))

    def layer_index(self, name):
        if name not in self._layer_index:
            raise NetError(f"net '{self.name}' has no layer named '{name}'")
        return self._layer_index[name]

    def layer_bottoms(self, i):
        return [self._blobs[b] for b in self._bottom_ids[i]]

    def layer_tops(self, i):
        return [self._blobs[t] for t in self._top_ids[i]]

    # -- hooks ----------------------------------------------------------------------------
    def before_forward(self, fn):
        self._hooks["before_forward"].append(fn)

    def after_forward(self, fn):
        self._hooks["after_forward"].append(fn)

    def before_backward(self, fn):
        self._hooks["before_backward"].append(fn)

    def after_backward(self, fn):
        self._hooks["after_backward"].append(fn)

    # -- running --------------------------------------------------------------------------
    def reshape(self):
        for i, layer in enumerate(self.layers):
            layer.reshape(self.layer_bottoms(i), self.layer_tops(i))

    def forward_from_to(self, start, end):
        """Net::ForwardFromTo (inclusive indices); returns the weighted loss of those layers."""
        if start < 0 or end >= len(self.layers):
            raise NetError(f"forward range {start}..{end} outside 0..{len(self.layers) - 1}")
        loss = 0.0
        for i in range(start, end + 1):
            for fn in self._hooks["before_forward"]:
                fn(i)
            layer = self.layers[i]
            bottom, top = self.layer_bottoms(i), self.layer_tops(i)
            layer.reshape(bottom, top)
            layer.forward(bottom, top)
            for j, w in enumerate(self._layer_loss_weights[i]):
                if w:
                    # Layer::Forward: loss = <top data, top diff> (the diff holds the loss weight).
                    loss += float(np.vdot(top[j].data, top[j].diff))
            for fn in self._hooks["after_forward"]:
                fn(i)
        return loss

    def backward_refusal(self, start=None, end=None):
        """The message for a layer asked to back-propagate into a bottom it cannot (a label
        or target), as Caffe's loss layers LOG(FATAL) in Backward; None when there is none."""
        start = len(self.layers) - 1 if start is None else start
        end = 0 if end is None else end
        for i in range(start, end - 1, -1):
            if not self._layer_need_backward[i]:
                continue
            layer = self.layers[i]
            for j, need in enumerate(self._bottom_need_backward[i]):
                if need and not layer.allow_force_backward(j):
                    blob = self._blob_names[self._bottom_ids[i][j]]
                    return (
                        f"Layer '{layer.name}' ({layer.type}) cannot back-propagate to its label/target "
                        f"input (bottom {j}, '{blob}'), but the net needs a gradient there because "
                        f"layers below '{blob}' have learnable parameters (lr_mult > 0) or need "
                        f"backward. Set lr_mult: 0 on the layers that produce '{blob}', or "
                        f"propagate_down: false for that bottom (Caffe refuses this net too: "
                        f"\"{layer.type} Layer cannot backpropagate to label inputs\")."
                    )
        return None

    def backward_from_to(self, start, end):
        """Net::BackwardFromTo (start >= end, inclusive)."""
        if end < 0 or start >= len(self.layers):
            raise NetError(f"backward range {start}..{end} outside 0..{len(self.layers) - 1}")
        refusal = self.backward_refusal(start, end)
        if refusal:
            raise NetError(refusal)
        for i in range(start, end - 1, -1):
            for fn in self._hooks["before_backward"]:
                fn(i)
            if self._layer_need_backward[i]:
                layer = self.layers[i]
                frozen = [k for k, p in enumerate(layer.param_propagate_down) if not p]
                saved = [layer.blobs[k].diff.copy() for k in frozen]
                layer.backward(self.layer_tops(i), list(self._bottom_need_backward[i]),
                               self.layer_bottoms(i))
                for k, diff in zip(frozen, saved):
                    layer.blobs[k].diff[...] = diff
            for fn in self._hooks["after_backward"]:
                fn(i)

    # pycaffe's private names
    _forward = forward_from_to
    _backward = backward_from_to

    def forward(self, blobs=None, start=None, end=None, **kwargs):
        """pycaffe's Net.forward: ``kwargs`` set input blobs; returns {output name: data array}."""
        blobs = list(blobs or [])
        start_i = 0 if start is None else self.layer_index(start)
        if end is not None:
            end_i = self.layer_index(end)
            outputs = set(self.top_names[end] + blobs)
        else:
            end_i = len(self.layers) - 1
            outputs = set(self.outputs + blobs)
        if kwargs and set(kwargs) != set(self.inputs):
            raise NetError("Input blob arguments do not match net inputs: "
                           + _mismatch(kwargs, self.inputs, "an input", self.name))
        for name, value in kwargs.items():
            self._set_array(name, "data", value)
        self.forward_from_to(start_i, end_i)
        return {name: self._blob_dict[name].data for name in outputs}

    def backward(self, diffs=None, start=None, end=None, **kwargs):
        """pycaffe's Net.backward: ``kwargs`` set output diffs; returns {name: diff array}."""
        diffs = list(diffs or [])
        start_i = len(self.layers) - 1 if start is None else self.layer_index(start)
        if end is not None:
            end_i = self.layer_index(end)
            outputs = set(self.bottom_names[end] + diffs)
        else:
            end_i = 0
            outputs = set(self.inputs + diffs)
        if kwargs and set(kwargs) != set(self.outputs):
            raise NetError("Top diff arguments do not match net outputs: "
                           + _mismatch(kwargs, self.outputs, "an output", self.name))
        for name, value in kwargs.items():
            self._set_array(name, "diff", value)
        self.backward_from_to(start_i, end_i)
        return {name: self._blob_dict[name].diff for name in outputs}

    def _set_array(self, name, field, value):
        blob = self._blob_dict[name]
        value = np.asarray(value)
        if value.shape != blob.shape:
            batch = value.ndim and blob.shape and value.shape[0] != blob.shape[0]
            raise NetError((f"{'Input' if field == 'data' else 'Diff'} is not batch sized: " if batch else "")
                           + f"blob '{name}' has shape {fmt_shape(blob.shape)}, got an array of "
                           f"shape {fmt_shape(value.shape)}; reshape the blob "
                           f"(net.blobs['{name}'].reshape(...); net.reshape()) first")
        getattr(blob, field)[...] = value

    def set_input_arrays(self, data, labels):
        """pycaffe's Net.set_input_arrays: feed the first layer, which must be MemoryData."""
        if not self.layers or self.layers[0].type != "MemoryData":
            raise NetError("set_input_arrays may only be called if the first layer is a MemoryData layer")
        labels = np.asarray(labels)
        if labels.ndim == 1:
            labels = np.ascontiguousarray(labels[:, np.newaxis, np.newaxis, np.newaxis])
        self.layers[0].set_input_arrays(data, labels)

    def forward_backward(self):
        """Net::ForwardBackward: forward, backward; returns the loss. Timed for the thread
        count (caffe_compat.parallel.measured) unless the count is pinned."""
        with measured(self):
            loss = self.forward_from_to(0, len(self.layers) - 1)
            self.backward_from_to(len(self.layers) - 1, 0)
        return loss

    def clear_param_diffs(self):
        for blob in self.learnable_params:
            blob.diff[...] = 0


    def __repr__(self):
        return f"<Net '{self.name}' phase={caffe_pb2.Phase.Name(self.phase)} layers={len(self.layers)}>"


def _mismatch(given, names, what, net_name):
    """Why keyword blobs do not match a net's inputs (or outputs): pycaffe wants all of them."""
    extra = [n for n in given if n not in names]
    if extra:
        return (f"'{extra[0]}' is not {what} of net '{net_name}' "
                f"({what.split()[-1]}s: {', '.join(names) or 'none'})")
    missing = [n for n in names if n not in given]
    return f"{what.split()[-1]} '{missing[0]}' of net '{net_name}' not given (pycaffe needs all or none)"


__all__ = ["Net", "TRAIN", "TEST", "CaffeError", "debug_string"]
