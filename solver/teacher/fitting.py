"""Which transform would make the student's data fit a teacher's input shape.

``suggest(want, c, h, w, layout)``: for a graph input shape ``want`` (ints for fixed
dimensions) and data of ``c`` channels and ``h`` x ``w`` pixels after the teacher's current
transform, the --teacher-params settings that would make it fit, as JSON object text, the
most likely first (padding before cropping before resizing: a client who trained on a
larger canvas usually padded), with ``channels`` for a three-channel teacher on
one-channel data; empty when none would (e.g. 1 channel from 3-channel data). ``describe(ways, h, w)`` says it in one clause.
"""
import math


def _spatial(th, tw, h, w):
    """Ways from h x w to th x tw: pad (centred, when the difference splits evenly),
    crop, resize."""
    if (th, tw) == (h, w):
        return [None]
    ways = []
    dh, dw = th - h, tw - w
    if dh >= 0 and dw >= 0:
        if dh % 2 == 0 and dw % 2 == 0:
            pad = dh // 2 if dh == dw else [dh // 2, dw // 2]
        else:
            pad = [dh // 2, dh - dh // 2, dw // 2, dw - dw // 2]
        ways.append(f'"pad": {pad}')
    elif dh <= 0 and dw <= 0:
        ways.append(f'"crop": [{th}, {tw}]')
    ways.append(f'"resize": [{th}, {tw}]')
    return ways


def describe(ways, h, w):
    """The error's clause for ``suggest``'s answer."""
    if not ways:
        return ("; no transform makes it fit (resize, crop and pad change the size, layout "
                "the order; channels repeats a one-channel image, nothing reduces the data's "
                "channels)")
    text = "; this would make it fit: --teacher-params " + " or ".join(
        "'{" + way + "}'" for way in ways)
    if (h, w) == (28, 28) and any('"pad": 2' in way for way in ways):
        text += " (LeNet-5's 32x32 input is MNIST padded by 2 pixels: pad, not resize)"
    return text


def _fixed(d):
    return d if isinstance(d, int) and d > 0 else None


def suggest(want, c, h, w, layout="auto"):
    """The settings (text) that would make (c, h, w) data fit ``want``."""
    dims = [_fixed(d) for d in want]
    out = []
    if len(dims) == 2 and dims[1]:
        width = dims[1]
        if width % c == 0 and math.isqrt(width // c) ** 2 == width // c:
            side = math.isqrt(width // c)
            for way in _spatial(side, side, h, w):
                extra = "" if layout in ("auto", "flat") else '"layout": "flat"'
                parts = [p for p in (extra, way) if p]
                if parts:
                    out.append(", ".join(parts))
        return out
    if len(dims) != 4:
        return out
    for order, (wc, wh, ww) in (("NCHW", dims[1:]), ("NHWC", (dims[3], dims[1], dims[2]))):
        repeat = []
        if wc is not None and wc != c:
            if (c, wc) != (1, 3):
                continue
            repeat = ['"channels": 3']   # a grayscale image repeated (Grayscale(3))
        ways = _spatial(wh or h, ww or w, h, w)
        set_layout = layout not in ("auto", order)
        for way in ways:
            parts = (repeat + ([f'"layout": "{order}"'] if set_layout else [])
                     + ([way] if way else []))
            if parts:
                out.append(", ".join(parts))
    seen = []
    return [s for s in out if not (s in seen or seen.append(s))]
