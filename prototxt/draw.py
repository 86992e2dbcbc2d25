"""Draw a net as a graph, as Caffe's python/draw_net.py does, with pydot.

Layers are boxes (labelled with name, type and the main parameters), blobs are octagons,
edges run bottom blob -> layer -> top blob; an in-place layer (top == bottom) gets its own
blob node so the graph stays acyclic. Teacher and student are drawn apart: layers whose
names carry a ``_t``/``_s`` tag (``conv_t1``, ``conv_s_1``, ``fc_st_6``: student) or that
are frozen (every param ``lr_mult: 0``: teacher) go into a "teacher" / "student" cluster.

``.dot`` output is written by pydot itself and needs nothing else; PNG/SVG/PDF need
Graphviz's ``dot`` program, and without it ``draw`` stops with an error saying so.
"""
import os
import re
import shutil

from caffe_compat.errors import CaffeError

LAYER_STYLE = {"shape": "record", "style": "filled", "fillcolor": "#6495ED"}
FROZEN_COLOR = "#B0B0B0"
LOSS_COLOR = "#F08080"
DATA_COLOR = "#90EE90"
BLOB_STYLE = {"shape": "octagon", "style": "filled", "fillcolor": "#E0E0E0"}
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".jpg": "jpg", ".dot": "dot",
           ".gv": "dot"}
_STUDENT = re.compile(r"(_s|_st)(_|\d|$)")
_TEACHER = re.compile(r"_t(_|\d|$)")


class DrawError(CaffeError):
    """The graph cannot be drawn (unknown format, Graphviz missing)."""


def role_of(layer):
    """'teacher', 'student' or None for a LayerParameter."""
    if _STUDENT.search(layer.name):
        return "student"
    if _TEACHER.search(layer.name):
        return "teacher"
    if layer.param and all(p.lr_mult == 0 for p in layer.param):
        return "teacher"
    return None


def _label(layer):
    parts = [layer.name, f"({layer.type})"]
    if layer.type in ("Convolution", "Deconvolution"):
        p = layer.convolution_param
        k = p.kernel_size[0] if p.kernel_size else f"{p.kernel_h}x{p.kernel_w}"
        s = p.stride[0] if p.stride else (p.stride_h or 1)
        pad = p.pad[0] if p.pad else p.pad_h
        parts.append(f"kernel {k}, stride {s}, pad {pad}, out {p.num_output}")
    elif layer.type == "Pooling":
        p = layer.pooling_param
        pool = type(p).PoolMethod.Name(p.pool)
        parts.append(f"{pool} kernel {p.kernel_size or p.kernel_h}, stride {p.stride}")
    elif layer.type == "InnerProduct":
        parts.append(f"out {layer.inner_product_param.num_output}")
    elif layer.type == "Python":
        parts.append(f"{layer.python_param.module}.{layer.python_param.layer}")
    if layer.loss_weight:
        parts.append("loss weight " + ", ".join("%g" % w for w in layer.loss_weight))
    return "\\n".join(p.replace('"', "'") for p in parts)


def _in_phase(layer, phase):
    """Caffe's include/exclude rule for the phase alone (levels and stages ignored)."""
    if phase is None:
        return True
    if layer.include:
        return any(not r.HasField("phase") or r.phase == phase for r in layer.include)
    return not any(r.HasField("phase") and r.phase == phase for r in layer.exclude)


def _quoted(name):
    return '"' + name.replace('"', "'") + '"'


def net_to_dot(net, rankdir="LR", phase=None):
    """A pydot.Dot of ``net`` (NetParameter); ``phase``: caffe_pb2.TRAIN/TEST or None (all)."""
    import pydot
    graph = pydot.Dot(graph_type="digraph", rankdir=rankdir, compound="true")
    graph.set_name(_quoted(net.name or "net"))
    clusters = {}
    for role in ("teacher", "student"):
        clusters[role] = pydot.Cluster(role, label=role, style="dashed",
                                       color="#C00000" if role == "teacher" else "#0000C0")
    blob_node = {}      # blob name -> current node id (changes after an in-place layer)
    counter = [0]

    def blob(name, where, fresh=False):
        if fresh or name not in blob_node:
            counter[0] += 1
            node_id = f"blob_{counter[0]}"
            where.add_node(pydot.Node(_quoted(node_id), label=_quoted(name), **BLOB_STYLE))
            blob_node[name] = node_id
        return blob_node[name]

    used_roles = set()
    for i, layer in enumerate(net.layer):
        if not _in_phase(layer, phase):
            continue
        role = role_of(layer)
        where = clusters[role] if role else graph
        if role:
            used_roles.add(role)
        style = dict(LAYER_STYLE)
        if layer.type.endswith("Loss") or layer.loss_weight:
            style["fillcolor"] = LOSS_COLOR
        elif layer.type in ("Data", "Input", "ImageData", "HDF5Data", "DummyData"):
            style["fillcolor"] = DATA_COLOR
        elif layer.param and all(p.lr_mult == 0 for p in layer.param):
            style["fillcolor"] = FROZEN_COLOR
        layer_id = f"layer_{i}"
        where.add_node(pydot.Node(_quoted(layer_id), label=_quoted(_label(layer)), **style))
        for b in layer.bottom:
            graph.add_edge(pydot.Edge(_quoted(blob(b, where)), _quoted(layer_id)))
        for t in layer.top:
            fresh = t in layer.bottom or t in blob_node
            graph.add_edge(pydot.Edge(_quoted(layer_id), _quoted(blob(t, where, fresh))))
    for role in ("teacher", "student"):
        if role in used_roles:
            graph.add_subgraph(clusters[role])
    return graph


def have_graphviz():
    return shutil.which("dot") is not None


def draw(net, out_path, rankdir="LR", phase=None):
    """Write ``net`` drawn to ``out_path``; the extension picks the format."""
    ext = os.path.splitext(out_path)[1].lower()
    fmt = FORMATS.get(ext)
    if fmt is None:
        raise DrawError(f"{out_path}: unknown output format '{ext}' "
                        f"(use one of {', '.join(sorted(FORMATS))})")
    graph = net_to_dot(net, rankdir, phase)
    if fmt == "dot":
        data = graph.to_string().encode("utf-8")
    else:
        if not have_graphviz():
            raise DrawError(f"{out_path}: drawing {fmt.upper()} needs Graphviz's 'dot' program, "
                            "which is not installed (apt-get install graphviz); "
                            "write a .dot file instead")
        data = graph.create(format=fmt)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out_path)
    return out_path
