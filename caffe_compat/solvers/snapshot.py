"""Snapshot files: ``<snapshot_prefix>_iter_<N>.caffemodel`` / ``.solverstate`` and the
sidecar ``<name>.solverstate.rng.json`` with what Caffe does not save: the process random
generator's state (Dropout masks, random skips) and the state of layers that expose
``get_state()`` / ``set_state(state)`` (data readers' positions), so a resumed run repeats
the uninterrupted one bit for bit; without the sidecar a run resumes as Caffe's does."""
import json
import os

from .. import rng as _rng
from ..errors import SolverError

SIDECAR_FORMAT = "tscaffe-rng-1"


def snapshot_filename(param, iteration, extension):
    return f"{param.snapshot_prefix}_iter_{iteration}{extension}"


def check_snapshot_prefix(param):
    """Solver::CheckSnapshotWritePermissions: a probe file next to the snapshots."""
    if not param.snapshot:
        return
    probe = snapshot_filename(param, 0, ".tempfile")
    try:
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError:
        raise SolverError(f"snapshot_prefix: cannot write to snapshot prefix "
                          f"'{param.snapshot_prefix}'. Make sure that the directory exists and "
                          "is writeable.") from None


def save_net(net, path, with_diff=False):
    if with_diff:
        from ..io import save_caffemodel

        save_caffemodel(path, net.to_proto(write_diff=True))
    else:
        net.save(path)


def _stateful_layers(solver):
    nets = [("train", solver.net)] + [(f"test{i}", n) for i, n in enumerate(solver.test_nets)]
    for tag, net in nets:
        for name, layer in zip(net.layer_names, net.layers):
            if hasattr(layer, "get_state") and hasattr(layer, "set_state"):
                yield f"{tag}/{name}", layer


def write_sidecar(solver, state_path):
    from ..io import atomic_write_bytes

    layers = {key: layer.get_state() for key, layer in _stateful_layers(solver)}
    sidecar = {"format": SIDECAR_FORMAT, "rng": _rng.get_state(), "layers": layers}
    atomic_write_bytes(state_path + ".rng.json", json.dumps(sidecar).encode("utf-8"))


def read_sidecar(solver, state_path):
    sidecar = state_path + ".rng.json"
    if not os.path.exists(sidecar):
        return
    with open(sidecar, encoding="utf-8") as f:
        extra = json.load(f)
    _rng.set_state(extra["rng"])
    states = extra.get("layers", {})
    for key, layer in _stateful_layers(solver):
        if key in states:
            layer.set_state(states[key])
