"""A Caffe TRAIN prototxt as a PyTorch CPU graph, with Caffe's semantics (the benchmarks' peer).

``TorchNet(net_param, torch)`` builds every layer of the net in order, running each once on
zeros to learn the shapes that follow. Parameters are ``torch`` tensors in Caffe's blob order
and shapes (``params[layer name]``), so a Caffe net's weights copy straight in. Blobs are a
name -> tensor dict, in-place layers rebind the name, as Caffe's blob names do.

Semantics kept from Caffe 1.0:
- Convolution: ``kernel_size``/``kernel_h``/``kernel_w``, stride, pad, dilation, ``group``
  (grouped and depthwise), ``bias_term``; 2-D only.
- Pooling MAX/AVE: output ``ceil((H + 2p - k) / s) + 1``, less one when ``p > 0`` and the
  last window starts at or past ``H + p``; AVE divides by the window clipped to ``H + p``
  (padding counted, the part past it not) -- torch's ``ceil_mode`` with
  ``count_include_pad`` computes exactly that; a shape torch would round otherwise is refused.
  ``global_pooling``: the whole plane.
- LRN ACROSS_CHANNELS: ``x / (k + alpha/n * sum over n channels of x^2)^beta``;
  WITHIN_CHANNEL: ``x / (1 + alpha * avg over the n x n window of x^2)^beta``.
- BatchNorm: ``use_global_stats`` (default: phase == TEST, so batch statistics in TRAIN,
  biased variance), ``eps``; global statistics are the stored sums over the factor blob.
  A BatchNorm followed by its in-place Scale runs as one ``batch_norm`` with weight and bias
  (what a PyTorch user writes: ``BatchNorm2d(affine=True)``).
- Scale (one bottom, ``axis``/``num_axes``, ``bias_term``, or two bottoms), Eltwise
  (SUM with ``coeff``, PROD, MAX), Concat (``axis``/``concat_dim``), Softmax (``axis``),
  InnerProduct (``axis``, ``transpose``), Flatten, ReLU (``negative_slope``), Sigmoid, TanH,
  Dropout (inverted: ``x * mask / (1 - ratio)``), SoftmaxWithLoss (``normalization``).
- Accuracy and Silence are left out (nothing back-propagates through them).
"""

from torch_caffe_layers import CaffeLayers

CAFFE_ONLY = ("Accuracy", "Silence")


def _phase_ok(layer):
    train = 0  # caffe.Phase TRAIN
    if layer.include and not any(r.HasField("phase") and r.phase == train or not r.HasField("phase")
                                 for r in layer.include):
        return False
    return not any(r.HasField("phase") and r.phase == train for r in layer.exclude)


class TorchNet(CaffeLayers):
    def __init__(self, net_param, torch):
        self.torch = torch
        self.F = torch.nn.functional
        self.ops = []          # [name, type, fn, bottoms, tops]
        self.params = {}       # layer name -> [tensor] learnable, in Caffe's blob order/shapes
        self.kinds = {}        # layer name -> type (of those with parameters)
        self.stats = {}        # BatchNorm layer name -> [mean, var, factor] (not learnable)
        self.inputs = {}       # input blob -> shape
        self.masks = None      # {Dropout layer name: tensor}: use these masks (the check)
        self.force_backward = bool(net_param.force_backward)
        self._consumed = set()
        blobs = {}
        dims = list(net_param.input_dim)
        for k, name in enumerate(net_param.input):
            shape = (tuple(net_param.input_shape[k].dim) if net_param.input_shape
                     else tuple(dims[4 * k:4 * k + 4]))
            self.inputs[name] = shape
            blobs[name] = torch.zeros(shape)
        for layer in net_param.layer:
            if not _phase_ok(layer) or layer.type in CAFFE_ONLY:
                continue
            if layer.type == "Input":
                for top, shape in zip(layer.top, layer.input_param.shape):
                    self.inputs[top] = tuple(shape.dim)
                    blobs[top] = torch.zeros(tuple(shape.dim))
                continue
            maker = getattr(self, "_" + layer.type, None)
            if maker is None:
                raise SystemExit(f"torch_caffe: layer '{layer.name}': type {layer.type} not translated")
            bottom = [blobs[b] for b in layer.bottom]
            self._building = layer.type
            fn = maker(layer, bottom)
            if fn is None:  # fused into the op before it
                continue
            self.ops.append([layer.name, layer.type, fn, list(layer.bottom), list(layer.top)])
            self._consumed.update(layer.bottom)
            with torch.no_grad():
                outs = fn([b.clone() for b in bottom])
            blobs.update(zip(layer.top, outs))
        self.shapes = {name: tuple(t.shape) for name, t in blobs.items()}
        self.outputs = [n for n in blobs if n not in self._consumed and n not in self.inputs]

    # -- running ----------------------------------------------------------------------
    def parameters(self):
        return [t for ts in self.params.values() for t in ts]

    def init_random(self, seed=0):
        """He-normal weights, small biases, BatchNorm statistics of unit scale (the bench's
        values; the check copies ours in instead)."""
        g = self.torch.Generator().manual_seed(seed)
        with self.torch.no_grad():
            for name, ts in self.params.items():
                for k, t in enumerate(ts):
                    if t.dim() >= 2:
                        fan_in = t[0].numel()
                        t.copy_(self.torch.randn(t.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                    elif k == 0 and self.kinds[name] == "Scale":  # gamma
                        t.copy_(self.torch.rand(t.shape, generator=g) * 0.2 + 0.9)
                    else:  # bias
                        t.copy_(self.torch.rand(t.shape, generator=g) * 0.2 - 0.1)
            for mean, var, factor in self.stats.values():
                mean.copy_(self.torch.randn(mean.shape, generator=g) * 0.1)
                var.copy_(self.torch.rand(var.shape, generator=g) + 0.5)
                factor.fill_(1)

    def forward(self, blobs, profile=False):
        """Runs every op on ``blobs`` (name -> tensor, updated); returns the loss or None."""
        loss = None
        ctx = self.torch.profiler.record_function if profile else None
        for name, kind, fn, bottom, top in self.ops:
            if ctx is not None:
                with ctx(f"{kind} {name}"):
                    outs = fn([blobs[b] for b in bottom])
            else:
                outs = fn([blobs[b] for b in bottom])
            blobs.update(zip(top, outs))
            if kind == "SoftmaxWithLoss":
                loss = outs[0] if loss is None else loss + outs[0]
        return loss

    def _param(self, name, *shapes):
        ts = [self.torch.zeros(s).requires_grad_() for s in shapes]
        self.params[name] = ts
        self.kinds[name] = self._building
        return ts
