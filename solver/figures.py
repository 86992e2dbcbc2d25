"""The figures of a set of training logs, drawn from :func:`solver.plot.log_series`.

One drawing code for ``tscaffe plot``, ``tscaffe reproduce`` (``agreement.png``,
``students.png``) and the README's figure (``bench/readme_results.py``):

- :func:`agreement_figure`: top-1 agreement with the teacher against iterations, one line
  per student; with two λ or more, a second panel with each run's last agreement against λ,
  one line per loss (the λ = 0 run, taught by the labels alone, starts both lines);
- :func:`students_figure`: one panel per quantity (agreement, accuracy with the teacher's
  accuracy as a dotted reference line, loss, teacher-student loss with the 2017 and KD runs
  on separate axes);
- :func:`normalized_figure`: the 2017 write-up's view, one panel per log, each loss divided
  by its maximum (said on the axis).

Each function returns the matplotlib Figure (never shown): :func:`save_figure` writes it.
Runs are styled by :func:`solver.plot_style.run_styles` once per figure, so a run has the
same colour, line style and marker in every panel. Every run's line carries its label
(``Line2D.get_label()``); the teacher's reference line is labelled ``teacher``.
"""
import math
import os

from .plot_style import (LOSS_LINESTYLE, LOSS_NAMES, NO_LABEL_MARKER, TEACHER_COLOR,
                         lambda_colors, legend_handles, run_styles)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    return plt


def _draw(ax, s, style, quantity):
    curve = s.curves[quantity]
    ax.plot(curve.iterations, curve.values, label=s.label, linewidth=1.4, **style)


def _teacher_line(ax, accuracy):
    ax.axhline(accuracy, color=TEACHER_COLOR, linestyle=":", linewidth=1.2, label="teacher")
    ax.annotate(f"teacher {accuracy:.4f}", xy=(1.0, accuracy), xycoords=("axes fraction", "data"),
                xytext=(-4, 3), textcoords="offset points", ha="right", va="bottom",
                fontsize="small")


def _panels(series, quantities, phase):
    """(quantity, title, [index of each series drawn]) per panel; the teacher-student loss
    gets one panel per loss when the runs mix losses."""
    from .plot import TITLES, TS_TITLES

    panels = []
    for q in quantities:
        members = [i for i, s in enumerate(series) if q in s.curves]
        if not members:
            continue
        if q == "ts_loss":
            kinds = {series[i].info.loss for i in members}
            for kind in ("2017", "kd", None):
                group = [i for i in members if series[i].info.loss == kind]
                if group:
                    title = TS_TITLES[kind if len(kinds) > 1 or kind else None]
                    panels.append((q, f"{phase} {title}", group))
            continue
        panels.append((q, f"{phase} {TITLES.get(q, q)}", members))
    return panels


def _grid(plt, count, width=6.0, height=3.0):
    ncols = 1 if count <= 3 else 2
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + 0.6),
                             squeeze=False, sharex=True, layout="constrained")
    flat = list(axes.ravel())
    for ax in flat[count:]:
        ax.axis("off")
    # An axis above an empty cell is the last of its column: it shows its own iterations.
    for ax in flat[max(count - ncols, 0):count]:
        ax.xaxis.set_tick_params(labelbottom=True)
        ax.set_xlabel("iterations")
    return fig, flat[:count], flat[count:]


def _legend(fig, spare, infos, styles):
    handles = legend_handles(infos, styles)
    if spare:
        spare[0].legend(handles=handles, loc="center", fontsize="small", frameon=False)
    else:
        fig.legend(handles=handles, loc="outside right upper", fontsize="small")


def students_figure(series, teacher_accuracy=None, y=None, phase="test", title=None):
    """One panel per quantity (or per ``y`` column), one line per series."""
    from .plot import QUANTITIES

    plt = _pyplot()
    present = {q for s in series for q in s.curves}
    quantities = list(y) if y else [q for q in QUANTITIES if q in present]
    panels = _panels(series, quantities, phase) if not y else [
        (q, f"{phase} {q}", [i for i, s in enumerate(series) if q in s.curves])
        for q in quantities]
    infos = [s.info for s in series]
    styles = run_styles(infos)
    fig, axes, spare = _grid(plt, len(panels))
    for ax, (quantity, panel_title, members) in zip(axes, panels):
        for i in members:
            _draw(ax, series[i], styles[i], quantity)
        if quantity == "accuracy" and teacher_accuracy is not None:
            _teacher_line(ax, teacher_accuracy)
        ax.set_title(panel_title, fontsize="medium")
        ax.grid(True, alpha=0.3)
    _legend(fig, spare, infos, styles)
    if title:
        fig.suptitle(title)
    return fig


def normalized_figure(series, phase="test", y=None, title=None):
    """The 2017 view: one panel per log, accuracy as it is, each loss / its maximum."""
    from .plot import QUANTITIES, QUANTITY_COLORS, TITLES

    plt = _pyplot()
    fig, axes, spare = _grid(plt, len(series))
    for ax, s in zip(axes, series):
        order = list(y) if y else [q for q in QUANTITIES if q in s.curves]
        for n, quantity in enumerate(q for q in order if q in s.curves):
            curve = s.curves[quantity]
            name = quantity if y else TITLES.get(quantity, quantity)
            label = f"{name} / {curve.scale:.4g}" if curve.scale != 1.0 else name
            color = QUANTITY_COLORS.get(quantity, f"C{n}")
            ax.plot(curve.iterations, curve.values, label=label, linewidth=1.2, color=color)
        ax.set_title(f"{s.label} ({phase})", fontsize="medium")
        ax.set_ylabel("fraction of maximum (losses)")
        if not y:
            ax.set_ylim(0, 1.05)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def final_agreement_by_lambda(series):
    """{loss: [(λ, last agreement, labels used, label)]} sorted by λ; the λ = 0 runs (no
    teacher term, so no loss of their own) belong to every loss."""
    runs = [s for s in series if s.info.known and "agreement" in s.curves
            and len(s.curves["agreement"].values)]
    losses = [loss for loss in LOSS_LINESTYLE if any(s.info.loss == loss for s in runs)]
    table = {}
    for loss in losses:
        rows = [(float(s.info.soft_weight), float(s.curves["agreement"].values[-1]),
                 s.info.labels, s.label)
                for s in runs if s.info.loss == loss or s.info.soft_weight == 0]
        table[loss] = sorted(rows, key=lambda r: (r[0], not r[2]))
    return table


def agreement_summary(by_lambda):
    """One line: each loss's range of last agreements over its taught runs (λ > 0), its
    no-label run's, and the labels-only run's (λ = 0)."""
    parts = []
    for loss, rows in by_lambda.items():
        taught = [r for r in rows if r[0] > 0]
        if not taught:
            continue
        values = [r[1] for r in taught]
        text = (f"{LOSS_NAMES[loss].split(' (')[0]} {min(values):.3f}" if len(values) == 1 else
                f"{LOSS_NAMES[loss].split(' (')[0]} {min(values):.3f}–{max(values):.3f}")
        nolabels = [r[1] for r in taught if not r[2]]
        if nolabels:
            text += f" (no labels {nolabels[0]:.3f})"
        parts.append(text)
    base = {r[1] for rows in by_lambda.values() for r in rows if r[0] == 0}
    if len(base) == 1:
        parts.append(f"labels only (λ = 0) {base.pop():.3f}")
    return "last top-1 agreement: " + "; ".join(parts) if parts else ""


def agreement_figure(series, title=None):
    """Top-1 agreement against iterations; with two λ or more, the last agreement against λ.
    The figure's title, unless ``title`` is given, sums the last agreements up per loss."""
    plt = _pyplot()
    infos = [s.info for s in series]
    styles = run_styles(infos)
    by_lambda = final_agreement_by_lambda(series)
    lambdas = {r[0] for rows in by_lambda.values() for r in rows}
    second = len(lambdas) >= 2
    fig, axes = plt.subplots(1, 2 if second else 1, figsize=(12.5 if second else 7.5, 4.6),
                             squeeze=False, layout="constrained",
                             gridspec_kw={"width_ratios": [3, 2]} if second else None)
    ax = axes[0, 0]
    for i, s in enumerate(series):
        if "agreement" in s.curves:
            _draw(ax, s, styles[i], "agreement")
    ax.set_title("top-1 agreement with the teacher (test set) during training",
                 fontsize="medium")
    ax.set_xlabel("iterations")
    ax.set_ylabel("top-1 agreement")
    ax.grid(True, alpha=0.3)
    ax.legend(handles=legend_handles(infos, styles), fontsize="small", loc="lower right")
    if second:
        ax = axes[0, 1]
        colors = lambda_colors(lambdas)
        notes = []
        for loss, rows in by_lambda.items():
            xs = [r[0] for r in rows]
            ys = [r[1] for r in rows]
            ax.plot(xs, ys, color="black", linestyle=LOSS_LINESTYLE[loss], linewidth=1.2,
                    label=LOSS_NAMES[loss])
            for lam, agree, labels, label in rows:
                ax.plot([lam], [agree], linestyle="None", color=colors[lam],
                        marker="o" if labels else NO_LABEL_MARKER,
                        markersize=7 if labels else 14, markeredgecolor="black",
                        markeredgewidth=0.6, label=f"_{label}")
                if not labels:
                    notes.append(ax.annotate("no labels", xy=(lam, agree), xytext=(-8, 0),
                                             textcoords="offset points", ha="right",
                                             fontsize="small"))
        ax.set_title("top-1 agreement at the end, by λ", fontsize="medium")
        ax.set_xlabel("λ (weight of the teacher loss; 1 − λ on the labels)")
        ax.set_ylabel("top-1 agreement")
        ax.set_xticks(sorted(lambdas))
        # Each "no labels" note beside its star, off the line it ends: below the star in the
        # upper half of the panel, above it in the lower half.
        low, high = ax.get_ylim()
        for note in notes:
            upper = note.xy[1] > (low + high) / 2
            note.set_position((-8, -8 if upper else 8))
            note.set_va("top" if upper else "bottom")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="lower left")
    title = title or agreement_summary(by_lambda)
    if title:
        fig.suptitle(title)
    return fig


def save_figure(fig, out, dpi=100):
    """Write ``fig`` to ``out`` (PNG, SVG, PDF: by extension) through a temporary file, so a
    failed write leaves no half image; the figure is closed either way."""
    from .plot import PlotError

    plt = _pyplot()
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        plt.close(fig)
        raise PlotError(f"output folder does not exist: {folder}")
    ext = os.path.splitext(out)[1] or ".png"
    tmp = os.path.join(folder, f".{os.path.basename(out)}.tmp{ext}")
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, out)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
