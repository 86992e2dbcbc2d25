"""pycaffe's draw: a NetParameter as a Graphviz graph (pydot), drawn by Graphviz's ``dot``.

The graph is pycaffe 1.0's: one node per layer, labelled ``name``, ``(Type)`` (``(Pooling MAX)``
for pooling), for Convolution / Deconvolution / Pooling ``kernel size: k``, ``stride: s``,
``pad: p`` (the first value of each; 1, 1, 0 when absent), with ``display_lrm`` the weight and
bias ``lr mult`` of learning layers; lines joined by ``\\n`` (``LR``) or a space (``TB``/``BT``).
Layer nodes are records coloured by type (convolutions #FF5050, pooling #FF9900,
inner products #CC33FF, others #6495ED; in-place one-blob layers green #90EE90); blobs are
grey octagons where they are read, plain nodes where they are written. Edges from a layer to
its tops carry ``Batch <n>`` (Data), the ``num_output`` (Convolution, Deconvolution,
InnerProduct) or nothing. With ``phase`` only the layers of that phase are drawn (by
include/exclude phase rules only, as pycaffe).

Drawing to PNG/SVG/PDF needs Graphviz's ``dot`` program (``apt-get install graphviz``); the
``.raw`` / ``.dot`` text needs only pydot.
"""
import pydot

from .errors import CaffeError
from .proto import caffe_pb2

LAYER_STYLE_DEFAULT = {"shape": "record", "fillcolor": "#6495ED", "style": "filled"}
NEURON_LAYER_STYLE = {"shape": "record", "fillcolor": "#90EE90", "style": "filled"}
BLOB_STYLE = {"shape": "octagon", "fillcolor": "#E0E0E0", "style": "filled"}
_TYPE_COLORS = {"Convolution": "#FF5050", "Deconvolution": "#FF5050", "Pooling": "#FF9900",
                "InnerProduct": "#CC33FF"}
_LEARNING_TYPES = ("Convolution", "Deconvolution", "InnerProduct")


def get_pooling_types_dict():
    """{pooling method number: name} (0: MAX, 1: AVE, 2: STOCHASTIC)."""
    return {v.number: name for name, v in
            caffe_pb2.PoolingParameter.PoolMethod.DESCRIPTOR.values_by_name.items()}


def get_edge_label(layer):
    """The label of the edges from ``layer`` to its tops."""
    if layer.type == "Data":
        return f"Batch {layer.data_param.batch_size}"
    if layer.type in ("Convolution", "Deconvolution"):
        return str(layer.convolution_param.num_output)
    if layer.type == "InnerProduct":
        return str(layer.inner_product_param.num_output)
    return '""'


def get_layer_lr_mult(layer):
    """(weight lr_mult, bias lr_mult) of a learning layer; 1.0 where not given."""
    if layer.type not in _LEARNING_TYPES:
        raise ValueError(f"{layer.type} layers do not have a learning rate multiplier")
    specs = list(layer.param)
    if len(specs) > 2:
        raise ValueError("Could not parse the learning rate multiplier")
    mults = [spec.lr_mult for spec in specs] + [1.0] * (2 - len(specs))
    return tuple(mults)


def get_layer_label(layer, rankdir, display_lrm=False):
    """The node label of ``layer``, quoted for Graphviz."""
    separator = " " if rankdir in ("TB", "BT") else r"\n"
    parts = [layer.name]
    if layer.type == "Pooling":
        parts.append(f"({layer.type} {get_pooling_types_dict()[layer.pooling_param.pool]})")
    else:
        parts.append(f"({layer.type})")
    if layer.type == "Pooling":
        p = layer.pooling_param
        kernel, stride, pad = p.kernel_size, p.stride, p.pad
    elif layer.type in ("Convolution", "Deconvolution"):
        p = layer.convolution_param
        kernel = p.kernel_size[0] if len(p.kernel_size) else 1
        stride = p.stride[0] if len(p.stride) else 1
        pad = p.pad[0] if len(p.pad) else 0
    if layer.type in ("Convolution", "Deconvolution", "Pooling"):
        parts.append(separator.join([f"kernel size: {kernel}", f"stride: {stride}", f"pad: {pad}"]))
    if display_lrm and layer.type in _LEARNING_TYPES:
        weight_mult, bias_mult = get_layer_lr_mult(layer)
        if weight_mult or bias_mult:
            parts.append("lr mult: %.1f, %.1f" % (weight_mult, bias_mult))
    return '"%s"' % separator.join(parts)


def choose_color_by_layertype(layertype):
    """The fill colour of a layer node."""
    return _TYPE_COLORS.get(layertype, LAYER_STYLE_DEFAULT["fillcolor"])


def _in_phase(layer, phase):
    if len(layer.include) and len(layer.exclude):
        raise ValueError(f"layer {layer.name} has both include and exclude specified.")
    included = not len(layer.include) or any(r.phase == phase for r in layer.include)
    return included and not any(r.phase == phase for r in layer.exclude)


def get_pydot_graph(caffe_net, rankdir, label_edges=True, phase=None, display_lrm=False):
    """A ``pydot.Dot`` digraph of ``caffe_net`` (a NetParameter)."""
    graph = pydot.Dot(caffe_net.name or "Net", graph_type="digraph", rankdir=rankdir)
    nodes, edges = {}, []
    for layer in caffe_net.layer:
        if phase is not None and not _in_phase(layer, phase):
            continue
        label = get_layer_label(layer, rankdir, display_lrm=display_lrm)
        layer_key = f"{layer.name}_{layer.type}"
        if len(layer.bottom) == 1 and len(layer.top) == 1 and layer.bottom[0] == layer.top[0]:
            nodes[layer_key] = pydot.Node(label, **NEURON_LAYER_STYLE)
        else:
            style = dict(LAYER_STYLE_DEFAULT, fillcolor=choose_color_by_layertype(layer.type))
            nodes[layer_key] = pydot.Node(label, **style)
        for bottom in layer.bottom:
            nodes[bottom + "_blob"] = pydot.Node(bottom, **BLOB_STYLE)
            edges.append((bottom + "_blob", layer_key, '""'))
        for top in layer.top:
            nodes[top + "_blob"] = pydot.Node(top)
            edges.append((layer_key, top + "_blob", get_edge_label(layer) if label_edges else '""'))
    for node in nodes.values():
        graph.add_node(node)
    for src, dst, label in edges:
        graph.add_edge(pydot.Edge(nodes[src], nodes[dst], label=label))
    return graph


def draw_net(caffe_net, rankdir, ext="png", phase=None, display_lrm=False):
    """The drawing of ``caffe_net`` as bytes in format ``ext`` (png, svg, pdf, ..., raw)."""
    graph = get_pydot_graph(caffe_net, rankdir, phase=phase, display_lrm=display_lrm)
    if ext == "raw":  # the Graphviz text itself, for feeding to dot by hand
        return graph.to_string().encode("utf-8")
    try:
        return graph.create(format=ext)
    except FileNotFoundError as e:
        raise CaffeError(f"drawing a net as '{ext}' needs Graphviz's 'dot' program on PATH "
                         "(apt-get install graphviz), or use the '.raw' format: "
                         f"{e}") from e


def draw_net_to_file(caffe_net, filename, rankdir="LR", phase=None, display_lrm=False):
    """Write the drawing of ``caffe_net`` to ``filename``, in the format its extension names
    (``.raw``: the Graphviz text)."""
    ext = filename[filename.rfind(".") + 1:]
    data = draw_net(caffe_net, rankdir, ext, phase, display_lrm)
    with open(filename, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
