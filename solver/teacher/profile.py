"""What a teacher shows at setup, and the distillation defaults derived from it.

``tscaffe distill`` runs the teacher on a sample of the training data before training (the
logit cache fills anyway), measures its logits and chooses from them:

- **logit scale k** (the ONNXTeacher layer's ``logit_scale``): the teacher's logits are
  multiplied by k = REFERENCE_STD / s, where s is the standard deviation of the sample's
  logits after each row's mean is taken off (softmax ignores that mean). Every teacher then
  reaches the KD loss with the same spread, so neither the soft targets nor the gradient
  (T (q - p) / N, with the student's logits pulled towards k z) depend on how large the
  client's logits happen to be: a teacher whose logits are 30 times larger gets k 30 times
  smaller and the very same training run. The teacher's argmax, so agreement and accuracy,
  never changes; the KL the Fidelity layer prints is against these standardised logits.
- **temperature T** = k g / TARGET_GAP, clipped to [T_MIN, T_MAX], where g is the median gap
  between the sample's two largest logits: at T the typical soft target puts e^TARGET_GAP
  (3.3 times) more mass on the teacher's class than on the runner-up, neither one-hot nor
  flat. A confident teacher gets a higher T than an unsure one.

REFERENCE_STD and TARGET_GAP come from the sweep behind the defaults (README, "Choosing the
distillation defaults"): its best setting, T = 8 on a teacher of logit spread 7 and median
gap 9.6, written in units that hold for any teacher. The user's ``--temperature`` and
``--logit-scale`` win over both (``--logit-scale 1``: the raw logits).

It also checks the teacher's contract on real data: outputs that are probabilities (in
[0, 1], rows summing to 1) are used through their log; a teacher that gives one class to
nearly every sample while the labels do not is refused with the likely cause (its input
transform); agreement with the labels is reported where the data has them.
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

from caffe_compat.errors import CaffeError

PROBE_SAMPLES = 2048
REFERENCE_STD = 7.0
TARGET_GAP = 1.2
T_MIN, T_MAX = 1.0, 20.0
# One class for more than this share of the sample while the labels give it less than half:
# the teacher is not seeing what it was trained on.
DEGENERATE_SHARE = 0.9


@dataclass
class TeacherProfile:
    samples: int
    classes: int
    outputs: str              # "logits" or "probabilities" (what the graph gives)
    logit_std: float          # std of the row-centred logits
    logit_min: float
    logit_max: float
    median_gap: float         # median of (largest - second largest) logit
    top_class: int            # the class the teacher predicts most often
    top_class_share: float
    label_agreement: float = None   # teacher argmax == label, where the data has labels

    def normalised_entropy(self, logits, scale, temperature):
        """Mean entropy of softmax(scale * logits / T) over the sample, / log(classes)."""
        z = logits.astype(np.float64) * scale / temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        h = -(p * np.log(np.maximum(p, 1e-300))).sum(axis=1)
        return float(h.mean() / math.log(self.classes))

    def as_dict(self):
        return asdict(self)


def looks_like_probabilities(out):
    """Rows in [0, 1] that sum to 1: a softmax output, not logits."""
    out = np.asarray(out, np.float64)
    return (out.ndim == 2 and out.shape[1] >= 2 and out.min() >= -1e-6 and out.max() <= 1 + 1e-6
            and np.all(np.abs(out.sum(axis=1) - 1.0) < 1e-3))


def profile(logits, outputs, labels=None):
    """The TeacherProfile of ``logits`` (N, C) of a sample (``labels``: its labels or None)."""
    z = np.asarray(logits, np.float64)
    if not np.all(np.isfinite(z)):
        bad = int((~np.isfinite(z)).any(axis=1).sum())
        raise CaffeError(f"the teacher's outputs are not finite for {bad} of {len(z)} sampled "
                         "training images; check the model and its input transform")
    centred = z - z.mean(axis=1, keepdims=True)
    top2 = np.sort(z, axis=1)[:, -2:]
    pred = z.argmax(axis=1)
    counts = np.bincount(pred, minlength=z.shape[1])
    agreement = None
    if labels is not None and len(np.unique(labels)) > 1:
        agreement = float((pred == np.asarray(labels)).mean())
    return TeacherProfile(
        samples=len(z), classes=z.shape[1], outputs=outputs, logit_std=float(centred.std()),
        logit_min=float(z.min()), logit_max=float(z.max()),
        median_gap=float(np.median(top2[:, 1] - top2[:, 0])),
        top_class=int(counts.argmax()), top_class_share=float(counts.max() / len(z)),
        label_agreement=agreement)


def check_contract(prof, labels=None, hint=""):
    """Refuse a teacher that cannot be ported as it is configured, saying why."""
    if prof.logit_std < 1e-6:
        raise CaffeError(f"the teacher gives the same output for all {prof.samples} sampled "
                         f"training images (logit spread {prof.logit_std:.2g}): it cannot teach "
                         f"anything. Check its input transform{hint}")
    label_share = 0.0
    if labels is not None and len(np.unique(labels)) > 1:
        label_share = float((np.asarray(labels) == prof.top_class).mean())
    if prof.top_class_share > DEGENERATE_SHARE and label_share < 0.5:
        raise CaffeError(
            f"the teacher predicts class {prof.top_class} for {prof.top_class_share:.0%} of "
            f"{prof.samples} sampled training images"
            + (f" (the labels give that class to {label_share:.0%})" if labels is not None else "")
            + ": it is probably not seeing the input it was trained on. Check its input "
              f"transform{hint}")


def choose(prof, logits, loss="kd", temperature=None, logit_scale=None):
    """(logit_scale, temperature, reasons): the defaults for this teacher, one line of
    explanation each, the user's values kept where given."""
    reasons = []
    if logit_scale is not None:
        k = float(logit_scale)
        reasons.append(f"logit scale {k:g}: given (--logit-scale)")
    elif loss != "kd":
        k = 1.0
        reasons.append("logit scale 1: the 2017 loss compares the teacher's own softmax")
    else:
        k = REFERENCE_STD / prof.logit_std
        reasons.append(f"logit scale {k:.4g}: standardises the teacher's logit spread "
                       f"{prof.logit_std:.4g} to {REFERENCE_STD:g}, so the gradient does not "
                       "depend on the teacher's scale")
    if loss != "kd":
        return k, None, reasons
    if temperature is not None:
        t = float(temperature)
        reasons.append(f"temperature {t:g}: given (--temperature); soft targets' normalised "
                       f"entropy {prof.normalised_entropy(logits, k, t):.3f}")
    else:
        gap = k * prof.median_gap
        t = float(f"{min(max(gap / TARGET_GAP, T_MIN), T_MAX):.3g}")
        clipped = "" if T_MIN < gap / TARGET_GAP < T_MAX else f", clipped to [{T_MIN:g}, {T_MAX:g}]"
        reasons.append(f"temperature {t:.3g}: the scaled median top-1/top-2 gap {gap:.3g} / "
                       f"{TARGET_GAP:g}{clipped}; soft targets' normalised entropy "
                       f"{prof.normalised_entropy(logits, k, t):.3f} (raw logits at T=1: "
                       f"{prof.normalised_entropy(logits, 1.0, 1.0):.3f})")
    return k, t, reasons


def describe(prof):
    """The statistics line of the log and the report."""
    text = (f"Teacher on {prof.samples} training samples: outputs {prof.outputs}, logits in "
            f"[{prof.logit_min:.4g}, {prof.logit_max:.4g}], spread (std of row-centred "
            f"logits) {prof.logit_std:.4g}, median top-1/top-2 gap {prof.median_gap:.4g}, "
            f"most frequent class {prof.top_class} ({prof.top_class_share:.1%})")
    if prof.label_agreement is not None:
        text += f", agrees with the labels on {prof.label_agreement:.1%}"
    return text
