"""How a run looks in every figure: one colour per λ, one line style per loss, a marker for
the runs taught without labels.

Every figure of a set of runs (``tscaffe plot``, ``reproduce``'s ``agreement.png`` and
``students.png``, the README's figure) draws the i-th run with ``styles[i]`` from
:func:`run_styles`, computed once from all the runs, so a colour means the same run in every
panel:

- **colour**: the run's λ (the weight of the teacher loss; 1 - λ goes to the labels), the
  same colour for the same λ whatever the loss. λ = 0 (labels only, no teacher) is grey;
  reproduce's λ 0.25, 0.5, 0.75 and 1 are blue, green, orange and red in every figure (so
  the no-label λ = 1 runs are red in ``reproduce mnist`` and ``reproduce vgg16`` alike);
  other sets of λ take, in increasing order, blue, green, orange, red, purple, brown (past
  six, evenly spaced colours of the viridis map);
- **line style**: the loss: the 2017 loss (Softmax -> SigmoidCrossEntropyLoss) solid,
  Hinton's KD dashed;
- **marker**: a star at every test pass of a run trained with no labels, a small dot for
  the others. Two runs that would look the same (the same λ, loss and labels, e.g. two
  architectures) keep their colour and line style, and the later one gets a square, a
  triangle, a diamond ... instead of the dot or star, so no two runs share a style.

A run whose λ or loss is not known (any Caffe log without a ``NAME_report.json`` next to it,
see :func:`read_run_info`) gets its own colour from matplotlib's ``tab10`` cycle, by its
position, a solid line and no marker.
"""
import json
import os
from dataclasses import dataclass

LOSS_LINESTYLE = {"2017": "-", "kd": "--"}
LOSS_NAMES = {"2017": "2017 loss (sigmoid CE of probabilities)", "kd": "Hinton KD"}
NO_LABEL_MARKER = "*"
LABEL_MARKER = "o"
BASELINE_COLOR = "#7f7f7f"           # λ = 0: the labels only
LAMBDA_COLORS = ("#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd", "#8c564b")
STANDARD_LAMBDAS = (0.25, 0.5, 0.75, 1.0)  # reproduce's sweep: LAMBDA_COLORS[:4] by value
TEACHER_COLOR = "black"
EXTRA_MARKERS = ("s", "^", "D", "v", "P", "X", "h", "<", ">", "p")


@dataclass
class RunInfo:
    label: str
    loss: str = None           # "2017", "kd", or None when not known
    soft_weight: float = None  # λ
    labels: bool = None        # whether the run used the labels

    @property
    def known(self):
        return self.loss in LOSS_LINESTYLE and self.soft_weight is not None \
            and self.labels is not None


def run_info(label, report):
    """A :class:`RunInfo` from a distill report (``NAME_report.json`` or reproduce's
    ``report.json`` student entries: ``loss``, ``soft_weight``, ``labels_used``)."""
    loss = report.get("loss")
    return RunInfo(label, loss if loss in LOSS_LINESTYLE else None,
                   None if report.get("soft_weight") is None else float(report["soft_weight"]),
                   None if report.get("labels_used") is None else bool(report["labels_used"]))


def read_run_info(log_path, label):
    """What distill wrote next to ``log_path`` (``NAME.log`` -> ``NAME_report.json``), or a
    :class:`RunInfo` knowing only the label."""
    stem = os.path.splitext(log_path)[0]
    path = stem + "_report.json"
    if os.path.isfile(path):
        try:
            with open(path) as f:
                return run_info(label, json.load(f))
        except (OSError, ValueError):
            pass
    return RunInfo(label)


def lambda_colors(lambdas):
    """{λ: colour} for the distinct λ values given."""
    import matplotlib

    values = sorted({float(v) for v in lambdas})
    others = [v for v in values if v != 0.0]
    if set(others) <= set(STANDARD_LAMBDAS):
        palette = [LAMBDA_COLORS[STANDARD_LAMBDAS.index(v)] for v in others]
    elif len(others) <= len(LAMBDA_COLORS):
        palette = list(LAMBDA_COLORS[:len(others)])
    else:
        cmap = matplotlib.colormaps["viridis"]
        palette = [matplotlib.colors.to_hex(cmap(0.9 * i / (len(others) - 1)))
                   for i in range(len(others))]
    colors = dict(zip(others, palette))
    if 0.0 in values:
        colors[0.0] = BASELINE_COLOR
    return colors


def run_styles(infos):
    """Matplotlib line keywords for every run, in order, computed once for all figures."""
    import matplotlib

    cycle = matplotlib.colormaps["tab10"].colors
    colors = lambda_colors(i.soft_weight for i in infos if i.known)
    styles = []
    seen = {}
    for n, info in enumerate(infos):
        if info.known:
            nolabels = not info.labels
            style = {
                "color": colors[float(info.soft_weight)],
                "linestyle": LOSS_LINESTYLE[info.loss],
                "marker": NO_LABEL_MARKER if nolabels else LABEL_MARKER,
                "markersize": 9 if nolabels else 3,
            }
            key = (style["color"], style["linestyle"], style["marker"])
            repeat = seen.get(key, 0)
            seen[key] = repeat + 1
            if repeat:
                style["marker"] = EXTRA_MARKERS[(repeat - 1) % len(EXTRA_MARKERS)]
                style["markersize"] = 6
            styles.append(style)
        else:
            styles.append({"color": matplotlib.colors.to_hex(cycle[n % len(cycle)]),
                           "linestyle": "-", "marker": "None", "markersize": 0})
    return styles


def lambda_label(lam):
    text = f"λ = {lam:g}"
    if lam == 0:
        return text + " (labels only)"
    if lam >= 1:
        return text + " (teacher only)"
    return text


def legend_handles(infos, styles):
    """The legend of a figure: with every run's λ and loss known and more than four runs, one
    entry per λ colour, per loss line style and one for the no-label marker; otherwise one
    entry per run, drawn as its lines are."""
    from matplotlib.lines import Line2D

    plain = {NO_LABEL_MARKER, LABEL_MARKER}
    if len(infos) > 4 and all(i.known for i in infos) and all(s["marker"] in plain
                                                               for s in styles):
        colors = lambda_colors(i.soft_weight for i in infos)
        handles = [Line2D([], [], color=c, linewidth=4, label=lambda_label(lam))
                   for lam, c in sorted(colors.items())]
        for loss in LOSS_LINESTYLE:
            if any(i.loss == loss for i in infos):
                handles.append(Line2D([], [], color="black", linestyle=LOSS_LINESTYLE[loss],
                                      label=LOSS_NAMES[loss]))
        if any(not i.labels for i in infos):
            handles.append(Line2D([], [], color="black", linestyle="None",
                                  marker=NO_LABEL_MARKER, markersize=9, label="no labels"))
        return handles
    return [Line2D([], [], label=i.label, **style) for i, style in zip(infos, styles)]
