"""Curves of training logs: test accuracy, loss and teacher-student loss against iterations.

The 2017 graphs, redrawn from any Caffe-style log (Caffe's own, the 2017 outputs, ours):

- the default figure has one subplot per quantity and one line per log;
- the "normalized" view (``normalize=True``) is the one the 2017 write-up used to fit the
  three metrics on one graph: one subplot per log, with the accuracy as it is and each loss
  divided by the largest value it reaches in that log.

The numbers come from :func:`solver.parse_log.parse_log` (Caffe's parse_log.py rules), never
from a second parser: :func:`log_series` returns exactly what is drawn, so it can be checked.

Which output is which quantity (``choose_columns``), from the net's output names:

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

QUANTITIES = ("accuracy", "loss", "ts_loss")
TITLES = {"accuracy": "accuracy", "loss": "loss", "ts_loss": "teacher-student loss"}
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


def _is_ts_loss(name):
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    return "loss" in name.lower() and bool(words & _TS_WORDS)


def choose_columns(columns):
    """Map ``accuracy`` / ``loss`` / ``ts_loss`` to output columns (absent ones left out)."""
    outputs = [c for c in columns if c not in _FIXED_COLUMNS]
    chosen = {}
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


def log_series(paths, labels=None, y=None, normalize=False, train=False):
    """The curves :func:`plot_logs` draws: a list of :class:`LogSeries`, one per log.

    Each curve's ``iterations`` / ``values`` are the log's table columns (``NumIters`` and the
    output), rows without that output skipped; with ``normalize`` each loss is divided by its
    maximum over the log (``Curve.scale``).
    """
    if not paths:
        raise PlotError("no log files given")
    if labels and len(labels) != len(paths):
        raise PlotError(f"{len(labels)} --label value(s) for {len(paths)} log(s): give one per log")
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
        series = LogSeries(path, labels[i] if labels else os.path.basename(path))
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


def _quantity_order(series, y):
    if y:
        return list(y)
    present = {q for s in series for q in s.curves}
    return [q for q in QUANTITIES if q in present]


def plot_logs(paths, out, labels=None, y=None, normalize=False, train=False, title=None):
    """Draw the logs' curves into ``out`` (PNG, SVG, PDF: by extension); return the series."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    series = log_series(paths, labels, y, normalize, train)
    quantities = _quantity_order(series, y)
    phase = "train" if train else "test"
    if normalize:
        panels = [(f"{s.label} ({phase})", [(q, s) for q in quantities if q in s.curves])
                  for s in series]
    else:
        panels = [(f"{phase} {TITLES.get(q, q)}", [(q, s) for s in series if q in s.curves])
                  for q in quantities]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3.2 * len(panels)), squeeze=False,
                             sharex=True)
    for ax, (panel_title, lines) in zip(axes[:, 0], panels):
        for quantity, s in lines:
            curve = s.curves[quantity]
            if normalize:
                name = TITLES.get(quantity, quantity) if not y else quantity
                label = f"{name} / {curve.scale:.4g}" if curve.scale != 1.0 else name
            else:
                label = s.label
            ax.plot(curve.iterations, curve.values, label=label, linewidth=1.2)
        ax.set_title(panel_title)
        ax.set_ylabel("fraction of maximum" if normalize else panel_title)
        if normalize and not y:
            ax.set_ylim(0, 1.05)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    axes[-1, 0].set_xlabel("iterations")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        plt.close(fig)
        raise PlotError(f"output folder does not exist: {folder}")
    ext = os.path.splitext(out)[1] or ".png"
    tmp = os.path.join(folder, f".{os.path.basename(out)}.tmp{ext}")
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return series
