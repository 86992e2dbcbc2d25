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
fillers), params (false drops param blocks), num_classes, bottom, and its arch's options
(prototxt/arch_options.py: e.g. vgg16's width, bn, bn_fraction, filler, blocks, classifier,
dropout; an option the arch's template does not read is refused, None is the default). A teacher may instead be ``{onnx: PATH, ...}`` (or
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

from .net_builder import NetBuilder, RenderError, _pb2
from .pbtext import FieldError, deep_merge, fmt_float, to_text

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "templates")
CONFIG_DIR = os.path.join(TEMPLATE_DIR, "configs")

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
