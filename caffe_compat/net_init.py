"""How a Net is built: Caffe's ``Net::Init``, step by step (caffe_compat.net's docstring
lists the steps), with its log lines at net.cpp's file:line; ``NetInit`` is a base of
caffe_compat.net.Net, as NetWeights and NetExtras are.
"""
import collections
import logging

import numpy as np

from .blob import Blob
from .errors import LayerSetupError, NetError, fmt_shape
from .layer_types.base import create_layer
from .net_param import filter_net, insert_splits
from .proto import caffe_pb2
from .proto_text import ostream_g, print_text
from .upgrade import net_needs_upgrade, upgrade_net

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



class NetInit:
    """Net construction (Net::Init) and its bookkeeping; see caffe_compat.net."""

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


class _IdLists(list):
    """Per-layer blob id lists; ``net._top_ids(i)`` as in pycaffe, ``net._top_ids[i]`` too."""

    def __call__(self, layer_id):
        return list(self[layer_id])


def _fmt_float(x):
    """A float as C++ ``ostream << float`` prints it (6 significant digits)."""
    return ostream_g(np.float32(x))
