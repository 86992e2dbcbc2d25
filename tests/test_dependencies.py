"""Dependencies point one way: solver -> prototxt -> caffe_compat. caffe_compat (pycaffe's
surface, Net(model_file) included) works with neither of the others imported, and no module
of a lower package imports a higher one."""
import ast
import subprocess
import sys

import pytest

from conftest import REPO

HIGHER = {"caffe_compat": ("prototxt", "solver"), "prototxt": ("solver",)}


def imported_modules(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("package", sorted(HIGHER))
def test_no_module_imports_a_higher_package(package):
    offenders = []
    for path in sorted((REPO / package).rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in HIGHER[package]:
                offenders.append(f"{path.relative_to(REPO)} imports {name}")
    assert not offenders, offenders


def test_net_from_a_file_needs_only_caffe_compat(tmp_path):
    good = tmp_path / "net.prototxt"
    good.write_text('input: "data" input_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2\n'
                    'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n')
    bad = tmp_path / "bad.prototxt"
    bad.write_text('layer {\n  name: "c" type: "Convolution"\n  convolution_param { num_outputs: 3 }\n}\n')
    code = f"""
import sys
import caffe_compat as caffe
from caffe_compat.errors import CaffeError
net = caffe.Net({str(good)!r}, caffe.TEST)  # legacy input fields, upgraded
print(net.blobs["r"].shape)
try:
    caffe.Net({str(bad)!r}, caffe.TEST)
except CaffeError as e:
    print(e)
print(sorted(m for m in ("prototxt", "solver") if m in sys.modules))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    shape, error, loaded = proc.stdout.strip().splitlines()
    assert shape == "(1, 1, 2, 2)"
    assert error == (f'{bad}:3:23: Message type "caffe.ConvolutionParameter" has no field '
                     f'named "num_outputs".')
    assert loaded == "[]"
