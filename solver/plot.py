"""Curves of training logs: top-1 agreement, test accuracy, loss and teacher-student loss
against iterations.

The 2017 graphs, redrawn from any Caffe-style log (Caffe's own, the 2017 outputs, ours):

- the default figure (:func:`students_figure`) has one subplot per quantity and one line per
  log, each run drawn in the style :mod:`solver.plot_style` gives it (colour per λ, line
  style per loss, a star on the no-label runs: the same in every panel); the teacher's
  accuracy, when given, is a dotted reference line in the accuracy panel; the
  teacher-student losses of the 2017 runs and of the KD runs are on separate axes (the 2017
  loss sits near 7, KD's falls towards 0);
- the "normalized" view (``normalize=True``) is the one the 2017 write-up used to fit the
  three metrics on one graph: one subplot per log, with the accuracy as it is and each loss
  divided by the largest value it reaches in that log.

The numbers come from :func:`solver.parse_log.parse_log` (Caffe's parse_log.py rules), never
from a second parser: :func:`log_series` returns exactly what is drawn, so it can be checked.

Which output is which quantity (``choose_columns``), from the net's output names:

- agreement: a column named ``agreement_top1``, else the first whose name starts with
  ``agreement`` (the Fidelity layer's outputs);
- accuracy: a column named ``accuracy``, else the first whose name contains ``acc``;
- teacher-student loss: the first column with ``loss`` in its name and a word that marks
  distillation (``ts``, ``kd``, ``distill``, ``teacher``, ``soft``), e.g. ``ts_loss``,
  ``kd_loss``;
- loss: a column named ``loss``, else the first other column with ``loss`` in its name.

``y`` (``--y NAME``) replaces that choice with explicit column names, one subplot each.
"""
import os
import re
from dataclasses import dataclass, field

import numpy as np

from caffe_compat.errors import CaffeError

from .plot_style import RunInfo, legend_handles, read_run_info, run_styles

QUANTITIES = ("agreement", "accuracy", "loss", "ts_loss")
TITLES = {"agreement": "top-1 agreement with the teacher", "accuracy": "accuracy",
          "loss": "loss", "ts_loss": "teacher-student loss"}
TS_TITLES = {"2017": "teacher-student loss, 2017 runs (sigmoid CE of probabilities)",
             "kd": "teacher-student loss, KD runs (T²·KL)",
             None: "teacher-student loss"}
# The normalized view: one colour per quantity, the same in every subplot.
QUANTITY_COLORS = {"agreement": "#9467bd", "accuracy": "#1f77b4", "loss": "#ff7f0e",
                   "ts_loss": "#2ca02c"}
_TS_WORDS = {"ts", "kd", "distill", "distillation", "teacher", "soft"}
_FIXED_COLUMNS = ("NumIters", "Seconds", "LearningRate")


class PlotError(CaffeError):
    """A log cannot be plotted (missing file, no outputs, unknown column)."""


@dataclass
class Curve:
    column: str          # the log's output name
    iterations: np.ndarray
    values: np.ndarray   # as plotted (divided by the maximum in the normalized view)
    scale: float = 1.0   # what the log's values were divided by


@dataclass
class LogSeries:
    path: str
    label: str
    curves: dict = field(default_factory=dict)  # quantity (or column) -> Curve
    info: RunInfo = None  # λ, loss and labels where known (solver.plot_style)


def _is_ts_loss(name):
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    return "loss" in name.lower() and bool(words & _TS_WORDS)


def choose_columns(columns):
    """Map ``accuracy`` / ``loss`` / ``ts_loss`` to output columns (absent ones left out)."""
    outputs = [c for c in columns if c not in _FIXED_COLUMNS]
    chosen = {}
    if "agreement_top1" in outputs:
        chosen["agreement"] = "agreement_top1"
    else:
        agree = [c for c in outputs if c.lower().startswith("agreement")]
        if agree:
            chosen["agreement"] = agree[0]
    if "accuracy" in outputs:
        chosen["accuracy"] = "accuracy"
    else:
        acc = [c for c in outputs if "acc" in c.lower()]
        if acc:
            chosen["accuracy"] = acc[0]
    ts = [c for c in outputs if _is_ts_loss(c)]
    if ts:
        chosen["ts_loss"] = ts[0]
    if "loss" in outputs:
        chosen["loss"] = "loss"
    else:
        plain = [c for c in outputs if "loss" in c.lower() and c not in ts]
        if plain:
            chosen["loss"] = plain[0]
    return chosen


def _is_loss_column(quantity, column):
    return quantity in ("loss", "ts_loss") or "loss" in column.lower()


def read_table(path, train=False):
    """parse_log's test table (or train table) of ``path``, with clear errors."""
    from solver.parse_log import parse_log

    if not os.path.isfile(path):
        raise PlotError(f"no such log file: {path}")
    train_rows, test_rows = parse_log(path)
    rows = train_rows if train else test_rows
    if not rows:
        which, other = ("Train", "Test") if train else ("Test", "Train")
        hint = (f" (it has {len(test_rows if train else train_rows)} {other.lower()} rows: "
                f"try {'without ' if train else ''}--train)"
                if (test_rows if train else train_rows) else "")
        raise PlotError(f"{path}: no complete '{which} net output' rows after an 'Iteration N' "
                        f"line: nothing to plot{hint}. A log needs at least two {which.lower()} "
                        "passes (Caffe's parse_log drops the last, possibly unfinished one)")
    return rows


def log_series(paths, labels=None, y=None, normalize=False, train=False, infos=None):
    """The curves :func:`plot_logs` draws: a list of :class:`LogSeries`, one per log.

    Each curve's ``iterations`` / ``values`` are the log's table columns (``NumIters`` and the
    output), rows without that output skipped; with ``normalize`` each loss is divided by its
    maximum over the log (``Curve.scale``). ``infos``: each log's :class:`RunInfo` (λ, loss,
    labels), in order; by default what distill wrote next to the log (``NAME_report.json``).
    """
    if not paths:
        raise PlotError("no log files given")
    if labels and len(labels) != len(paths):
        raise PlotError(f"{len(labels)} --label value(s) for {len(paths)} log(s): give one per log")
    if infos is not None and len(infos) != len(paths):
        raise PlotError(f"{len(infos)} run descriptions for {len(paths)} log(s)")
    result = []
    for i, path in enumerate(paths):
        rows = read_table(path, train)
        columns = list(rows[0].keys())
        for row in rows[1:]:
            columns += [c for c in row if c not in columns]
        if y:
            missing = [name for name in y if name not in columns]
            if missing:
                raise PlotError(f"{path}: no output named {missing}; its outputs are "
                                f"{[c for c in columns if c not in _FIXED_COLUMNS]}")
            chosen = {name: name for name in y}
        else:
            chosen = choose_columns(columns)
            if not chosen:
                raise PlotError(f"{path}: no accuracy or loss among its outputs "
                                f"{[c for c in columns if c not in _FIXED_COLUMNS]}; "
                                "pick columns with --y NAME")
        label = labels[i] if labels else os.path.basename(path)
        if infos is not None:
            info = RunInfo(label, infos[i].loss, infos[i].soft_weight, infos[i].labels)
        else:
            info = read_run_info(path, label)
        series = LogSeries(path, label, info=info)
        for quantity, column in chosen.items():
            kept = [r for r in rows if column in r]
            iters = np.array([r["NumIters"] for r in kept], dtype=np.float64)
            values = np.array([r[column] for r in kept], dtype=np.float64)
            scale = 1.0
            if normalize and _is_loss_column(quantity, column):
                peak = np.nanmax(np.abs(values)) if values.size else 0.0
                if peak > 0:
                    scale = float(peak)
                    values = values / scale
            series.curves[quantity] = Curve(column, iters, values, scale)
        result.append(series)
    return result


def plot_logs(paths, out, labels=None, y=None, normalize=False, train=False, title=None,
              teacher_accuracy=None, infos=None, dpi=100):
    """Draw the logs' curves into ``out`` (PNG, SVG, PDF: by extension); return the series.

    The default view is :func:`solver.figures.students_figure` (``teacher_accuracy``: the
    reference line of the accuracy panel), ``normalize`` the 2017 one-panel-per-log view."""
    from .figures import normalized_figure, save_figure, students_figure

    series = log_series(paths, labels, y, normalize, train, infos)
    phase = "train" if train else "test"
    if normalize:
        fig = normalized_figure(series, phase, y, title)
    else:
        fig = students_figure(series, teacher_accuracy, y, phase, title)
    save_figure(fig, out, dpi)
    return series


def plot_agreement(paths, out, labels=None, infos=None, title=None, dpi=100):
    """:func:`solver.figures.agreement_figure` of the logs into ``out``; return the series."""
    from .figures import agreement_figure, save_figure

    series = log_series(paths, labels, infos=infos)
    missing = [s.path for s in series if "agreement" not in s.curves]
    if len(missing) == len(series):
        raise PlotError(f"no log has an agreement output (agreement_top1, the Fidelity "
                        f"layer's): {', '.join(missing)}")
    save_figure(agreement_figure(series, title), out, dpi)
    return series
