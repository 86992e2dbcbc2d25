"""The options each architecture template reads, and what values they take.

A member of a rendered net (prototxt.net_builder.Member) takes the common keys (arch, tag,
frozen, fillers, params, num_classes, bottom) and the options of its arch below; an option
its template never reads is refused rather than silently ignored (``width`` on LeNet would
otherwise render Caffe's LeNet unchanged). ``tscaffe distill`` checks a student's options
against the same table before anything runs (solver.distill.options.check_student_opts).

``check_option(arch, name, value)`` returns None or what is wrong with the value, in words
that fit after the option's name.
"""
import numbers

FILLERS = ("msra", "xavier")
STEMS = ("small", "standard")


def _bool(value):
    return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


def _positive(value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0:
        return None
    return f"must be a positive number, got {value!r}"


def _fraction(value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value <= 1:
        return None
    return f"must be in [0, 1], got {value!r}"


def _one_of(choices):
    def check(value):
        if value in choices:
            return None
        return f"must be one of {', '.join(map(repr, choices))}, got {value!r}"
    return check


def _int_range(lo, hi):
    def check(value):
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) \
                and lo <= value <= hi:
            return None
        return f"must be an integer from {lo} to {hi}, got {value!r}"
    return check


_VGG = {"bn": _bool, "bn_fraction": _fraction, "filler": _one_of(FILLERS),
        "blocks": _int_range(1, 5), "classifier": _bool, "dropout": _bool,
        "width": _positive}
_CIFAR_FULL = {"blocks": _int_range(2, 3)}

# arch -> {option: check}
ARCH_OPTIONS = {
    "lenet": {"dropout": _bool},
    "cifar10_quick": {},
    "cifar10_full": _CIFAR_FULL,
    "cifar10_mini": _CIFAR_FULL,
    "nin": {"dropout": _bool, "global_pool": _bool},
    "alexnet": {"dropout": _bool, "width": _positive, "stem": _one_of(STEMS)},
    "vgg16": _VGG,
    "vgg16_bn": _VGG,
    "vgg16_msra": _VGG,
}
# Keys every member takes whatever its arch (the net's wiring, not the arch's shape).
COMMON_KEYS = ("arch", "tag", "frozen", "fillers", "params", "num_classes", "bottom")


def options_of(arch):
    """The option names ``arch``'s template reads, sorted."""
    return tuple(sorted(ARCH_OPTIONS[arch]))


def check_option(arch, name, value):
    """None when ``arch`` reads option ``name`` and ``value`` suits it; otherwise the
    reason, as a phrase that follows the option's name."""
    checks = ARCH_OPTIONS[arch]
    if name not in checks:
        known = ", ".join(options_of(arch)) or "none"
        return f"is not an option of the {arch} template (its options: {known})"
    return checks[name](value)
