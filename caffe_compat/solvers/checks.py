"""Caffe's checks on a SolverParameter (and a few it makes late), each naming the field."""
from ..errors import SolverError
from ..proto import caffe_pb2
from .lr_policies import check_policy


def validate(param, known_types):
    if param.type not in known_types:
        raise SolverError(f"type: unknown solver type '{param.type}' "
                          f"(known: {', '.join(known_types)})")
    if param.max_iter < 0:
        raise SolverError(f"max_iter: must be >= 0, got {param.max_iter}")
    for field in ("display", "test_interval", "snapshot", "stepsize"):
        if getattr(param, field) < 0:
            raise SolverError(f"{field}: must be >= 0, got {getattr(param, field)}")
    if param.average_loss < 1:
        raise SolverError(f"average_loss: must be >= 1, got {param.average_loss}")
    if param.iter_size < 1:
        raise SolverError(f"iter_size: must be >= 1, got {param.iter_size}")
    for k, n in enumerate(param.test_iter):
        if n < 0:
            raise SolverError(f"test_iter: entry {k} must be >= 0, got {n}")
    check_policy(param)
    if param.regularization_type not in ("L1", "L2"):
        raise SolverError(f"regularization_type: unknown regularization type "
                          f"'{param.regularization_type}' (known: L1, L2)")
    if param.snapshot_format != caffe_pb2.SolverParameter.BINARYPROTO:
        raise SolverError("snapshot_format: HDF5 snapshots are not supported; use BINARYPROTO "
                          "(the default)")
    if param.snapshot and not param.HasField("snapshot_prefix"):
        raise SolverError("snapshot_prefix: 'snapshot' is set but 'snapshot_prefix' is not")
    # clip_gradients 0: Caffe clips everything to norm 0 then; allowed, if odd.
    if param.type == "Adam" and not (0 <= param.momentum < 1 and 0 <= param.momentum2 < 1):
        raise SolverError("momentum/momentum2: Adam needs 0 <= beta < 1")
