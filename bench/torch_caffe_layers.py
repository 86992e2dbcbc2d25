"""The layer translations of bench/torch_caffe.py's TorchNet, one method per Caffe type.

Each ``_Type(layer, bottom)`` gets the LayerParameter and the bottom tensors (zeros of the
right shapes), creates the layer's parameters with ``self._param`` (Caffe's blob order and
shapes) and returns ``fn(list of bottom tensors) -> list of top tensors``, or None when the
layer was fused into the op before it. The semantics are listed in torch_caffe's docstring.
"""


def _pair(values, h, w, default):
    """Caffe's (h, w) of a repeated field with _h/_w overrides (one value: both)."""
    if h or w:
        return int(h), int(w)
    values = list(values)
    if not values:
        return default, default
    if len(values) == 1:
        return int(values[0]), int(values[0])
    if len(values) != 2:
        raise ValueError(f"only 2-D spatial fields are translated, got {values}")
    return int(values[0]), int(values[1])


class CaffeLayers:
    def _Convolution(self, layer, bottom):
        p = layer.convolution_param
        if bottom[0].dim() != 4:
            raise SystemExit(f"torch_caffe: layer '{layer.name}': only 2-D convolution")
        kh, kw = _pair(p.kernel_size, p.kernel_h, p.kernel_w, 1)
        sh, sw = _pair(p.stride, p.stride_h, p.stride_w, 1)
        ph, pw = _pair(p.pad, p.pad_h, p.pad_w, 0)
        dh, dw = _pair(p.dilation, 0, 0, 1)
        g = p.group or 1
        shapes = [(p.num_output, bottom[0].shape[1] // g, kh, kw)]
        if p.bias_term:
            shapes.append((p.num_output,))
        ts = self._param(layer.name, *shapes)
        w, b = ts[0], (ts[1] if p.bias_term else None)
        conv = self.F.conv2d
        return lambda x: [conv(x[0], w, b, (sh, sw), (ph, pw), (dh, dw), g)]

    def _Pooling(self, layer, bottom):
        p = layer.pooling_param
        F = self.F
        _, _, h, w = bottom[0].shape
        if p.global_pooling:
            (kh, kw), (sh, sw), (ph, pw) = (h, w), (1, 1), (0, 0)
        else:
            kh, kw = _pair([p.kernel_size] if p.kernel_size else [], p.kernel_h, p.kernel_w, 0)
            sh, sw = _pair([p.stride] if p.HasField("stride") else [], p.stride_h, p.stride_w, 1)
            ph, pw = _pair([p.pad] if p.pad else [], p.pad_h, p.pad_w, 0)
        caffe = []
        for size, k, s, pad in ((h, kh, sh, ph), (w, kw, sw, pw)):
            out = -(-(size + 2 * pad - k) // s) + 1
            if pad and (out - 1) * s >= size + pad:
                out -= 1
            theirs = -(-(size + 2 * pad - k) // s) + 1
            if (theirs - 1) * s >= size + pad:
                theirs -= 1
            if out != theirs:
                raise SystemExit(f"torch_caffe: layer '{layer.name}': Caffe pools {size} to {out}, "
                                 f"torch's ceil mode to {theirs} (kernel {k}, stride {s}, pad {pad})")
            caffe.append(out)
        if p.pool == 0:
            if p.global_pooling:
                return lambda x: [x[0].amax(dim=(2, 3), keepdim=True)]
            return lambda x: [F.max_pool2d(x[0], (kh, kw), (sh, sw), (ph, pw), ceil_mode=True)]
        if p.pool == 1:
            if p.global_pooling:
                return lambda x: [F.adaptive_avg_pool2d(x[0], 1)]
            return lambda x: [F.avg_pool2d(x[0], (kh, kw), (sh, sw), (ph, pw), ceil_mode=True,
                                           count_include_pad=True)]
        raise SystemExit(f"torch_caffe: layer '{layer.name}': STOCHASTIC pooling not translated")

    def _ReLU(self, layer, bottom):
        slope = layer.relu_param.negative_slope
        F = self.F
        inplace = list(layer.top) == list(layer.bottom)
        if slope:
            return lambda x: [F.leaky_relu(x[0], slope, inplace=inplace)]
        return lambda x: [F.relu(x[0], inplace=inplace)]

    def _Sigmoid(self, layer, bottom):
        return lambda x: [self.torch.sigmoid(x[0])]

    def _TanH(self, layer, bottom):
        return lambda x: [self.torch.tanh(x[0])]

    def _LRN(self, layer, bottom):
        p = layer.lrn_param
        n, alpha, beta, k = p.local_size, p.alpha, p.beta, p.k
        F = self.F
        if p.norm_region == 0:
            return lambda x: [F.local_response_norm(x[0], n, alpha, beta, k)]
        pad = (n - 1) // 2

        def within(x):
            avg = F.avg_pool2d(x[0] * x[0], n, 1, pad, ceil_mode=True, count_include_pad=True)
            return [x[0] * (1 + alpha * avg).pow(-beta)]
        return within

    def _InnerProduct(self, layer, bottom):
        p = layer.inner_product_param
        axis = p.axis % bottom[0].dim()
        k = 1
        for d in bottom[0].shape[axis:]:
            k *= d
        shapes = [(k, p.num_output) if p.transpose else (p.num_output, k)]
        if p.bias_term:
            shapes.append((p.num_output,))
        ts = self._param(layer.name, *shapes)
        w, b = ts[0], (ts[1] if p.bias_term else None)
        F = self.F
        if p.transpose:
            return lambda x: [x[0].flatten(axis) @ w + (b if b is not None else 0)]
        return lambda x: [F.linear(x[0].flatten(axis), w, b)]

    def _Flatten(self, layer, bottom):
        p = layer.flatten_param
        return lambda x: [x[0].flatten(p.axis, p.end_axis)]

    def _Dropout(self, layer, bottom):
        ratio = layer.dropout_param.dropout_ratio
        F, name = self.F, layer.name

        def dropout(x):
            if self.masks is not None:
                return [x[0] * self.masks[name] * (1.0 / (1.0 - ratio))]
            return [F.dropout(x[0], ratio, training=True)]
        return dropout

    def _BatchNorm(self, layer, bottom):
        p = layer.batch_norm_param
        use_global = p.use_global_stats if p.HasField("use_global_stats") else False  # TRAIN
        c = bottom[0].shape[1]
        stats = [self.torch.zeros(c), self.torch.zeros(c), self.torch.zeros(1)]
        self.stats[layer.name] = stats
        affine = {"w": None, "b": None}
        F, eps = self.F, p.eps

        def bn(x):
            if use_global:
                s = stats[2][0].item()
                s = 0.0 if s == 0 else 1.0 / s
                return [F.batch_norm(x[0], stats[0] * s, stats[1] * s, affine["w"], affine["b"],
                                     False, 0.0, eps)]
            return [F.batch_norm(x[0], None, None, affine["w"], affine["b"], True, 0.0, eps)]
        bn.affine = affine
        return bn

    def _Scale(self, layer, bottom):
        p = layer.scale_param
        prev = self.ops[-1] if self.ops else None
        one_axis = p.axis == 1 and p.num_axes == 1 and len(layer.bottom) == 1
        if (one_axis and prev is not None and prev[1] == "BatchNorm" and prev[4] == list(layer.bottom)
                and list(layer.top) == list(layer.bottom) and prev[2].affine["w"] is None):
            shapes = [(bottom[0].shape[1],)] + ([(bottom[0].shape[1],)] if p.bias_term else [])
            ts = self._param(layer.name, *shapes)
            prev[2].affine["w"] = ts[0]
            prev[2].affine["b"] = ts[1] if p.bias_term else None
            with self.torch.no_grad():
                ts[0].fill_(1)
            return None
        x = bottom[0]
        axis = p.axis % x.dim()
        if len(layer.bottom) == 2:
            n = bottom[1].dim()
            shape = None
        else:
            n = x.dim() - axis if p.num_axes == -1 else p.num_axes
            shape = tuple(x.shape[axis:axis + n])
        view = (1,) * axis + tuple(x.shape[axis:axis + n]) + (1,) * (x.dim() - axis - n)
        ts = self._param(layer.name, *([shape] if shape is not None else []),
                         *([tuple(x.shape[axis:axis + n])] if p.bias_term else []))
        gamma = ts[0] if shape is not None else None
        beta = ts[-1] if p.bias_term else None

        def scale(x):
            g = (x[1] if gamma is None else gamma).reshape(view)
            y = x[0] * g
            return [y + beta.reshape(view) if beta is not None else y]
        return scale

    def _Eltwise(self, layer, bottom):
        p = layer.eltwise_param
        coeff = list(p.coeff)
        torch = self.torch
        if p.operation == 0:
            def prod(x):
                y = x[0]
                for t in x[1:]:
                    y = y * t
                return [y]
            return prod
        if p.operation == 2:
            def emax(x):
                y = x[0]
                for t in x[1:]:
                    y = torch.maximum(y, t)
                return [y]
            return emax
        if coeff and len(coeff) != len(bottom):
            raise SystemExit(f"torch_caffe: layer '{layer.name}': {len(coeff)} coeffs, {len(bottom)} bottoms")

        def esum(x):
            if not coeff or all(c == 1 for c in coeff):
                y = x[0] + x[1]
                for t in x[2:]:
                    y = y + t
                return [y]
            y = x[0] * coeff[0]
            for c, t in zip(coeff[1:], x[1:]):
                y = y + t * c
            return [y]
        return esum

    def _Concat(self, layer, bottom):
        p = layer.concat_param
        axis = p.concat_dim if p.HasField("concat_dim") else p.axis
        cat = self.torch.cat
        return lambda x: [cat(x, dim=axis)]

    def _Softmax(self, layer, bottom):
        axis = layer.softmax_param.axis
        F = self.F
        return lambda x: [F.softmax(x[0], dim=axis)]

    def _SoftmaxWithLoss(self, layer, bottom):
        p, lp = layer.softmax_param, layer.loss_param
        if p.axis != 1:
            raise SystemExit(f"torch_caffe: layer '{layer.name}': softmax axis {p.axis}")
        norm = lp.normalization if lp.HasField("normalization") else (
            1 if lp.normalize or not lp.HasField("normalize") else 2)
        ignore = lp.ignore_label if lp.HasField("ignore_label") else -100
        weight = layer.loss_weight[0] if layer.loss_weight else 1.0
        F = self.F

        def loss(x):
            logits = x[0]
            label = x[1].reshape((logits.shape[0],) + tuple(logits.shape[2:])).long()
            total = F.cross_entropy(logits, label, ignore_index=ignore, reduction="sum")
            if norm in (0, 1):  # FULL, VALID (no ignored labels: the count of labels)
                count = (label != ignore).sum() if norm == 1 else label.numel()
                total = total / max(int(count), 1)
            elif norm == 2:  # BATCH_SIZE
                total = total / logits.shape[0]
            return [total * weight]
        return loss
