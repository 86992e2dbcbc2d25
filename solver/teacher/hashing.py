"""Content hashes of teacher models and datasets (what names a logit cache file).

A dataset is hashed once per process: ``dataset_sha256`` remembers its answer for the
folder's listing (relative names, sizes, modification times), so the probe, the TRAIN and
the TEST net of one run read the data's bytes once, and a changed file is hashed again.
"""
import hashlib
import os


def file_sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def read_graph(path):
    """The ONNX model at ``path`` without its external tensors' bytes (what the hash and the
    output kind read), or None when onnx cannot read it (onnxruntime's load says why)."""
    import onnx

    try:
        return onnx.load(path, load_external_data=False)
    except Exception:
        return None


def external_data_files(path, model=None):
    """The files holding an ONNX model's external tensors (``onnx.save(...,
    save_as_external_data=True)``; large PyTorch exports), sorted: paths relative to the
    model's folder, as the model names them. ``model``: the model ``read_graph`` gave, when
    the caller has it."""
    from onnx.external_data_helper import uses_external_data

    model = read_graph(path) if model is None else model
    if model is None:
        return []
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        tensors += [a.t for a in node.attribute if a.HasField("t")]
    found = set()
    for tensor in tensors:
        if uses_external_data(tensor):
            location = next((e.value for e in tensor.external_data if e.key == "location"), None)
            if location:
                found.add(location)
    return sorted(found)


def model_sha256(path, model=None):
    """The hash that names a teacher model in its logit cache's key: the .onnx file's bytes,
    and, for a model with external data, each data file's name and bytes too (new weights
    in the data file beside an unchanged graph must not reuse the old logits). ``model``:
    the model ``read_graph`` gave, when the caller has it."""
    digest = file_sha256(path)
    external = external_data_files(path, model)
    if not external:
        return digest   # the key of every model without external data, as before
    h = hashlib.sha256(digest.encode())
    folder = os.path.dirname(os.path.abspath(path))
    for name in external:
        h.update(name.encode())
        full = os.path.join(folder, name)
        h.update(file_sha256(full).encode() if os.path.isfile(full) else b"missing")
    return h.hexdigest()


def _dataset_files(path):
    """The files that make a dataset: ``path`` itself, or every file under the folder (LMDB
    lock files and hidden entries such as the teacher cache left out), sorted."""
    if not os.path.isdir(path):
        return [path]
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name == "lock.mdb" or name.startswith("."):
                continue
            found.append(os.path.join(root, name))
    return found


_HASHED = {}
hash_count = 0   # datasets actually read (tests check that a run reads its data once)


def dataset_sha256(path):
    """Hash of a dataset: a file's bytes, or every file under a folder (relative names and
    bytes; LMDB lock files and hidden entries such as the teacher cache left out)."""
    global hash_count
    path = os.path.abspath(path)
    files = _dataset_files(path)
    listing = tuple((f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files)
    key = (path, listing)
    if key in _HASHED:
        return _HASHED[key]
    hash_count += 1
    if not os.path.isdir(path):
        digest = file_sha256(path)
    else:
        h = hashlib.sha256()
        for full in files:
            h.update(os.path.relpath(full, path).encode())
            h.update(file_sha256(full).encode())
        digest = h.hexdigest()
    _HASHED[key] = digest
    return digest
