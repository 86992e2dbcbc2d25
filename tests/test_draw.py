"""tscaffe draw: DOT graphs like Caffe's draw_net.py, teacher and student in clusters."""
import shutil

import pydot
import pytest
from google.protobuf import text_format

from caffe_compat.proto import caffe_pb2
from prototxt.draw import DrawError, draw, net_to_dot, role_of
from prototxt.render import render_config
from solver.cli import main


@pytest.fixture(scope="module")
def ts_net():
    text = render_config("cifar10_ts")["ts_cifar10_l0.1.prototxt"]
    return text, text_format.Parse(text, caffe_pb2.NetParameter())


def _nodes(graph):
    out = list(graph.get_nodes())
    for sub in graph.get_subgraphs():
        out += _nodes(sub)
    return out


def test_roles():
    layer = caffe_pb2.LayerParameter
    assert role_of(layer(name="conv_t_1")) == "teacher"
    assert role_of(layer(name="conv_s1")) == "student"
    assert role_of(layer(name="fc_st_6")) == "student"
    assert role_of(layer(name="conv1", param=[caffe_pb2.ParamSpec(lr_mult=0)])) == "teacher"
    assert role_of(layer(name="loss")) is None


def test_dot_has_clusters_layers_and_blobs(ts_net):
    _, net = ts_net
    graph = net_to_dot(net, rankdir="TB", phase=caffe_pb2.TRAIN)
    clusters = {g.get_name(): g for g in graph.get_subgraphs()}
    assert set(clusters) == {"cluster_teacher", "cluster_student"}
    teacher = [n.get_label() for n in clusters["cluster_teacher"].get_nodes()]
    assert any("conv_t_1" in label for label in teacher)
    assert not any("_s_" in label for label in teacher)
    nodes = _nodes(graph)
    layers = [n for n in nodes if n.get_name().startswith('"layer_')]
    blobs = [n for n in nodes if n.get_name().startswith('"blob_')]
    # TRAIN: one data layer of two, no accuracy (TEST only)
    assert len(layers) == len(net.layer) - 2
    assert all(n.get("shape") == "octagon" for n in blobs)
    assert graph.get("rankdir") == "TB"
    # every layer has its bottoms as in-edges
    edges = graph.get_edges()
    conv = next(n.get_name() for n in layers if "conv_s_1" in n.get_label())
    assert len([e for e in edges if e.get_destination() == conv]) == 1


def test_cli_writes_dot(tmp_path, ts_net):
    text, net = ts_net
    src = tmp_path / "ts.prototxt"
    src.write_text(text)
    out = tmp_path / "ts.dot"
    assert main(["draw", str(src), str(out), "--phase", "TEST", "--rankdir", "BT"]) == 0
    graphs = pydot.graph_from_dot_data(out.read_text())
    assert graphs and graphs[0].get("rankdir") == "BT"
    labels = " ".join(str(n.get_label()) for n in _nodes(graphs[0]))
    assert "accuracy" in labels and "ts_loss" in labels


def test_png_needs_graphviz(tmp_path, ts_net):
    _, net = ts_net
    out = str(tmp_path / "ts.png")
    if shutil.which("dot") is None:
        with pytest.raises(DrawError, match="Graphviz"):
            draw(net, out)
    else:
        draw(net, out)
        with open(out, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(DrawError, match="unknown output format"):
        draw(net, str(tmp_path / "x.bmp2"))
