"""A teacher saved with external data (its weights in a file beside the graph, as large
PyTorch exports are): its logit cache's key covers the data file, so new weights beside an
unchanged graph file never reuse the old logits (solver.teacher.hashing.model_sha256)."""
import copy
import os

import numpy as np
import onnx
import onnxruntime as ort

from solver.teacher.hashing import external_data_files, file_sha256, model_sha256
from solver.teacher.model import OnnxModel


def save_external(model, folder):
    path = os.path.join(folder, "ext.onnx")
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.bin", size_threshold=0)
    return path


def test_new_weights_in_the_data_file_change_the_key(client, tmp_path):
    base = onnx.load(client)
    path = save_external(copy.deepcopy(base), str(tmp_path))
    assert external_data_files(path) == ["ext.bin"]
    graph_bytes = file_sha256(path)
    first = OnnxModel(path)
    x = np.random.default_rng(0).integers(0, 256, (4, 1, 28, 28)).astype(np.float32)
    plain = ort.InferenceSession(client, providers=["CPUExecutionProvider"])
    before = first.logits(x)
    np.testing.assert_array_equal(before, plain.run(None, {"data": x})[0])

    # New weights written into the data file in place (the last tensor's bytes doubled);
    # the graph file is not touched.
    graph = onnx.load(path, load_external_data=False).graph
    info = {e.key: e.value for e in graph.initializer[-1].external_data}
    offset, length = int(info.get("offset", 0)), int(info["length"])
    data_path = tmp_path / "ext.bin"
    blob = bytearray(data_path.read_bytes())
    values = np.frombuffer(bytes(blob[offset:offset + length]), np.float32) * 2 + 1
    blob[offset:offset + length] = values.astype(np.float32).tobytes()
    data_path.write_bytes(bytes(blob))
    assert file_sha256(path) == graph_bytes          # the graph file is byte for byte the same
    second = OnnxModel(path)
    assert second.model_sha256 != first.model_sha256  # but the key is not
    after = second.logits(x)
    np.testing.assert_allclose(after - before, np.broadcast_to(after[:1] - before[:1], (4, 10)),
                               atol=1e-4)   # fc2's bias moved every row alike
    assert not np.allclose(after, before)


def test_a_model_without_external_data_keeps_its_file_hash(client):
    assert external_data_files(client) == []
    assert model_sha256(client) == file_sha256(client)   # caches made before stay valid
