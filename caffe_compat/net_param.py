"""The NetParameter steps of ``Net::Init`` before any layer exists: reading a prototxt
(upgraded from legacy formats), ``FilterNet`` (include/exclude ``NetStateRule`` against the
NetState: phase, level, stages) and ``InsertSplits`` (a top consumed more than once is fed
through an automatic Split layer ``<blob>_<layer>_<top_idx>_split`` with tops
``..._split_<k>``). caffe_compat.net builds the Net from what these return."""
import collections
import logging

from .errors import NetError, text_parse_error
from .proto import caffe_pb2
from .upgrade import upgrade_net

log = logging.getLogger("caffe_compat.net")  # Caffe logs these from net.cpp

TRAIN = caffe_pb2.TRAIN
TEST = caffe_pb2.TEST
SRC_RULE_PHASE = "net.cpp:296"
SRC_RULE_MIN_LEVEL = "net.cpp:305"  # est.
SRC_RULE_MAX_LEVEL = "net.cpp:314"  # est.
SRC_RULE_STAGE = "net.cpp:330"  # est.
SRC_RULE_NOT_STAGE = "net.cpp:346"  # est.


def _info(src, message, *args):
    log.info(message, *args, extra={"caffe_src": src})


# ----------------------------------------------------------------------------------- reading
def read_net_text(path):
    """A NetParameter from a prototxt file, upgraded from legacy formats (as Caffe's
    ReadNetParamsFromTextFileOrDie): protobuf's own text parser, whose errors become
    ``file:line:column: message``. The text side (``prototxt.read_net``, what the tscaffe
    commands use) explains errors further (the layer, the valid enum values); caffe_compat
    does not import it, so dependencies point one way (solver -> prototxt -> caffe_compat)."""
    from google.protobuf import text_format

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise NetError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise NetError(f"{path}: not a text prototxt (binary data: a .caffemodel is weights, "
                       "given to Net(model_file, weights_file, phase))") from None
    except OSError as e:
        raise NetError(f"{path}: cannot read: {e.strerror}") from None
    param = caffe_pb2.NetParameter()
    try:
        text_format.Parse(text, param)
    except text_format.ParseError as e:
        raise text_parse_error(path, e) from None
    upgrade_net(param, path)
    return param


def _phase_value(phase):
    if isinstance(phase, str):
        try:
            return caffe_pb2.Phase.Value(phase.upper())
        except ValueError:
            raise NetError(f"unknown phase '{phase}' (TRAIN or TEST)") from None
    if phase in (TRAIN, TEST):
        return int(phase)
    raise NetError(f"unknown phase {phase!r} (caffe_compat.TRAIN or caffe_compat.TEST)")


# ------------------------------------------------------------------ net-parameter transforms
def state_meets_rule(state, rule, layer_name=None):
    """Caffe's Net::StateMeetsRule (logging, as Caffe, why a rule fails when ``layer_name``
    is given)."""
    say = (lambda src, msg, *a: _info(src, msg, *a)) if layer_name is not None else (lambda *a: None)
    if rule.HasField("phase") and rule.phase != state.phase:
        say(SRC_RULE_PHASE, "The NetState phase (%d) differed from the phase (%d) specified by "
            "a rule in layer %s", state.phase, rule.phase, layer_name)
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        say(SRC_RULE_MIN_LEVEL, "The NetState level (%d) is above the min_level (%d) specified "
            "by a rule in layer %s", state.level, rule.min_level, layer_name)
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        say(SRC_RULE_MAX_LEVEL, "The NetState level (%d) is above the max_level (%d) specified "
            "by a rule in layer %s", state.level, rule.max_level, layer_name)
        return False
    stages = set(state.stage)
    for s in rule.stage:
        if s not in stages:
            say(SRC_RULE_STAGE, "The NetState did not contain stage '%s' specified by a rule in "
                "layer %s", s, layer_name)
            return False
    for s in rule.not_stage:
        if s in stages:
            say(SRC_RULE_NOT_STAGE, "The NetState contained a not_stage '%s' specified by a rule "
                "in layer %s", s, layer_name)
            return False
    return True


def filter_net(param):
    """Caffe's Net::FilterNet: keep the layers whose include/exclude rules admit the state."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(param)
    del out.layer[:]
    for lp in param.layer:
        if len(lp.include) and len(lp.exclude):
            raise NetError(f"Layer '{lp.name}': specify either include rules or exclude rules; not both.")
        included = not len(lp.include)
        if included and any(state_meets_rule(param.state, r, lp.name) for r in lp.exclude):
            included = False
        if not included and any(state_meets_rule(param.state, r, lp.name) for r in lp.include):
            included = True
        if included:
            out.layer.add().CopyFrom(lp)
    return out


def split_layer_name(layer_name, blob_name, top_idx):
    return f"{blob_name}_{layer_name}_{top_idx}_split"


def split_blob_name(layer_name, blob_name, top_idx, split_idx):
    return f"{blob_name}_{layer_name}_{top_idx}_split_{split_idx}"


def insert_splits(param):
    """Caffe's InsertSplits: one Split layer per top that is used more than once."""
    last_top = {}  # blob name -> (layer index, top index) of its latest producer
    source_of_bottom = {}  # (layer, bottom) -> (layer, top)
    uses = collections.Counter()  # (layer, top) -> number of consumers (a loss use counts)
    loss_weight_of = {}
    for i, lp in enumerate(param.layer):
        for j, name in enumerate(lp.bottom):
            if name not in last_top:
                raise NetError(f"Unknown bottom blob '{name}' (layer '{lp.name}', bottom index {j})")
            source_of_bottom[(i, j)] = last_top[name]
            uses[last_top[name]] += 1
        for j, name in enumerate(lp.top):
            last_top[name] = (i, j)
        for j in range(min(len(lp.loss_weight), len(lp.top))):
            key = last_top[lp.top[j]]
            loss_weight_of[key] = lp.loss_weight[j]
            if lp.loss_weight[j]:
                uses[key] += 1
    out = caffe_pb2.NetParameter()
    out.CopyFrom(param)
    del out.layer[:]
    next_split = collections.Counter()
    for i, src in enumerate(param.layer):
        lp = out.layer.add()
        lp.CopyFrom(src)
        for j in range(len(lp.bottom)):
            key = source_of_bottom[(i, j)]
            if uses[key] > 1:
                producer = param.layer[key[0]].name
                lp.bottom[j] = split_blob_name(producer, lp.bottom[j], key[1], next_split[key])
                next_split[key] += 1
        for j, name in enumerate(lp.top):
            key = (i, j)
            if uses[key] <= 1:
                continue
            weight = loss_weight_of.get(key, 0.0)
            split = out.layer.add(name=split_layer_name(lp.name, name, j), type="Split")
            split.bottom.append(name)
            for k in range(uses[key]):
                split.top.append(split_blob_name(lp.name, name, j, k))
                if weight:
                    split.loss_weight.append(weight if k == 0 else 0.0)
            if weight:
                # The loss use takes split top 0; the producer no longer carries the weight.
                lp.ClearField("loss_weight")
                next_split[key] += 1
    return out
