"""One ONNX operator run by onnxruntime's CPU kernels on numpy arrays, without copies.

``OrtOp(op_type, inputs, outputs, **attributes)`` builds a one-node graph (inputs and
outputs as ``{name: shape}``, float32; ``nodes=[...]`` gives several nodes instead, which
may use onnxruntime's ``com.microsoft.nchwc`` operators, op_type then only names the graph)
and runs it on arrays the caller owns: inputs and outputs are bound by address
(onnxruntime's I/O binding), so a call allocates nothing and writes straight into the
output arrays. One session per thread count, made on first use:
``intra_op_num_threads`` follows caffe_compat.parallel's count, and idle workers do not
spin (a spinning pool would take the cores that the next numpy pass needs, and slows
everything down on a busy machine).

The engines of the fast path (caffe_compat.engines) use it for convolutions.
"""
import numpy as np

from . import parallel

_OPSET = 17
NCHWC_DOMAIN = "com.microsoft.nchwc"
_shared_arena = False
_nchwc_block = None


def nchwc_block():
    """The channel block of MLAS's NCHWc kernels here (16 with AVX-512, 8 with AVX2), found
    once: ReorderInput pads 4 channels up to one block. 0 where this onnxruntime build or
    CPU has no NCHWc kernels."""
    global _nchwc_block
    if _nchwc_block is None:
        try:
            import onnxruntime as ort

            from onnx import helper

            node = helper.make_node("ReorderInput", ["x"], ["y"], domain=NCHWC_DOMAIN)
            so = ort.SessionOptions()
            so.log_severity_level = 4
            sess = ort.InferenceSession(model_bytes([node], "block", {"x": (1, 4, 1, 1)}, {"y": None}), so,
                                        providers=["CPUExecutionProvider"])
            b = int(sess.run(None, {"x": np.ones((1, 4, 1, 1), np.float32)})[0].shape[1])
            _nchwc_block = b if b in (8, 16) else 0
        except Exception:  # no NCHWc kernels in this build or on this CPU
            _nchwc_block = 0
    return _nchwc_block


def model_bytes(nodes, name, inputs, outputs):
    """A serialised float32 model of ``nodes`` with graph inputs and outputs ``{name: shape}``
    (a shape of None: not declared), importing the NCHWc domain where a node uses it."""
    from onnx import TensorProto, helper

    def info(k, shape):
        return helper.make_tensor_value_info(k, TensorProto.FLOAT, None if shape is None else list(shape))

    graph = helper.make_graph(nodes, name, [info(k, v) for k, v in inputs.items()],
                              [info(k, v) for k, v in outputs.items()])
    opsets = [helper.make_opsetid("", _OPSET)]
    if any(n.domain == NCHWC_DOMAIN for n in nodes):
        opsets.append(helper.make_opsetid(NCHWC_DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model.SerializeToString()


def _share_one_arena(ort):
    """All sessions draw their scratch memory from one arena registered with onnxruntime's
    environment, instead of an arena each: a net with 150 convolutions would otherwise keep
    150 workspaces (ResNet-50 at batch 1: 1,255 MB against 810 MB on Caffe's path)."""
    global _shared_arena
    if not _shared_arena:
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        try:
            ort.create_and_register_allocator(info, None)
        except Exception as e:  # registered already (by the user): use theirs
            if "already" not in str(e).lower():
                raise
        _shared_arena = True


class OrtOp:
    def __init__(self, op_type, inputs, outputs, nodes=None, **attributes):
        self.op_type = op_type
        self.nodes = nodes
        self.inputs = {k: tuple(int(d) for d in v) for k, v in inputs.items()}
        self.outputs = {k: tuple(int(d) for d in v) for k, v in outputs.items()}
        self.attributes = attributes
        self._sessions = {}
        self._model = None

    def _model_bytes(self):
        if self._model is None:
            from onnx import helper

            nodes = self.nodes or [helper.make_node(self.op_type, list(self.inputs),
                                                    list(self.outputs), **self.attributes)]
            self._model = model_bytes(nodes, self.op_type, self.inputs, self.outputs)
        return self._model

    def _session(self):
        threads = parallel.num_threads()
        entry = self._sessions.get(threads)
        if entry is None:
            import onnxruntime as ort

            _share_one_arena(ort)
            so = ort.SessionOptions()
            so.add_session_config_entry("session.use_env_allocators", "1")
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            so.log_severity_level = 3
            sess = ort.InferenceSession(self._model_bytes(), so, providers=["CPUExecutionProvider"])
            entry = self._sessions[threads] = (sess, sess.io_binding())
        return entry

    def __call__(self, **arrays):
        """Runs the operator; ``arrays`` holds every input and output by name (float32,
        C-contiguous, the declared shapes)."""
        sess, binding = self._session()
        for names, bind in ((self.inputs, binding.bind_input), (self.outputs, binding.bind_output)):
            for name, shape in names.items():
                a = arrays[name]
                if a.dtype != np.float32 or not a.flags.c_contiguous or a.shape != shape:
                    raise ValueError(f"{self.op_type} {name}: needs a C-contiguous float32 array "
                                     f"of shape {shape}, got {a.dtype} {a.shape}")
                bind(name, "cpu", 0, np.float32, list(shape), a.ctypes.data)
        sess.run_with_iobinding(binding)
