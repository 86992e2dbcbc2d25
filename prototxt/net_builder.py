"""The object a net template renders from: ``NetBuilder`` (one net's config: its data
layers, members and heads) and ``Member`` (a model, student or teacher: its arch template,
tag, frozen params, options), with the tables of what a config may say (ARCHS, the keys of
a member, a net, a data layer; the head kinds). prototxt.render validates configs against
them and renders ``templates/net.j2`` with a NetBuilder; see its docstring for the config
format."""
from caffe_compat.errors import CaffeError

from . import teacher_param
from .arch_options import ARCH_OPTIONS, COMMON_KEYS, check_option
from .pbtext import FieldError, deep_merge, to_text

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
# A member's keys: the common ones and its arch's options (prototxt.arch_options).
MEMBER_KEYS = set(COMMON_KEYS).union(*ARCH_OPTIONS.values())
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
        for name in cfg:
            if name in COMMON_KEYS or cfg[name] is None:   # None: the template's default
                continue
            problem = check_option(arch, name, cfg[name])
            if problem:
                raise RenderError(f"{key}.{name} {problem}")
        self.arch = arch
        self.template, defaults = ARCHS[arch]
        opts = dict(defaults)
        opts.update({k: v for k, v in cfg.items() if k != "arch" and v is not None})
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
