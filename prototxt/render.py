"""Render net and solver prototxts from an experiment config and the Jinja templates.

A config (YAML, see templates/configs/) names nets and solvers::

    sweep: {lambda: [0.1, 0.5]}          # optional: names containing {lambda} expand
    nets:
      ts_cifar10_l{lambda}:              # -> ts_cifar10_l0.1.prototxt, ...
        name: CIFAR10_full               # NetParameter.name (optional)
        data: [{name: cifar, phase: TRAIN, source: ..., batch_size: 100, transform: {...}}]
                                         # (or include: {phase: TEST, stage: ...})
        student: {arch: cifar10_full, tag: _s_}
        teacher: {arch: cifar10_full, tag: _t_, frozen: true}
        lambda: "{lambda}"               # ts_loss weight λ, hard loss weight 1 - λ
        quirks: {layer_name: {field: value, other: null}}   # deep-merged into that layer
    solvers:
      ts_cifar10_l{lambda}_solver: {net: ts_cifar10_l{lambda}.prototxt, base_lr: 0.001, ...}

A standalone net has ``model:`` instead of ``student:``/``teacher:``. A member (model,
student or teacher) takes: arch (lenet, cifar10_quick, cifar10_full, cifar10_mini, nin,
alexnet, vgg16, vgg16_bn, vgg16_msra), tag (inserted into layer names: conv + tag + 1),
frozen (every param block becomes ``lr_mult: 0``), fillers (false drops weight/bias
fillers), params (false drops param blocks), dropout, num_classes, bottom, and arch options
(vgg16: blocks, classifier). A teacher may instead be ``{onnx: PATH, ...}`` (or
``{teachers: [...], blend: ...}``): a Python layer ``solver.teacher.ONNXTeacher`` named
"teacher", bottom the data blob, top "teacher_logits", whose param_str is the mapping as
JSON (its keys and their meaning: prototxt/teacher_param.py).

Heads (the layers after the members), each ``null`` to leave it out:
``accuracy`` (a list of {name, top, top_k}), ``loss`` ({name, top, weight}),
``ts_loss`` ({type: sigmoid_ce | kd, name, top, weight, temperature, softmax:
[{name, top} student, {name, top} teacher]}), ``fidelity`` ({name, tops, top_k}),
``order`` (of softmax, accuracy, loss, ts_loss, fidelity), ``extra_layers`` (layer dicts
appended at the end).

Every rendered text is parsed with caffe_pb2 before it is returned; errors name the config
key or the template file:line.
"""
import copy
import os
import traceback

from caffe_compat.errors import CaffeError

from . import teacher_param
from .pbtext import FieldError, deep_merge, fmt_float, to_text

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "templates")
CONFIG_DIR = os.path.join(TEMPLATE_DIR, "configs")

# arch name -> (template file, default options)
ARCHS = {
    "lenet": ("arch/lenet.j2", {"num_classes": 10, "dropout": False}),
    "cifar10_quick": ("arch/cifar10_quick.j2", {"num_classes": 10}),
    "cifar10_full": ("arch/cifar10_full.j2", {"num_classes": 10}),
    "cifar10_mini": ("arch/cifar10_mini.j2", {"num_classes": 10, "blocks": 2}),
    "nin": ("arch/nin.j2", {"num_classes": 10}),
    "alexnet": ("arch/alexnet.j2", {"num_classes": 1000}),
    "vgg16": ("arch/vgg16.j2", {"num_classes": 1000, "bn": False, "filler": "xavier"}),
    "vgg16_bn": ("arch/vgg16.j2", {"num_classes": 1000, "bn": True, "filler": "xavier"}),
    "vgg16_msra": ("arch/vgg16.j2", {"num_classes": 1000, "bn": False, "filler": "msra"}),
}
MEMBER_KEYS = {"arch", "tag", "frozen", "fillers", "params", "dropout", "num_classes", "bottom",
               "blocks", "classifier", "bn", "filler", "width", "stem"}
# The param_str keys of the ONNX teacher layer (one table: prototxt.teacher_param).
ONNX_KEYS = set(teacher_param.ALL_KEYS)
NET_KEYS = {"name", "data", "model", "student", "teacher", "members_order", "lambda", "ts_loss",
            "loss", "accuracy", "fidelity", "order", "quirks", "extra_layers"}
DATA_KEYS_LAYER = {"name", "phase", "include", "tops", "transform", "type"}
HEAD_KINDS = ("softmax", "accuracy", "loss", "ts_loss", "fidelity")


class RenderError(CaffeError):
    """A config or template mistake; the message names the config key or template line."""


def _pb2():
    from caffe_compat.proto import caffe_pb2
    return caffe_pb2


# ----------------------------------------------------------------------------- members

class Member:
    """One architecture instance (standalone model, student or teacher) inside a net."""

    def __init__(self, net, role, cfg, key):
        self.net = net
        self.role = role
        self.key = key
        self.onnx = "onnx" in cfg or "teachers" in cfg  # an ONNX teacher or a blend of them
        unknown = set(cfg) - (ONNX_KEYS if self.onnx else MEMBER_KEYS)
        if unknown:
            raise RenderError(f"{key}: unknown key(s) {', '.join(sorted(unknown))}")
        self.cfg = dict(cfg)
        self.bottom = cfg.get("bottom", "data")
        self.logits = None
        self.frozen, self.fillers, self.params = False, True, True
        if self.onnx:
            self.template = None
            self.onnx_top = teacher_param.TOP
            return
        arch = cfg.get("arch")
        if arch not in ARCHS:
            raise RenderError(f"{key}.arch: unknown architecture {arch!r} "
                              f"(known: {', '.join(ARCHS)})")
        self.arch = arch
        self.template, defaults = ARCHS[arch]
        opts = dict(defaults)
        opts.update({k: v for k, v in cfg.items() if k not in ("arch",)})
        self.opts = opts
        self.tag = str(opts.get("tag", "") or "")
        self.frozen = bool(opts.get("frozen", False))
        self.fillers = bool(opts.get("fillers", True))
        self.params = bool(opts.get("params", True))
        self.dropout = bool(opts.get("dropout", True))
        self.num_classes = int(opts["num_classes"])

    def n(self, base, index=""):
        """A layer/blob name: ``base + tag + index`` (conv + _t + 1 -> conv_t1)."""
        return f"{base}{self.tag}{index}"

    def opt(self, name, default=None):
        return self.opts.get(name, default)

    def layer(self, d):
        """Apply the member's role (frozen, fillers, params) to a layer dict and render it."""
        d = dict(d)
        if d.get("param") is not None:
            if self.frozen:
                d["param"] = [{"lr_mult": 0} for _ in d["param"]]
            elif not self.params:
                d["param"] = None
        if not self.fillers:
            for key in ("convolution_param", "inner_product_param"):
                if isinstance(d.get(key), dict):
                    d[key] = {k: v for k, v in d[key].items()
                              if k not in ("weight_filler", "bias_filler")}
        text = self.net.layer(d)
        tops = d.get("top")
        self.logits = tops[0] if isinstance(tops, list) else tops
        return text

    def onnx_param_str(self):
        import json
        c = {k: v for k, v in self.cfg.items() if v is not None}
        return json.dumps(c, separators=(", ", ": "))

    def onnx_python_param(self):
        """The teacher layer's python_param: module, class (prototxt.teacher_param) and
        param_str."""
        return {"module": teacher_param.PYTHON_MODULE, "layer": teacher_param.PYTHON_LAYER,
                "param_str": self.onnx_param_str()}


# ----------------------------------------------------------------------------- nets

class NetBuilder:
    """Render-time state of one net: members, heads, quirks, the layers emitted so far."""

    def __init__(self, key, cfg):
        self.key = key
        unknown = set(cfg) - NET_KEYS
        if unknown:
            raise RenderError(f"{key}: unknown key(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(sorted(NET_KEYS))})")
        self.cfg = cfg
        self.name = cfg.get("name")
        self.quirks = dict(cfg.get("quirks") or {})
        self.used_quirks = set()
        self.layer_names = []
        self.data = [self._data(d, f"{key}.data[{i}]") for i, d in enumerate(cfg.get("data") or [])]
        self.members = []
        self.by_role = {}
        if "model" in cfg:
            if "student" in cfg or "teacher" in cfg:
                raise RenderError(f"{key}: give either model (standalone) or student/teacher")
            self._add_member("model", cfg["model"])
        else:
            if "student" not in cfg:
                raise RenderError(f"{key}: needs model (standalone) or student (+ teacher)")
            order = cfg.get("members_order") or ["student", "teacher"]
            for role in order:
                if role not in ("student", "teacher"):
                    raise RenderError(f"{key}.members_order: {role!r} is not student/teacher")
                if role in cfg:
                    self._add_member(role, cfg[role])
        self.heads = self._heads()
        self.extra_layers = list(cfg.get("extra_layers") or [])

    def _add_member(self, role, mcfg):
        if not isinstance(mcfg, dict):
            raise RenderError(f"{self.key}.{role}: expects a mapping, got {mcfg!r}")
        m = Member(self, role, mcfg, f"{self.key}.{role}")
        self.members.append(m)
        self.by_role[role] = m

    def _data(self, d, key):
        if not isinstance(d, dict):
            raise RenderError(f"{key}: expects a mapping, got {d!r}")
        d = dict(d)
        out = {"name": d.pop("name", "data"), "type": d.pop("type", "Data"),
               "top": d.pop("tops", ["data", "label"])}
        phase = d.pop("phase", None)
        include = d.pop("include", None)   # a NetStateRule mapping (phase, stage, not_stage)
        if include is not None:
            out["include"] = include
        elif phase is not None:
            out["include"] = {"phase": phase}
        transform = d.pop("transform", None)
        if transform:
            out["transform_param"] = transform
        if d:
            out["data_param"] = d
        return out

    def logits(self, role):
        m = self.by_role.get(role) or (self.by_role.get("model") if role == "student" else None)
        if m is None:
            raise RenderError(f"{self.key}: a head needs the {role}'s logits, but the net has "
                              f"no {role}")
        if m.logits is None:
            raise RenderError(f"{self.key}: the {role}'s logits are used before it is rendered"
                              " (members_order/order)")
        return m.logits

    def heads_top(self, kind, role):
        """The top of the ``kind`` head computed from ``role``'s logits (the ts softmaxes)."""
        for h in self.heads:
            if h["kind"] == kind and h.get("of") == role:
                return h["top"]
        raise RenderError(f"{self.key}: the ts_loss needs the {role} softmax; add 'softmax' "
                          "to order")

    def _heads(self):
        cfg, key = self.cfg, self.key
        ts = "teacher" in self.by_role
        lam = cfg.get("lambda")
        if lam is not None and not isinstance(lam, (int, float)):
            raise RenderError(f"{key}.lambda: expects a number, got {lam!r}")
        heads = {}
        acc = cfg.get("accuracy", [{}])
        if acc:
            acc = acc if isinstance(acc, list) else [acc]
            heads["accuracy"] = [dict({"name": "accuracy", "top": None, "top_k": None,
                                       "phase": "TEST"}, **a) for a in acc]
            for a in heads["accuracy"]:
                a["top"] = a["top"] or a["name"]
        loss = cfg.get("loss", {})
        if loss is not None:
            loss = dict({"name": "loss", "top": None, "weight": None}, **loss)
            loss["top"] = loss["top"] or loss["name"]
            if ts and lam is not None and "weight" not in (cfg.get("loss") or {}):
                loss["weight"] = round(1.0 - lam, 12)
            heads["loss"] = [loss]
        if ts:
            t = dict({"type": "sigmoid_ce", "name": "ts_loss", "top": None, "weight": None,
                      "temperature": 1.0}, **(cfg.get("ts_loss") or {}))
            t["top"] = t["top"] or t["name"]
            if lam is not None and "weight" not in (cfg.get("ts_loss") or {}):
                t["weight"] = lam
            if t["type"] not in ("sigmoid_ce", "kd"):
                raise RenderError(f"{key}.ts_loss.type: {t['type']!r} is not sigmoid_ce or kd")
            heads["ts_loss"] = [t]
            if t["type"] == "sigmoid_ce":
                sm = t.get("softmax") or [{"name": "sm_s", "top": None}, {"name": "sm_t", "top": None}]
                heads["softmax"] = [dict({"of": role, "top": None}, **s)
                                    for role, s in zip(("student", "teacher"), sm)]
                for s in heads["softmax"]:
                    s["top"] = s["top"] or s["name"]
            fid = cfg.get("fidelity")
            if fid:
                fid = dict({"name": "fidelity", "tops": ["agreement_top1", "agreement_top5", "kl"],
                            "top_k": None}, **(fid if isinstance(fid, dict) else {}))
                heads["fidelity"] = [fid]
        elif cfg.get("fidelity"):
            raise RenderError(f"{key}.fidelity: needs a teacher")
        default = (["softmax", "accuracy", "ts_loss", "loss", "fidelity"] if ts
                   else ["accuracy", "loss"])
        order = cfg.get("order") or default
        out = []
        for kind in order:
            if kind not in HEAD_KINDS:
                raise RenderError(f"{key}.order: unknown head {kind!r} (known: {', '.join(HEAD_KINDS)})")
            for h in heads.get(kind, []):
                out.append(dict(h, kind=kind))
        return out

    def layer(self, d):
        """Apply this layer's quirk (if any), check field names, return its text."""
        name = d.get("name")
        where = f"layer '{name}'"
        if name in self.quirks:
            q = self.quirks[name]
            if not isinstance(q, dict):
                raise RenderError(f"{self.key}.quirks.{name}: expects a mapping, got {q!r}")
            d = deep_merge(d, q)
            self.used_quirks.add(name)
            where = f"{self.key}.quirks.{name} (or its template)"
        self.layer_names.append(name)
        try:
            body = to_text(d, _pb2().LayerParameter.DESCRIPTOR, 2)
        except FieldError as e:
            raise RenderError(f"{where}: {e}") from None
        return "layer {\n" + body + "}\n"

    def finish(self):
        unused = set(self.quirks) - self.used_quirks
        if unused:
            raise RenderError(f"{self.key}.quirks: no layer named {', '.join(sorted(unused))} "
                              "in the rendered net")


# ----------------------------------------------------------------------------- jinja

def _env():
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["q"] = lambda s: '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'
    env.filters["num"] = fmt_float
    # A width multiplier applied to a layer width: rounded, never below 1 channel.
    env.filters["multiply"] = lambda n, k, step=1: max(int(round(n * float(k) / step)) * step, step)
    return env


def _template_line(exc):
    """'file.j2:LINE' of the innermost template frame of ``exc``'s traceback."""
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2"):
            where = f"{os.path.relpath(frame.filename, TEMPLATE_DIR)}:{frame.lineno}"
    return where


def _render_template(name, key, **context):
    import jinja2
    try:
        return _env().get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as e:
        raise RenderError(f"{key}: template {e.filename or e.name}:{e.lineno}: {e.message}") from None
    except jinja2.UndefinedError as e:
        raise RenderError(f"{key}: template {_template_line(e) or name}: {e.message}") from None
    except RenderError as e:
        line = _template_line(e)
        raise RenderError(f"{e} [template {line}]" if line else str(e)) from None


def _validate(text, message, filename):
    """Parse a rendered text with caffe_pb2 (prototxt.io): it must be Caffe 1.0 prototxt."""
    from . import io
    parse = io.parse_net if message is _pb2().NetParameter else io.parse_solver
    try:
        return parse(text, filename, upgrade=False)
    except io.PrototxtError as e:
        raise RenderError(f"rendered text does not parse: {e}") from None


def render_net(key, cfg):
    """Text of one net from its (sweep-expanded) config mapping."""
    net = NetBuilder(key, cfg)
    text = _render_template("net.j2", key, net=net)
    net.finish()
    _validate(text, _pb2().NetParameter, key + ".prototxt")
    return text


SOLVER_GROUPS = [
    ("The net", ["net", "train_net", "test_net", "weights"]),
    ("Testing", ["test_iter", "test_state", "test_interval", "test_compute_loss", "test_initialization"]),
    ("Learning rate and its policy", ["base_lr", "lr_policy", "gamma", "power", "stepsize",
                                      "stepvalue"]),
    ("The update", ["type", "momentum", "momentum2", "delta", "rms_decay", "weight_decay",
                    "regularization_type", "clip_gradients", "iter_size"]),
    ("Progress", ["display", "average_loss", "max_iter", "debug_info"]),
    ("Snapshots", ["snapshot", "snapshot_prefix", "snapshot_diff", "snapshot_format",
                   "snapshot_after_train"]),
    ("Where and how to run", ["solver_mode", "device_id", "random_seed", "layer_wise_reduce"]),
]


def render_solver(key, cfg):
    """Text of one solver: only the SolverParameter fields the config sets, grouped."""
    desc = _pb2().SolverParameter.DESCRIPTOR
    if not isinstance(cfg, dict):
        raise RenderError(f"{key}: expects a mapping of SolverParameter fields, got {cfg!r}")
    known = {f for _, fields in SOLVER_GROUPS for f in fields}
    groups = [(title, [f for f in fields if f in cfg]) for title, fields in SOLVER_GROUPS]
    rest = [k for k in cfg if k not in known]
    for k in rest:
        if k not in desc.fields_by_name:
            raise RenderError(f"{key}.{k}: SolverParameter has no field '{k}'")
    if rest:
        groups.append(("Other fields", rest))

    def field(name):
        try:
            return to_text({name: cfg[name]}, desc, 0, key)
        except FieldError as e:
            raise RenderError(str(e)) from None

    text = _render_template("solver.j2", key, groups=[g for g in groups if g[1]], field=field)
    _validate(text, _pb2().SolverParameter, key + ".prototxt")
    return text


# ----------------------------------------------------------------------------- configs

def _fmt_value(v):
    return fmt_float(v) if isinstance(v, float) else str(v)


def _substitute(obj, name, value):
    """Replace ``{name}`` in strings; a string that is exactly ``{name}`` becomes the value."""
    token = "{" + name + "}"
    if isinstance(obj, str):
        if obj == token:
            return value
        return obj.replace(token, _fmt_value(value))
    if isinstance(obj, list):
        return [_substitute(x, name, value) for x in obj]
    if isinstance(obj, dict):
        return {_substitute(k, name, value): _substitute(v, name, value) for k, v in obj.items()}
    return obj


def _expand(section, sweep):
    """Entries whose key names a sweep variable become one entry per value."""
    out = {}
    for key, cfg in (section or {}).items():
        variants = [(key, cfg)]
        for name, values in sweep.items():
            if "{" + name + "}" not in str(key):
                continue
            variants = [(_substitute(k, name, v), _substitute(c, name, v))
                        for k, c in variants for v in values]
        for k, c in variants:
            if k in out:
                raise RenderError(f"{k}: rendered twice (duplicate name after the sweep)")
            out[k] = c
    return out


def load_config(config):
    """A config mapping from a path, a bare name in templates/configs, or a mapping."""
    if isinstance(config, dict):
        return copy.deepcopy(config), "<config>"
    import yaml
    path = str(config)
    if not os.path.exists(path):
        for candidate in (os.path.join(CONFIG_DIR, path), os.path.join(CONFIG_DIR, path + ".yaml")):
            if os.path.exists(candidate):
                path = candidate
                break
        else:
            raise RenderError(f"{config}: no such config file")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise RenderError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise RenderError(f"{path}: a config is a mapping with nets: and/or solvers:")
    return data, path


def render_config(config):
    """Render every net and solver of ``config`` -> {filename: text} (validated)."""
    data, path = load_config(config)
    unknown = set(data) - {"sweep", "nets", "solvers", "description", "defaults",
                           "solver_defaults"}
    if unknown:
        raise RenderError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    sweep = data.get("sweep") or {}
    if not isinstance(sweep, dict) or not all(isinstance(v, list) for v in sweep.values()):
        raise RenderError(f"{path}: sweep: expects name: [values]")
    out = {}
    try:
        for key, cfg in _expand(data.get("nets"), sweep).items():
            cfg = deep_merge(data.get("defaults") or {}, cfg or {})
            out[f"{key}.prototxt"] = render_net(f"nets.{key}", cfg)
        for key, cfg in _expand(data.get("solvers"), sweep).items():
            cfg = deep_merge(data.get("solver_defaults") or {}, cfg or {})
            out[f"{key}.prototxt"] = render_solver(f"solvers.{key}", cfg)
    except RenderError as e:
        raise RenderError(f"{path}: {e}") from None
    return out


def write_rendered(files, out_dir):
    """Write {filename: text} into ``out_dir`` atomically; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        paths.append(path)
    return paths


def list_configs():
    return sorted(f[:-5] for f in os.listdir(CONFIG_DIR) if f.endswith(".yaml"))
