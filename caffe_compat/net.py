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

Steps 1-3 are caffe_compat.net_param's; loading, saving and sharing parameters are
caffe_compat.net_weights' (``copy_from``, ``to_proto``, ``save``, ``share_trained_layers_with``,
which shares parameter *arrays*, Caffe's ShareData: whoever updates parameters must write
into ``blob.data`` in place).
"""
import collections
import logging
import os

import numpy as np

from .blob import Blob
from .errors import CaffeError, LayerSetupError, NetError, fmt_shape
from .layer_types.base import create_layer
from .proto_text import ostream_g, print_text
from .net_extras import NetExtras
from .net_param import _phase_value, filter_net, insert_splits, read_net_text
from .net_weights import NetWeights
from .parallel import measured
from .proto import caffe_pb2
from .upgrade import net_needs_upgrade, upgrade_net

TRAIN = caffe_pb2.TRAIN
TEST = caffe_pb2.TEST

# Caffe's net-building messages, as ``logging`` records carrying Caffe's file:line
# (``caffe_src``); silent unless a handler is installed (``caffe_compat.glog.install_glog_handler``).
log = logging.getLogger("caffe_compat.net")
# Lines of net.cpp (Caffe 1.0) read off the reference logs; the ones marked "est." are not in
# any reference log and are inferred from older releases' numbering (+2 lines in 1.0).
SRC_FACTORY = "layer_factory.hpp:77"
SRC_INIT = "net.cpp:53"
SRC_CREATING = "net.cpp:86"
SRC_SETTING_UP = "net.cpp:124"
SRC_TOP_SHAPE = "net.cpp:131"
SRC_LOSS_WEIGHT = "net.cpp:134"
SRC_MEMORY = "net.cpp:139"
SRC_NEEDS_BACKWARD = "net.cpp:200"
SRC_NO_BACKWARD = "net.cpp:202"
SRC_OUTPUT = "net.cpp:244"
SRC_DONE = "net.cpp:257"
SRC_IN_PLACE = "net.cpp:369"
SRC_TOP = "net.cpp:382"
SRC_BOTTOM = "net.cpp:408"
SRC_SHARING = "net.cpp:476"  # est.
# Layers whose Caffe LayerSetUp creates an inner layer through the registry (one more
# "Creating layer" line from layer_factory.hpp).
_INNER_LAYER_TYPES = ("SoftmaxWithLoss", "SigmoidCrossEntropyLoss", "InfogainLoss")


def _info(src, message, *args):
    log.info(message, *args, extra={"caffe_src": src})


def _shape_string(blob):
    """Blob::shape_string: the dims, each followed by a space, then "(count)"."""
    return "".join(f"{d} " for d in blob.shape) + f"({blob.count})"


def debug_string(message):
    """protobuf's C++ ``DebugString`` as Caffe logs it (caffe_compat.proto_text)."""
    return print_text(message, utf8=False)


# ---------------------------------------------------------------------------------- the Net
class Net(NetWeights, NetExtras):
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

    # -- construction -------------------------------------------------------------------
    def _init(self, in_param):
        if net_needs_upgrade(in_param):  # V1 layers, legacy inputs...: Caffe's read-time upgrade
            upgrade_net(in_param, in_param.name or "<net>")
        self.phase = in_param.state.phase
        filtered = filter_net(in_param)
        if log.isEnabledFor(logging.INFO):
            _info(SRC_INIT, "Initializing net from parameters: \n%s", debug_string(filtered))
        param = insert_splits(filtered)
        memory_used = 0  # Net::memory_used_: top blob counts, accumulated layer by layer
        self.name = param.name
        self.force_backward = param.force_backward
        self.layers = []
        self._layer_names = []
        self._layer_params = []  # the net's copy (what Net::Init reads), phase filled in
        self._blobs = []
        self._blob_names = []
        self._blob_need_backward = []
        self._blob_loss_weights = []
        self._bottom_ids = _IdLists()  # per layer; also callable as pycaffe's _bottom_ids(i)
        self._top_ids = _IdLists()
        self._bottom_need_backward = []
        self._layer_need_backward = []
        self._layer_loss_weights = []
        self._input_ids = []
        blob_index = {}
        available = set()
        # Parameter bookkeeping (Net::AppendParam).
        self._params = []  # every parameter blob, shared ones included
        self._param_owners = []  # -1, or the net param id that owns the blob
        self._param_layer_indices = []  # (layer id, param id)
        self._param_display_names = []
        self._param_names_index = {}
        self.learnable_params = []
        self._learnable_param_ids = []
        self.has_params_lr = []
        self.has_params_decay = []
        self.params_lr = []
        self.params_weight_decay = []
        self.learnable_param_names = []

        for layer_id, src in enumerate(param.layer):
            lp = caffe_pb2.LayerParameter()
            lp.CopyFrom(src)
            if not lp.HasField("phase"):
                lp.phase = self.phase
            if len(lp.propagate_down) and len(lp.propagate_down) != len(lp.bottom):
                raise NetError(f"Layer '{lp.name}': propagate_down must be specified either 0 or "
                               f"bottom_size ({len(lp.bottom)}) times, got {len(lp.propagate_down)}")
            own = caffe_pb2.LayerParameter()
            own.CopyFrom(lp)
            _info(SRC_FACTORY, "Creating layer %s", lp.name)
            layer = create_layer(own, lp.phase)
            self.layers.append(layer)
            self._layer_names.append(lp.name)
            self._layer_params.append(lp)
            _info(SRC_CREATING, "Creating Layer %s", lp.name)
            need_backward = False
            bottom_ids, bottom_need = [], []
            for j, name in enumerate(lp.bottom):
                if name not in available:
                    raise NetError(f"Unknown bottom blob '{name}' (layer '{lp.name}', bottom index {j})")
                bid = blob_index[name]
                available.discard(name)
                _info(SRC_BOTTOM, "%s <- %s", lp.name, name)
                prop = lp.propagate_down[j] if len(lp.propagate_down) else True
                bottom_ids.append(bid)
                bottom_need.append(bool(self._blob_need_backward[bid] and prop))
                need_backward |= self._blob_need_backward[bid]
            top_ids = []
            for j, name in enumerate(lp.top):
                if j < len(lp.bottom) and name == lp.bottom[j]:
                    _info(SRC_IN_PLACE, "%s -> %s (in-place)", lp.name, name)
                    top_ids.append(blob_index[name])  # in-place
                elif name in blob_index:
                    raise NetError(f"Top blob '{name}' produced by multiple sources "
                                   f"(layer '{lp.name}', top index {j})")
                else:
                    _info(SRC_TOP, "%s -> %s", lp.name, name)
                    top_ids.append(self._new_blob(name))
                    blob_index[name] = top_ids[-1]
                available.add(name)
                if lp.type == "Input":
                    self._input_ids.append(blob_index[name])
            if layer.AUTO_TOP_BLOBS:
                needed = max(layer.MIN_TOP, layer.EXACT_NUM_TOP)
                while len(top_ids) < needed:
                    _info(SRC_TOP, "%s -> (automatic)", lp.name)
                    top_ids.append(self._new_blob("(automatic)"))
            self._bottom_ids.append(bottom_ids)
            self._top_ids.append(top_ids)
            self._bottom_need_backward.append(bottom_need)
            bottom = [self._blobs[i] for i in bottom_ids]
            top = [self._blobs[i] for i in top_ids]
            if lp.type in _INNER_LAYER_TYPES:
                _info(SRC_FACTORY, "Creating layer %s", lp.name)
            self._setup_layer(layer, bottom, top)
            _info(SRC_SETTING_UP, "Setting up %s", lp.name)
            weights = self._layer_loss_weights[-1]
            for j, tid in enumerate(top_ids):
                self._blob_loss_weights[tid] = weights[j]
                _info(SRC_TOP_SHAPE, "Top shape: %s", _shape_string(top[j]))
                if weights[j]:
                    _info(SRC_LOSS_WEIGHT, "    with loss weight %s", _fmt_float(weights[j]))
                memory_used += top[j].count
            _info(SRC_MEMORY, "Memory required for data: %d", memory_used * 4)  # sizeof(float)
            # Parameters: lr_mult > 0 means the layer needs backward (Net::Init reads the net's copy).
            if len(lp.param) > len(layer.blobs):
                raise NetError(f"Too many params specified for layer '{lp.name}': {len(lp.param)} "
                               f"param specs for {len(layer.blobs)} parameter blob(s)")
            default_spec = caffe_pb2.ParamSpec()
            layer.param_propagate_down = []
            for k in range(len(layer.blobs)):
                spec = lp.param[k] if k < len(lp.param) else default_spec
                layer.param_propagate_down.append(spec.lr_mult > 0)
                need_backward |= spec.lr_mult > 0
            for k in range(len(layer.blobs)):
                self._append_param(layer_id, k)
            self._layer_need_backward.append(need_backward)
            if need_backward:
                for tid in top_ids:
                    self._blob_need_backward[tid] = True

        self._prune_backward()
        for lid in range(len(self.layers) - 1, -1, -1):  # logged in Caffe's backward pass
            if self._layer_need_backward[lid]:
                _info(SRC_NEEDS_BACKWARD, "%s needs backward computation.", self._layer_names[lid])
            else:
                _info(SRC_NO_BACKWARD, "%s does not need backward computation.", self._layer_names[lid])
        if param.force_backward:
            for lid, layer in enumerate(self.layers):
                self._layer_need_backward[lid] = True
                for j, bid in enumerate(self._bottom_ids[lid]):
                    need = self._bottom_need_backward[lid][j] or bool(layer.allow_force_backward(j))
                    self._bottom_need_backward[lid][j] = need
                    self._blob_need_backward[bid] = self._blob_need_backward[bid] or need
                layer.param_propagate_down = [True] * len(layer.blobs)
        # Caffe keeps the remaining available blobs in a std::set: outputs come sorted by name.
        self._output_ids = [blob_index[name] for name in sorted(available)]
        for name in sorted(available):
            _info(SRC_OUTPUT, "This network produces output %s", name)
        self._share_weights()
        self._blob_dict = collections.OrderedDict(zip(self._blob_names, self._blobs))
        self._layer_index = {}
        for i, name in enumerate(self._layer_names):
            self._layer_index.setdefault(name, i)
        _info(SRC_DONE, "Network initialization done.")

    def _new_blob(self, name):
        self._blobs.append(Blob((), name=name))
        self._blob_names.append(name)
        self._blob_need_backward.append(False)
        self._blob_loss_weights.append(0.0)
        return len(self._blobs) - 1

    def _setup_layer(self, layer, bottom, top):
        """Layer::SetUp: counts, LayerSetUp, Reshape, SetLossWeights."""
        own = layer.layer_param
        if layer.IS_LOSS and not len(own.loss_weight):
            own.loss_weight.append(1.0)  # LossLayer::LayerSetUp: losses weigh 1 by default
        layer.check_blob_counts(bottom, top)
        try:
            layer.setup(bottom, top)
            layer.reshape(bottom, top)
        except (ValueError, IndexError) as e:
            raise LayerSetupError(f"Layer '{layer.name}' ({layer.type}): {e}") from e
        weights = [0.0] * len(top)
        if len(own.loss_weight):
            if len(own.loss_weight) != len(top):
                raise NetError(f"Layer '{layer.name}': loss_weight must be unspecified or specified "
                               f"once per top blob ({len(top)} top(s), {len(own.loss_weight)} loss_weight(s))")
            for j, w in enumerate(own.loss_weight):
                if w:
                    weights[j] = float(w)
                    top[j].diff[...] = w
        self._layer_loss_weights.append(weights)

    def _append_param(self, layer_id, param_id):
        layer = self.layers[layer_id]
        specs = layer.layer_param.param  # the layer's own copy (a layer may have added specs)
        spec = specs[param_id] if param_id < len(specs) else caffe_pb2.ParamSpec()
        name = spec.name if param_id < len(specs) else ""
        net_param_id = len(self._params)
        self._params.append(layer.blobs[param_id])
        self._param_layer_indices.append((layer_id, param_id))
        self._param_display_names.append(name or str(param_id))
        if not name or name not in self._param_names_index:
            self._param_owners.append(-1)
            if name:
                self._param_names_index[name] = net_param_id
            self._learnable_param_ids.append(len(self.learnable_params))
            self.learnable_params.append(layer.blobs[param_id])
            self.learnable_param_names.append(f"{layer.name}/{param_id}")
            self.has_params_lr.append(spec.HasField("lr_mult"))
            self.has_params_decay.append(spec.HasField("decay_mult"))
            self.params_lr.append(float(spec.lr_mult))
            self.params_weight_decay.append(float(spec.decay_mult))
            return
        owner_id = self._param_names_index[name]
        self._param_owners.append(owner_id)
        owner_layer, owner_k = self._param_layer_indices[owner_id]
        mine = layer.blobs[param_id]
        owner = self.layers[owner_layer].blobs[owner_k]
        _info(SRC_SHARING, "Sharing parameters '%s' owned by layer '%s', param index %d",
              name, self._layer_names[owner_layer], owner_k)
        where = (f"Layer '{layer.name}' param {param_id} shares '{name}' owned by layer "
                 f"'{self._layer_names[owner_layer]}' param {owner_k}")
        if spec.share_mode == caffe_pb2.ParamSpec.PERMISSIVE:
            if mine.count != owner.count:
                raise LayerSetupError(f"{where}: shared parameter blobs must have the same count; "
                                      f"this: {fmt_shape(mine.shape)}, owner: {fmt_shape(owner.shape)}")
        elif mine.shape != owner.shape:
            raise LayerSetupError(f"{where}: shapes differ; this: {fmt_shape(mine.shape)}, "
                                  f"owner: {fmt_shape(owner.shape)}")
        lid = self._learnable_param_ids[owner_id]
        self._learnable_param_ids.append(lid)
        for has, values, field, what in ((self.has_params_lr, self.params_lr, "lr_mult", "lr_mult"),
                                         (self.has_params_decay, self.params_weight_decay,
                                          "decay_mult", "decay_mult")):
            if spec.HasField(field):
                value = float(getattr(spec, field))
                if has[lid] and values[lid] != value:
                    raise NetError(f"Shared param '{name}' has mismatched {what} "
                                   f"({values[lid]:g} vs {value:g} in layer '{layer.name}')")
                has[lid] = True
                values[lid] = value

    def _share_weights(self):
        """Net::ShareWeights: a shared parameter uses its owner's data and diff."""
        for pid, owner_id in enumerate(self._param_owners):
            if owner_id < 0:
                continue
            lid, k = self._param_layer_indices[pid]
            olid, ok = self._param_layer_indices[owner_id]
            owner = self.layers[olid].blobs[ok]
            mine = self.layers[lid].blobs[k]
            if mine.shape == owner.shape:
                self.layers[lid].blobs[k] = owner
                self._params[pid] = owner
            else:  # PERMISSIVE: same memory seen in this layer's shape
                mine.data = owner.data.reshape(mine.shape)
                mine.diff = owner.diff.reshape(mine.shape)

    def _prune_backward(self):
        """Net::Init's backward pass over the layers: skip what does not reach a loss."""
        under_loss, skip_backp = set(), set()
        for lid in range(len(self.layers) - 1, -1, -1):
            contributes = False
            skip_propagate = True
            for j, tid in enumerate(self._top_ids[lid]):
                name = self._blob_names[tid]
                if self._layer_loss_weights[lid][j] or name in under_loss:
                    contributes = True
                if name not in skip_backp:
                    skip_propagate = False
                if contributes and not skip_propagate:
                    break
            if self._layer_need_backward[lid] and skip_propagate:
                self._layer_need_backward[lid] = False
                self._bottom_need_backward[lid] = [False] * len(self._bottom_ids[lid])
            if not contributes:
                self._layer_need_backward[lid] = False
            for j, bid in enumerate(self._bottom_ids[lid]):
                name = self._blob_names[bid]
                if contributes:
                    under_loss.add(name)
                else:
                    self._bottom_need_backward[lid][j] = False
                if not self._bottom_need_backward[lid][j]:
                    skip_backp.add(name)

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


class _IdLists(list):
    """Per-layer blob id lists; ``net._top_ids(i)`` as in pycaffe, ``net._top_ids[i]`` too."""

    def __call__(self, layer_id):
        return list(self[layer_id])


def _mismatch(given, names, what, net_name):
    """Why keyword blobs do not match a net's inputs (or outputs): pycaffe wants all of them."""
    extra = [n for n in given if n not in names]
    if extra:
        return (f"'{extra[0]}' is not {what} of net '{net_name}' "
                f"({what.split()[-1]}s: {', '.join(names) or 'none'})")
    missing = [n for n in names if n not in given]
    return f"{what.split()[-1]} '{missing[0]}' of net '{net_name}' not given (pycaffe needs all or none)"


def _fmt_float(x):
    """A float as C++ ``ostream << float`` prints it (6 significant digits)."""
    return ostream_g(np.float32(x))


__all__ = ["Net", "TRAIN", "TEST", "CaffeError"]
