"""caffe_compat/backend.py's promise, kept: layer modules take their arrays through
``get_array_module`` / ``xp``; only the host-memory data layers it names import numpy."""
import ast

from conftest import REPO


def test_only_the_host_data_layers_import_numpy():
    from caffe_compat.backend import HOST_LAYER_MODULES

    offenders = []
    for path in sorted((REPO / "caffe_compat" / "layer_types").glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     else [])
            if any(n.split(".")[0] == "numpy" for n in names) and path.stem not in HOST_LAYER_MODULES:
                offenders.append(path.name)
    assert not offenders, f"import numpy outside HOST_LAYER_MODULES: {sorted(set(offenders))}"
