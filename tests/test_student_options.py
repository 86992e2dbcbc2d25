"""A student's template options: every option an arch lists changes its rendered net, an
option the template would ignore is refused, and distill checks the options before the
teacher runs (prototxt.arch_options, solver.distill.options.check_student_opts)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from caffe_compat.errors import CaffeError
from prototxt.arch_options import ARCH_OPTIONS
from prototxt.net_builder import ARCHS
from prototxt.render import RenderError, render_net

REPO = Path(__file__).resolve().parents[1]

# Two values of each option that must render two different nets, with what else the
# option needs to show (bn_fraction is written only on BatchNorm layers).
TWO_VALUES = {
    "dropout": (False, True, {}),
    "width": (0.5, 0.25, {}),
    "blocks": (None, None, {}),   # per arch below
    "bn": (False, True, {}),
    "bn_fraction": (0.9, 0.5, {"bn": True}),
    "filler": ("msra", "xavier", {}),
    "classifier": (True, False, {}),
    "stem": ("small", "standard", {}),
    "global_pool": (False, True, {}),
}
BLOCKS = {"cifar10_full": (2, 3), "cifar10_mini": (2, 3), "vgg16": (3, 4), "vgg16_bn": (3, 4),
          "vgg16_msra": (3, 4)}


def net_of(arch, **options):
    """The rendered text (checked by caffe_pb2, not run) of ``arch`` with ``options``."""
    cfg = {"name": "n", "data": [{"source": "train_lmdb", "batch_size": 2}],
           "model": dict({"arch": arch, "num_classes": 10}, **options)}
    return render_net("n", cfg)


def test_every_arch_has_an_options_entry():
    assert set(ARCH_OPTIONS) == set(ARCHS)


@pytest.mark.parametrize("arch, option", [(a, o) for a in sorted(ARCH_OPTIONS)
                                          for o in sorted(ARCH_OPTIONS[a])])
def test_each_listed_option_changes_the_rendered_net(arch, option):
    a, b, extra = TWO_VALUES[option]
    if option == "blocks":
        a, b = BLOCKS[arch]
    assert net_of(arch, **{option: a}, **extra) != net_of(arch, **{option: b}, **extra)


@pytest.mark.parametrize("arch, options, message", [
    ("lenet", {"width": 0.5}, "n.model.width is not an option of the lenet template "
                              "(its options: dropout)"),
    ("cifar10_quick", {"dropout": True}, "n.model.dropout is not an option of the cifar10_quick "
                                         "template (its options: none)"),
    ("alexnet", {"bn": True}, "n.model.bn is not an option of the alexnet template"),
    ("vgg16", {"blocks": 6}, "n.model.blocks must be an integer from 1 to 5, got 6"),
    ("vgg16", {"width": 0}, "n.model.width must be a positive number, got 0"),
    ("vgg16", {"bn": "yes"}, "n.model.bn must be true or false, got 'yes'"),
    ("vgg16", {"filler": "gaussian"}, "n.model.filler must be one of 'msra', 'xavier', got "
                                      "'gaussian'"),
    ("vgg16_bn", {"bn_fraction": 1.5}, "n.model.bn_fraction must be in [0, 1], got 1.5"),
    ("cifar10_full", {"blocks": 1}, "n.model.blocks must be an integer from 2 to 3, got 1"),
    ("alexnet", {"stem": "tiny"}, "n.model.stem must be one of 'small', 'standard', got 'tiny'"),
])
def test_render_refuses_an_option_its_template_would_ignore_or_misread(arch, options, message):
    with pytest.raises(RenderError) as e:
        net_of(arch, **options)
    assert message in str(e.value)


def test_a_none_option_means_the_default():
    assert net_of("vgg16", width=0.25, blocks=None) == net_of("vgg16", width=0.25)


@pytest.mark.parametrize("student, opts, message", [
    ("vgg16", {"bn_fractoin": 0.9}, "student_opts['bn_fractoin']: the vgg16 student has no "
                                    "option 'bn_fractoin' (did you mean 'bn_fraction'?)"),
    ("lenet", {"width": 0.5}, "student_opts['width']: the lenet student has no option 'width'; "
                              "its options: dropout"),
    ("alexnet", {"filler": "msra"}, "the alexnet student has no option 'filler'"),
    ("vgg16", {"num_classes": 5}, "student_opts['num_classes']: the student's num_classes is "
                                  "set by the data"),
    ("vgg16", {"width": -1}, "student_opts['width'] must be a positive number, got -1"),
    ("vgg16", {"bn": False, "bn_fraction": 0.9}, "student_opts['bn_fraction'] sets BatchNorm's "
                                                 "moving_average_fraction, but the student has "
                                                 "no BatchNorm (bn False)"),
    ("vgg16", ["width", 0.5], "student_opts must be a mapping of template options, got list"),
])
def test_distill_options_refuse_a_bad_student_option(student, opts, message):
    from solver.distill.options import DistillOptions

    with pytest.raises(CaffeError) as e:
        DistillOptions(["t.onnx"], student, student_opts=opts).resolved()
    assert message in str(e.value)


def test_student_opts_with_a_student_prototxt_are_refused():
    from solver.distill.options import DistillOptions

    with pytest.raises(CaffeError, match="a student given as a prototxt"):
        DistillOptions(["t.onnx"], "lenet", student_prototxt="s.prototxt",
                       student_opts={"dropout": True}).resolved()
    # the CLI passes every template flag, None when not given: nothing to refuse
    DistillOptions(["t.onnx"], "lenet", student_prototxt="s.prototxt",
                   student_opts={"width": None, "bn": None}).resolved()


def test_distill_refuses_a_misspelt_option_before_the_teacher_runs(tmp_path, client, mnist):
    """From Python, the misspelt key is reported in the user's words before any data is
    converted or the teacher labels anything (it used to come after the teacher's pass over
    the data, as `<config>: nets.distill_ts.student: unknown key(s)`)."""
    from solver.distill import distill

    start = time.perf_counter()
    with pytest.raises(CaffeError) as e:
        distill([client], "vgg16", mnist, str(tmp_path / "out"), labels=False,
                student_opts={"bn_fractoin": 0.9})
    assert "student_opts['bn_fractoin']" in str(e.value)
    assert "<config>" not in str(e.value)
    assert not (tmp_path / "out").exists()   # nothing written: no data, no teacher cache
    assert time.perf_counter() - start < 10


def test_cli_refuses_bn_for_alexnet_which_has_no_batchnorm(tmp_path, client, mnist):
    """--bn used to be accepted for alexnet and rendered nothing (its template has no
    BatchNorm)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "solver", "distill", "--teacher", client,
                           "--student", "alexnet", "--bn", "--data", mnist,
                           "-o", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "--bn/--no-bn: the alexnet student has no option 'bn'; its options: dropout, " \
           "stem, width" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
