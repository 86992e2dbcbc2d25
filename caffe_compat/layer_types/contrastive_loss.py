"""ContrastiveLoss: Hadsell et al.'s loss of pairs of feature vectors (siamese nets).

Bottoms a, b (N, C) (or (N, C, 1, 1)) and sim (N,) (1 = similar pair, 0 = dissimilar; Caffe
reads static_cast<int>). With d2[n] = ||a[n] - b[n]||^2 and d = sqrt(d2):

    loss = sum_n l[n] / N / 2,   l = d2 if similar, else max(margin - d, 0)^2
                                 (legacy_version: max(margin - d2, 0))

contrastive_loss_param (caffe.proto defaults): margin 1, legacy_version false.
Backward (s = +1 for a, -1 for b, alpha = s * loss_weight / N):
  similar: alpha * (a - b); dissimilar, when margin - d (legacy: margin - d2) > 0:
  -alpha * (margin - d) / (d + 1e-4) * (a - b) (legacy: -alpha * (a - b)); else 0.
sim gets no gradient (force_backward does not ask for one).
"""
from ..backend import get_array_module
from ._loss import LossLayer, int_labels
from .base import register
from .multinomial_logistic_loss import legacy_dim


@register("ContrastiveLoss")
class ContrastiveLossLayer(LossLayer):
    EXACT_NUM_BOTTOM = 3

    def setup(self, bottom, top):
        p = self.layer_param.contrastive_loss_param
        self.margin, self.legacy = float(p.margin), bool(p.legacy_version)

    def allow_force_backward(self, bottom_index):
        return bottom_index != 2

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        a, b, s = (x.shape for x in bottom)
        shapes = dict(bottom0=a, bottom1=b, bottom2=s)
        if max(len(a), len(b), len(s)) > 4:
            raise self.error("bottoms must have at most 4 axes", **shapes)
        if legacy_dim(a, 1) != legacy_dim(b, 1):
            raise self.error("both feature bottoms must have the same channels", **shapes)
        if any(legacy_dim(x, i) != 1 for x in (a, b) for i in (2, 3)):
            raise self.error("feature bottoms must have height and width 1 ((N, C) or (N, C, 1, 1))", **shapes)
        if any(legacy_dim(s, i) != 1 for i in (1, 2, 3)):
            raise self.error("the similarity bottom must have channels, height and width 1", **shapes)

    def forward(self, bottom, top):
        xp = get_array_module(bottom[0].data)
        num = bottom[0].shape[0]
        a = bottom[0].data.reshape(num, -1)
        t = a.dtype.type
        self.diff = a - bottom[1].data.reshape(num, -1)
        self.dist_sq = xp.einsum("nc,nc->n", self.diff, self.diff)
        self.similar = int_labels(bottom[2].data.reshape(-1)[:num]) != 0
        margin = t(self.margin)
        if self.legacy:
            other = xp.maximum(margin - self.dist_sq, t(0))
        else:
            other = xp.maximum(margin - xp.sqrt(self.dist_sq), t(0)) ** 2
        loss = xp.where(self.similar, self.dist_sq, other).sum(dtype=a.dtype)
        top[0].data[...] = loss / t(num) / t(2)

    def backward(self, top, propagate_down, bottom):
        xp = get_array_module(self.diff)
        num = self.diff.shape[0]
        t = self.diff.dtype.type
        margin = t(self.margin)
        for i, sign in ((0, 1), (1, -1)):
            if not propagate_down[i]:
                continue
            alpha = t(sign) * t(top[0].diff.reshape(-1)[0]) / t(num)
            if self.legacy:
                mdist = margin - self.dist_sq
                beta = xp.full_like(mdist, -alpha)
            else:
                dist = xp.sqrt(self.dist_sq)
                mdist = margin - dist
                beta = -alpha * mdist / (dist + t(1e-4))
            coef = xp.where(self.similar, alpha, xp.where(mdist > 0, beta, t(0)))
            bottom[i].diff[...] = (coef[:, None] * self.diff).reshape(bottom[i].shape)
