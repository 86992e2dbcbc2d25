"""Which engine computes a layer: Caffe's own order (CAFFE) or the fastest one here (DEFAULT).

Caffe's ConvolutionParameter, PoolingParameter (and ReLU, Sigmoid, TanH, Softmax, LRN)
carry ``engine``: DEFAULT = 0, CAFFE = 1, CUDNN = 2. Caffe 1.0 reads DEFAULT as CUDNN when
built with cuDNN, else CAFFE. tscaffe reads them as:

- ``CAFFE``: the numpy path that computes in Caffe's own order: the path every recorded
  fixture and training trajectory of real Caffe is compared with;
- ``DEFAULT`` and ``CUDNN``: the **fast** engine (cuDNN's role, on the CPU): per layer and
  shape, the fastest of the candidate kernels (Caffe's path among them), chosen by timing
  them once, as cuDNN's ``find`` does. Results equal CAFFE's to float32 rounding (other
  summation orders), never more; float64 blobs always take the CAFFE path.

``TSCAFFE_ENGINE=CAFFE`` (or ``caffe_compat.set_engine("CAFFE")``) runs every layer on Caffe's
path whatever its prototxt says, e.g. to repeat a run bit for bit or compare with real Caffe;
``TSCAFFE_ENGINE=FAST`` runs every layer that has a fast engine on it, ``engine: CAFFE``
fields included (published MobileNets pin CAFFE on their depthwise layers because cuDNN's
grouped convolutions were slow in 2017, not for exactness); ``TSCAFFE_ENGINE=DEFAULT`` (the
default) honours each layer's field.
"""
import os
import time

from .errors import CaffeError

CAFFE, FAST = "CAFFE", "FAST"
_NAMES = {0: "DEFAULT", 1: "CAFFE", 2: "CUDNN"}
_override = None
_timing_calls = 0  # calls any Pick has timed so far (process-wide)
_exploring = False  # the iteration running is a thread trial's turn at a count not kept (Pick)


def set_exploring(flag):
    """caffe_compat.parallel says whether the iteration about to run is a thread trial's turn
    at a count other than the current one: a Pick informed meanwhile borrows the decided
    count's kernel instead of timing candidates (see Pick)."""
    global _exploring
    _exploring = bool(flag)


def timing_calls():
    """How many calls the Picks of this process have timed so far. An iteration during which
    this number moved ran candidates that are not kept (some slow), so its time does not
    stand for the iteration at that thread count: caffe_compat.parallel tells the thread
    tuner so, and the tuner waits until the picks at its count are made."""
    return _timing_calls


def _from_environment():
    value = os.environ.get("TSCAFFE_ENGINE", "").strip().upper()
    if value in ("", "DEFAULT"):
        return None
    if value in (CAFFE, FAST):
        return value
    raise CaffeError(f"TSCAFFE_ENGINE must be CAFFE, DEFAULT or FAST, got {value!r}")


def set_engine(name):
    """``"CAFFE"``: every layer on Caffe's path from now on; ``"FAST"``: every layer with a
    fast engine on it, whatever its field says; ``"DEFAULT"``: each layer's own ``engine``
    field decides (layers already set up keep their choice); None: back to
    ``TSCAFFE_ENGINE``'s rule."""
    global _override
    if name is None:
        _override = None  # back to the environment's rule
        return
    value = str(name).upper()
    if value not in (CAFFE, FAST, "DEFAULT"):
        raise ValueError(f"engine must be 'CAFFE', 'DEFAULT' or 'FAST', got {name!r}")
    _override = value


def get_engine():
    """``"CAFFE"`` or ``"FAST"`` when forced for the whole process, else ``"DEFAULT"``."""
    if _override is not None:
        return _override
    return _from_environment() or "DEFAULT"


def resolve(field_value):
    """CAFFE or FAST for a layer whose parameter's ``engine`` is ``field_value`` (an enum int)."""
    forced = get_engine()
    if forced != "DEFAULT":
        return forced
    name = _NAMES.get(int(field_value), "DEFAULT")
    return CAFFE if name == "CAFFE" else FAST


# A candidate this many times slower than the best at another thread count is not timed again.
KEEP = 1.5


class Pick:
    """The fastest of a few candidate kernels, found by timing the real calls: each call
    runs the next candidate in turn (all compute the same result) until every one has run
    ``rounds`` times; the first round is a warm-up (sessions made, buffers faulted in) and
    is not counted; then the candidate with the least time is kept. So a run pays nothing
    extra but the slower candidates' few calls, and a single pass runs the first one.

    The same pass at another thread count is a new Pick; ``informed_by(done)`` (a Pick of
    the same pass already decided at another count) drops the candidates that were more
    than ``KEEP`` times slower than the best there, before any call is timed: a thread
    count moves candidates' times by tens of percent, not by 1.5x, and the dropped ones
    are the slow calls the thread trials would otherwise pay for at every count (at one
    thread, most). One candidate left is kept without timing. During a thread trial's turn
    at a count that is not the current one (``set_exploring``), an informed Pick borrows
    ``done``'s kernel outright (provisional): the count is judged on the kernels that won
    elsewhere, at no timing cost; if that count is kept afterwards, the Pick's first call
    outside a trial turn times the close candidates after all."""

    def __init__(self, names, rounds=3):
        self.names = list(names)
        self.rounds = rounds
        self.times = {n: [] for n in self.names}
        self.calls = 0
        self.chosen = self.names[0] if len(self.names) == 1 else None
        self.informed = False
        self.provisional = None   # the candidates to time once a borrowed kernel's count is kept

    def inform(self, others):
        """``informed_by`` the first of ``others`` (Picks of the same pass at other thread
        counts, None among them allowed) that was decided by timing: an undecided one or
        one that only borrowed its kernel knows nothing yet. Returns True when this Pick is
        now decided."""
        if self.chosen is None and not self.informed:
            done = next((p for p in others if p is not None and p.chosen is not None
                         and not p.provisional), None)
            self.informed_by(done)
            return self.chosen is not None
        return False

    def informed_by(self, done, keep=KEEP):
        """Narrows this undecided Pick to the candidates ``done`` (decided, same pass, other
        thread count) found within ``keep`` of its best; the best first. Once only."""
        if self.chosen is not None or self.informed or done is None or done.chosen is None:
            return
        best = {n: min(t) for n, t in done.times.items() if t and n in self.times}
        if done.chosen not in best:
            return
        keep_names = sorted((n for n, t in best.items() if t <= keep * best[done.chosen]),
                            key=lambda n: best[n])
        self.informed = True
        if _exploring and len(keep_names) > 1:
            self.provisional = keep_names
            self.names, self.times, self.calls = [done.chosen], {done.chosen: []}, 0
            self.chosen = done.chosen
            return
        self.names = keep_names
        self.times = {n: [] for n in keep_names}
        self.calls = 0
        self.chosen = keep_names[0] if len(keep_names) == 1 else None

    def settled(self):
        """True when the next call runs the kept candidate (decided, not about to time the
        candidates a borrowed kernel stood in for)."""
        return self.chosen is not None and not (self.provisional and not _exploring)

    def next(self):
        if self.provisional and not _exploring:   # the borrowed kernel's count is kept: time
            self.names, self.provisional = self.provisional, None
            self.times, self.calls, self.chosen = {n: [] for n in self.names}, 0, None
        return self.chosen or self.names[self.calls % len(self.names)]

    def record(self, name, seconds):
        global _timing_calls
        if self.chosen is not None or name not in self.times:   # decided, or narrowed since
            return
        _timing_calls += 1
        if self.calls >= len(self.names):
            self.times[name].append(seconds)
        self.calls += 1
        if self.calls >= self.rounds * len(self.names):
            self.chosen = min(self.names, key=lambda n: min(self.times[n]))

    def run(self, calls):
        """Runs the next candidate (``calls[name]()``), times it, and returns its name."""
        name = self.next()
        t0 = time.perf_counter()
        calls[name]()
        self.record(name, time.perf_counter() - t0)
        return name


def describe(layer):
    """What computes ``layer``: None for a layer with no engine choice; ``"CAFFE"``; or the
    fast engine's picks at the shape and thread count it ran last, e.g. ``"DEFAULT: forward
    ort, backward mixed, data gradient flipped"``."""
    if not hasattr(layer, "engine"):
        return None
    fast = getattr(layer, "fast", None)
    if fast is None:
        return "CAFFE" if layer.engine == CAFFE else "DEFAULT: caffe (not worth a faster kernel here)"
    if not hasattr(fast, "choices"):  # one fast kernel, no candidates to time
        return f"DEFAULT: {type(fast).__name__}"
    picks = []
    choice = fast.choices.get(fast.last_key, {})
    in_use = getattr(fast, "in_use", None)
    for key, pick in choice.items():
        if in_use is not None and not in_use(choice, key):
            continue
        what = ("forward" if key == "fwd" else "data gradient" if key == "dx" else
                "backward" if any(key[1]) else "backward (parameters only)")
        picks.append(f"{what} {pick.chosen or 'still timing'}")
    return "DEFAULT: " + (", ".join(picks) if picks else "not run yet")
