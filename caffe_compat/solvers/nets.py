"""Solver::InitTrainNet / InitTestNets: which fields name the nets, their states, weights."""
import os

from .. import glog as log
from ..errors import SolverError
from ..proto import caffe_pb2
from .reading import read_net


def copy_message(message):
    out = type(message)()
    out.CopyFrom(message)
    return out


def load_weights(param, net):
    """The solver's ``weights`` (comma-separated lists allowed), copied into ``net``."""
    for entry in param.weights:
        for name in entry.split(","):
            log.info(log.SOLVER_FINETUNE, f"Finetuning from {name}")
            if not os.path.exists(name):
                raise SolverError(f"weights: file not found: '{name}'")
            net.copy_from(name)


def init_train_net(p):
    from ..net import Net

    fields = ("net", "net_param", "train_net", "train_net_param")
    given = [f for f in fields if p.HasField(f)]
    if not given:
        raise SolverError("net: the solver must specify a train net using one of these "
                          "fields: " + ", ".join(fields))
    if len(given) > 1:
        raise SolverError("net: the solver must not contain more than one of these fields "
                          "specifying a train net: " + ", ".join(given))
    if p.HasField("train_net_param"):
        log.info(log.SOLVER_TRAIN_NET_PARAM, "Creating training net specified in train_net_param.")
        net_param = copy_message(p.train_net_param)
    elif p.HasField("train_net"):
        log.info(log.SOLVER_TRAIN_NET_LEGACY, f"Creating training net from train_net file: {p.train_net}")
        net_param = read_net(p.train_net, "train_net")
    elif p.HasField("net_param"):
        log.info(log.SOLVER_TRAIN_NET_NET_PARAM, "Creating training net specified in net_param.")
        net_param = copy_message(p.net_param)
    else:
        log.info(log.SOLVER_TRAIN_NET_FILE, f"Creating training net from net file: {p.net}")
        net_param = read_net(p.net, "net")
    state = caffe_pb2.NetState(phase=caffe_pb2.TRAIN)
    state.MergeFrom(net_param.state)
    state.MergeFrom(p.train_state)
    net_param.state.CopyFrom(state)
    net = Net(net_param)
    load_weights(p, net)
    return net


def init_test_nets(p, train_net):
    from ..net import Net

    generic = p.HasField("net") + p.HasField("net_param")
    n_specific = len(p.test_net_param) + len(p.test_net)
    if generic:
        if len(p.test_iter) < n_specific:
            raise SolverError("test_iter: must be specified for each test network")
    elif len(p.test_iter) != n_specific:
        raise SolverError(f"test_iter: must be specified for each test network "
                          f"({n_specific} test net(s), {len(p.test_iter)} test_iter)")
    n_instances = len(p.test_iter)
    if len(p.test_state) and len(p.test_state) != n_instances:
        raise SolverError(f"test_state: must be unspecified or specified once per test net "
                          f"({n_instances} test net(s), {len(p.test_state)} test_state)")
    if n_instances and p.test_interval <= 0:
        raise SolverError("test_interval: must be > 0 when the solver has test nets "
                          f"(test_iter given {n_instances} time(s))")
    sources, params = [], []
    for tp in p.test_net_param:
        sources.append("test_net_param")
        params.append(copy_message(tp))
    for path in p.test_net:
        sources.append(f"test_net file: {path}")
        params.append(read_net(path, "test_net"))
    remaining = n_instances - len(params)
    for _ in range(remaining):
        if p.HasField("net_param"):
            sources.append("net_param")
            params.append(copy_message(p.net_param))
        elif p.HasField("net"):
            sources.append(f"net file: {p.net}")
            params.append(read_net(p.net, "net"))
    nets = []
    for i, net_param in enumerate(params):
        state = caffe_pb2.NetState(phase=caffe_pb2.TEST)
        state.MergeFrom(net_param.state)
        if len(p.test_state):
            state.MergeFrom(p.test_state[i])
        net_param.state.CopyFrom(state)
        log.info(log.SOLVER_TEST_NET, f"Creating test net (#{i}) specified by {sources[i]}")
        net = Net(net_param)
        load_weights(p, net)
        net.share_trained_layers_with(train_net)
        nets.append(net)
    return nets
