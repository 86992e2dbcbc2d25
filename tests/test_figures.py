"""The figures of a set of student logs, read from the matplotlib objects (not pixels): one
colour per λ, one line style per loss (2017 solid, KD dashed), a star on the runs without
labels, the same style for a run in every panel and every figure; the teacher's accuracy
as a reference line; the 2017 and KD teacher-student losses on separate axes; the points
drawn are the numbers written into the logs."""
import json

import numpy as np
import pytest
from matplotlib.colors import to_hex

from solver.cli import main as cli_main
from solver.figures import agreement_figure, students_figure
from solver.plot import log_series

# name, loss, λ, labels used, then per test pass (iterations 100, 200, 300):
# top-1 agreement, accuracy, label loss, teacher-student loss.
RUNS = [
    ("student_2017_l0", "2017", 0.0, True,
     [0.90, 0.94, 0.960], [0.88, 0.92, 0.950], [0.50, 0.30, 0.20], [7.31, 6.70, 6.60]),
    ("student_2017_l0.5", "2017", 0.5, True,
     [0.89, 0.93, 0.955], [0.87, 0.91, 0.945], [0.60, 0.35, 0.25], [7.32, 6.71, 6.61]),
    ("student_2017_l1_nolabels", "2017", 1.0, False,
     [0.80, 0.90, 0.930], [0.79, 0.88, 0.920], None, [7.33, 6.72, 6.62]),
    ("student_kd_l0.5", "kd", 0.5, True,
     [0.95, 0.98, 0.991], [0.93, 0.95, 0.970], [0.40, 0.25, 0.15], [40.0, 0.50, 0.05]),
    ("student_kd_l1_nolabels", "kd", 1.0, False,
     [0.94, 0.98, 0.990], [0.92, 0.95, 0.968], None, [41.0, 0.60, 0.07]),
]
ITERS = [100, 200, 300]
TEACHER_ACCURACY = 0.975


def write_log(path, agreement, accuracy, loss, ts_loss):
    """A Caffe-format log with three test passes, written line by line here."""
    stamp = "I1206 10:00:0{s}.000000 12345 "
    lines = [stamp.format(s=0) + "solver.cpp:289] Solving ts"]
    for n, it in enumerate(ITERS):
        lines.append(stamp.format(s=n + 1) + f"solver.cpp:239] Iteration {it - 1} "
                     "(10 iter/s, 0.1s/1 iters), loss = 1.5")
        lines.append(stamp.format(s=n + 1) + "solver.cpp:258]     Train net output #0: "
                     "ts_loss = 3.0 (* 1 = 3.0 loss)")
        lines.append(stamp.format(s=n + 1) + f"sgd_solver.cpp:112] Iteration {it - 1}, lr = 0.01")
        lines.append(stamp.format(s=n + 1) + f"solver.cpp:347] Iteration {it}, Testing net (#0)")
        outputs = [("accuracy", accuracy[n]), ("agreement_top1", agreement[n]),
                   ("agreement_top5", 1.0), ("kl", 0.1)]
        if loss is not None:
            outputs.append(("loss", loss[n]))
        outputs.append(("ts_loss", ts_loss[n]))
        for k, (name, value) in enumerate(outputs):
            lines.append(stamp.format(s=n + 1) + f"solver.cpp:414]     Test net output #{k}: "
                         f"{name} = {value}")
    lines.append(stamp.format(s=5) + "caffe.cpp:250] Optimization Done.")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student_logs")
    paths = []
    for name, loss, lam, labels, agreement, accuracy, label_loss, ts in RUNS:
        path = folder / f"{name}.log"
        write_log(path, agreement, accuracy, label_loss, ts)
        # What distill writes next to its log: the run's loss, λ and labels.
        (folder / f"{name}_report.json").write_text(json.dumps(
            {"loss": loss, "soft_weight": lam, "labels_used": labels}))
        paths.append(str(path))
    return paths


def run_lines(fig):
    """{run name: [(axes title, Line2D)]} over every panel of ``fig``."""
    names = {r[0] for r in RUNS}
    found = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_label() in names:
                found.setdefault(line.get_label(), []).append((ax.get_title(), line))
    return found


def style(line):
    return to_hex(line.get_color()), line.get_linestyle(), line.get_marker()


def expected_styles():
    """What the runs must look like, from RUNS alone."""
    return {name: (loss, lam, labels) for name, loss, lam, labels, *_ in RUNS}


def check_styles(found):
    want = expected_styles()
    assert set(found) == set(want)
    color_of_lambda = {}
    for name, lines in found.items():
        styles = {style(line) for _, line in lines}
        assert len(styles) == 1, f"{name} drawn in {styles}"
        color, linestyle, marker = styles.pop()
        loss, lam, labels = want[name]
        assert linestyle == {"2017": "-", "kd": "--"}[loss], name
        assert marker == ("o" if labels else "*"), name
        color_of_lambda.setdefault(lam, set()).add(color)
    # One colour per λ, a different one for each λ.
    assert all(len(c) == 1 for c in color_of_lambda.values()), color_of_lambda
    assert len({next(iter(c)) for c in color_of_lambda.values()}) == len(color_of_lambda)
    return {name: style(lines[0][1]) for name, lines in found.items()}


def test_students_figure_styles_reference_and_loss_axes(logs):
    labels = [r[0] for r in RUNS]
    fig = students_figure(log_series(logs, labels), teacher_accuracy=TEACHER_ACCURACY)
    found = run_lines(fig)
    check_styles(found)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["test top-1 agreement with the teacher", "test accuracy", "test loss",
                      "test teacher-student loss, 2017 runs (sigmoid CE of probabilities)",
                      "test teacher-student loss, KD runs (T²·KL)"]
    by_title = {ax.get_title(): ax for ax in fig.axes}
    # Every run in the agreement and accuracy panels, with the numbers of its log.
    for name, loss, lam, labels, agreement, accuracy, label_loss, ts in RUNS:
        panels = {t: line for t, line in found[name]}
        np.testing.assert_array_equal(panels[titles[0]].get_xdata(), ITERS)
        np.testing.assert_array_equal(panels[titles[0]].get_ydata(), agreement)
        np.testing.assert_array_equal(panels[titles[1]].get_ydata(), accuracy)
        assert (titles[2] in panels) == (label_loss is not None)
        # The teacher-student loss on its loss's own axis, and only there.
        ts_title = titles[3] if loss == "2017" else titles[4]
        assert {t for t in panels if "teacher-student" in t} == {ts_title}
        np.testing.assert_array_equal(panels[ts_title].get_ydata(), ts)
    # The teacher's accuracy: a dotted line in the accuracy panel only.
    teacher = [(ax.get_title(), line) for ax in fig.axes for line in ax.get_lines()
               if line.get_label() == "teacher"]
    assert [t for t, _ in teacher] == ["test accuracy"]
    line = teacher[0][1]
    assert np.all(np.asarray(line.get_ydata()) == TEACHER_ACCURACY)
    assert line.get_linestyle() == ":"
    # The two losses' scales stay apart: 2017's axis does not reach down to KD's values.
    assert by_title[titles[3]].get_ylim()[0] > 6
    assert by_title[titles[4]].get_ylim()[1] < 45
    # One legend for the figure: the λ colours, the two losses, the no-label marker.
    texts = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]
    assert texts[:3] == ["λ = 0 (labels only)", "λ = 0.5", "λ = 1 (teacher only)"]
    assert any(t.startswith("2017 loss") for t in texts) and "Hinton KD" in texts
    assert "no labels" in texts


def test_agreement_figure_same_styles_and_last_agreement_by_lambda(logs):
    labels = [r[0] for r in RUNS]
    series = log_series(logs, labels)
    fig = agreement_figure(series)
    left, right = fig.axes[:2]
    styles = check_styles({name: [(left.get_title(), line)] for name, lines in
                           run_lines(fig).items() for t, line in lines if t == left.get_title()})
    # The same run looks the same as in the panels figure.
    panels = check_styles(run_lines(students_figure(series)))
    assert styles == panels
    # The right panel: one black line per loss through each run's last agreement by λ; the
    # λ = 0 run (no teacher term) starts both.
    loss_lines = {line.get_linestyle(): line for line in right.get_lines()
                  if not line.get_label().startswith("_")}
    assert set(loss_lines) == {"-", "--"}
    last = {(loss, lam): a[-1] for _, loss, lam, _, a, *_ in RUNS}
    np.testing.assert_array_equal(loss_lines["-"].get_xdata(), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(loss_lines["-"].get_ydata(),
                                  [last["2017", 0.0], last["2017", 0.5], last["2017", 1.0]])
    np.testing.assert_array_equal(loss_lines["--"].get_xdata(), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(loss_lines["--"].get_ydata(),
                                  [last["2017", 0.0], last["kd", 0.5], last["kd", 1.0]])
    # The title sums it up: each loss's range over its taught runs, the no-label run, λ = 0.
    assert fig._suptitle.get_text() == (
        "last top-1 agreement: 2017 loss 0.930–0.955 (no labels 0.930); "
        "Hinton KD 0.990–0.991 (no labels 0.990); labels only (λ = 0) 0.960")
    # The no-label points are stars, in their λ's colour.
    stars = [line for line in right.get_lines() if line.get_marker() == "*"]
    assert sorted(float(line.get_xdata()[0]) for line in stars) == [1.0, 1.0]
    assert {to_hex(line.get_color()) for line in stars} == {styles["student_kd_l1_nolabels"][0]}


def test_runs_without_a_report_and_look_alike_runs_stay_apart(logs, tmp_path):
    # Logs with no NAME_report.json: each run its own colour, solid, no marker.
    bare = []
    for path in logs[:3]:
        target = tmp_path / ("copy_" + path.rsplit("/", 1)[1])
        target.write_text(open(path).read())
        bare.append(str(target))
    fig = students_figure(log_series(bare))
    lines = [line for line in fig.axes[0].get_lines()]
    assert len({to_hex(line.get_color()) for line in lines}) == 3
    assert {line.get_linestyle() for line in lines} == {"-"}
    # Two runs with the same λ, loss and labels (say two architectures): told apart by marker.
    from solver.plot_style import RunInfo, run_styles

    a, b, c = run_styles([RunInfo("a", "kd", 0.5, True), RunInfo("b", "kd", 0.5, True),
                          RunInfo("c", "2017", 0.5, True)])
    assert a["color"] == b["color"] == c["color"]
    assert a["marker"] != b["marker"] and (a["color"], a["linestyle"]) == (b["color"], b["linestyle"])


def test_plot_command_reads_the_runs_reports(logs, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "agreement.png"
    assert cli_main(["plot", "--agreement", *logs, "-o", str(out)]) == 0
    with Image.open(out) as im:
        assert im.format == "PNG"
    out = tmp_path / "students.png"
    assert cli_main(["plot", *logs, "--teacher-accuracy", "0.975", "-o", str(out)]) == 0
    assert out.exists()
    assert cli_main(["plot", "--agreement", "--normalize", *logs, "-o", str(out)]) == 1
    assert "drop --normalize" in capsys.readouterr().err


def test_reproduce_lambdas_keep_their_colour_in_every_figure():
    from solver.plot_style import lambda_colors

    full = lambda_colors([0, 0.25, 0.5, 0.75, 1])
    assert len(set(full.values())) == 5
    assert lambda_colors([1.0]) == {1.0: full[1.0]}           # reproduce vgg16's two runs
    assert lambda_colors([0, 0.5, 1]) == {k: full[k] for k in (0, 0.5, 1)}
    other = lambda_colors([0.1, 0.2, 0.3])
    assert len(set(other.values())) == 3
