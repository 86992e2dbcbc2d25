"""Choosing the thread count by measuring iterations, and choosing again when they drift.

A thread count that is right on an idle machine is wrong on a busy one: when other processes
hold the cores, a pass cut into slices waits for its slowest slice and OpenBLAS's workers
wait for a core, so two threads can be several times slower than one. No formula predicts
this, so the count is measured, as cuDNN and FFTW pick an algorithm by timing it:

1. **Trial.** After ``warmup`` iterations, the candidate counts (1, 2, 4, ... up to the
   CPUs this process may use) take turns, one iteration each, ``trial_rounds`` times
   (interleaved, so a load that comes or goes mid-trial hits every count alike). The count
   with the lowest median wins; a count with more threads must beat the fewer-thread
   one by ``margin`` (a tie goes to fewer threads, which also leaves cores to others).
   A count whose fastest iteration is ``prune`` times slower than another count's median
   leaves the trial at once (under load the slow count costs the most; it is not rerun).
   One thread runs first (and during the warm-up); when the main thread waited for a CPU
   more than ``wait_rise`` of that iteration, no core is idle and the other counts are not
   tried at all, so a loaded machine pays nothing for the trial.
2. **Steady.** The first ``window`` iterations at that count set a reference: the median
   iteration time and the median share of it the main thread spent waiting for a CPU
   (``/proc/thread-self/schedstat`` run-queue delay, 0 where unreadable). Then, over a
   sliding window of ``window`` iterations, a new trial starts when the median time is
   more than ``drift`` slower than the reference or the wait share rose by ``wait_rise``
   (a competitor came: fewer threads may be better; not tried when already at one), or
   when it is more than ``drift`` faster (one left: more threads may be better; not tried
   when already at the most, nor while the main thread still waits ``wait_rise`` of its
   time for a CPU: there is no idle core to gain). Such a trial runs only the other counts:
   the window's times stand for the current one.
   Below the most threads and not waiting ``wait_rise`` for a CPU, a trial also runs
   ``probe`` gaps after the last one (0: never): a count chosen during a passing
   disturbance (a competitor that came and went before the window saw the time move back)
   is not kept until the next recheck. The run-queue wait is not a sure sign of a busy
   machine (two competitors on two cores measured 0.00-0.24 of one thread's time), so a
   probe may run on a busy machine too: each one that keeps the count doubles the gap, so
   they thin out (50, 100, 200, ... iterations apart with the defaults).
3. **Backing off.** A trial that chooses the count it already had doubles the number of
   iterations before the next one may start (from ``min_gap``, at most ``max_gap``), so
   a machine that is merely noisy does not pay for trials over and over; a change of count
   resets it. Every ``recheck`` iterations a trial runs anyway.

4. **Waiting for the kernels.** The fast engine (caffe_compat.engines) times its candidate
   kernels on the real calls, per shape and thread count: while it does, an iteration runs
   slow candidates too, and its time says nothing about the count. Such an iteration is
   reported as not ``settled`` and is not counted, neither in the warm-up nor in a trial
   turn nor in the steady window: the same count runs again until its kernels are chosen
   (a few iterations), so every count is judged on the kernels it will keep. After
   ``max_unsettled`` such iterations in a row, one is counted anyway.

5. **Idle CPUs.** More threads can only gain where a CPU is idle. Where the kernel says how
   long each CPU this process may use was idle (``/proc/stat``'s idle and iowait ticks;
   parallel.measured reports them per iteration), every step up is checked first:

   - at start-up, the first ``idle_span`` seconds run at one thread. When less than
     ``idle_min`` of a CPU was idle meanwhile, only one thread is timed (a busy machine
     pays nothing for the start-up trial; the probes come later). Otherwise the trial starts at the most threads, so that
     the kernels are timed there first; the turns at fewer threads borrow those kernels
     (``exploring``: engines.Pick), so they are settled at once and a count the trial drops
     never pays for a kernel timing (at one thread, the slowest);
   - in the steady state, the "faster" and recheck trials only try more threads when the
     window's iterations at the current count left ``idle_min`` of a CPU idle (a time that
     merely fell back from a noisy reference is no reason to try more threads on a full
     machine). The probes still run, backed off as in 2.: without an idle CPU, more threads
     can still win by taking a larger share of the CPUs from the competitors (cifar10_quick
     with two competitors on two CPUs: 174-191 ms at two threads, 197-211 at one), and only
     a measurement says so; where they lose (LeNet: 49-57 against 26-29 ms) a probe costs one
     pruned iteration. Such a probe, run with no CPU idle, that keeps the count has measured
     this load: the probes are held until a window sees a CPU idle again (the load changed)
     or the recheck comes round, so a run under a lasting load pays one probe per
     ``recheck`` iterations, not one per back-off gap.

   Where the ticks cannot be read (``idle`` None), the rules above are as in 1-3.

The logic takes plain numbers (``record(seconds, wait_share, settled, idle)``), so it is
tested with synthetic timings; caffe_compat.parallel feeds it real ones.
"""
import os
import statistics
import threading


def candidate_counts(max_threads):
    """1, 2, 4, ... and ``max_threads`` itself."""
    max_threads = max(1, int(max_threads))
    counts, c = [], 1
    while c < max_threads:
        counts.append(c)
        c *= 2
    counts.append(max_threads)
    return counts


_fds = threading.local()


def _pread_kept_open(path, size):
    """The text of ``path``, from a descriptor kept open per thread and path and re-read with
    pread (about 1 us, against 40 us for open + read). ``size`` is the first buffer; it grows
    to fit the file and is remembered, so a read allocates no more than the file needs."""
    fds = getattr(_fds, "by_path", None)
    if fds is None:
        fds = _fds.by_path = {}
    fd, size = fds.get(path, (None, size))
    if fd is None:
        fd = os.open(path, os.O_RDONLY)
    text = os.pread(fd, size, 0)
    while len(text) == size:
        size *= 4
        text = os.pread(fd, size, 0)
    fds[path] = (fd, size)
    return text


def read_wait_ns(path="/proc/thread-self/schedstat"):
    """Nanoseconds the calling thread has waited on a run queue (schedstat's second field),
    or None where the file is missing or unreadable."""
    try:
        return parse_schedstat(_pread_kept_open(path, 128))
    except (OSError, ValueError):
        return None


def read_idle_ticks(cpus=None, path="/proc/stat"):
    """Clock ticks the CPUs numbered in ``cpus`` (None: all of them) have spent idle or
    waiting for I/O since boot, summed (the 4th and 5th numbers of /proc/stat's ``cpuN``
    lines), or None where the file is missing or unreadable. Divide by ``CLOCK_TICKS`` for
    seconds. About 10 us on a 2-CPU machine."""
    try:
        return parse_idle_ticks(_pread_kept_open(path, 4096), cpus)
    except (OSError, ValueError):
        return None


def parse_idle_ticks(text, cpus=None):
    """Idle + iowait ticks summed over the ``cpuN`` lines of /proc/stat's text whose N is in
    ``cpus`` (None: every such line)."""
    total, found = 0, False
    for line in text.split(b"\n"):
        if not line.startswith(b"cpu") or line[3:4] in (b" ", b""):
            if found and not line.startswith(b"cpu"):
                break
            continue
        fields = line.split()
        if cpus is not None and int(fields[0][3:]) not in cpus:
            continue
        total += int(fields[4]) + int(fields[5])
        found = True
    if not found:
        raise ValueError("/proc/stat: no cpuN line for the CPUs asked for")
    return total


try:
    CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):
    CLOCK_TICKS = 100


def parse_schedstat(text):
    """The run-queue wait (ns) from schedstat's text: 'on-cpu-ns wait-ns timeslices'."""
    fields = text.split()
    if len(fields) < 2:
        raise ValueError(f"schedstat: expected 3 numbers, got {text!r}")
    return int(fields[1])


class ThreadTuner:
    """Which thread count the next iteration should use, from the iterations timed so far.

    ``count`` is the count for the next iteration; ``record(seconds, wait_share)`` reports
    how it went. ``history`` keeps (reason, chosen count, {count: median seconds}) for every
    decision, for logs and tests."""

    def __init__(self, max_threads, warmup=1, trial_rounds=3, window=8, drift=0.25,
                 wait_rise=0.25, margin=0.03, prune=1.5, min_gap=10, max_gap=320, recheck=1000,
                 max_unsettled=40, probe=5, idle_min=0.5, idle_span=0.05):
        if trial_rounds < 1 or window < 1:
            raise ValueError("trial_rounds and window must be >= 1")
        self.candidates = candidate_counts(max_threads)
        self.warmup, self.trial_rounds, self.window = warmup, trial_rounds, window
        self.drift, self.wait_rise, self.margin, self.prune = drift, wait_rise, margin, prune
        self.min_gap, self.max_gap, self.recheck = min_gap, max_gap, recheck
        self.max_unsettled, self._unsettled = max_unsettled, 0
        self.probe = probe
        self.idle_min, self.idle_span = idle_min, idle_span
        self._start_idle = [0.0, 0.0]   # idle CPU-seconds and seconds seen before the start decision
        self._start_pending = len(self.candidates) > 1
        self._window_idle = []          # idle CPU-seconds of the steady window's iterations
        self._probe_no_idle = False     # the running trial is a probe with no CPU idle
        self._probes_held = False       # such a probe kept the count (module, 5.)
        self.gap = min_gap
        self.history = []
        self.chosen = self.candidates[0]  # the warm-up and the first turn: one thread
        self._seen = 0
        self._since_trial = 0
        self._start_trial("start")

    # -- state -----------------------------------------------------------------------------
    def _start_trial(self, reason, recent=None, fewer_only=False):
        """A new trial; ``recent`` (the steady window's times at the current count) stands in
        for the current count's turns, so only the other counts are run (``fewer_only``:
        only those below the current count)."""
        self._reason = reason
        self._trial = {c: [] for c in self.candidates}
        if recent:
            self._trial[self.chosen] = list(recent)
            others = sorted((c for c in self.candidates if c != self.chosen and
                             not (fewer_only and c > self.chosen)), key=lambda c: abs(c - self.chosen))
            self._schedule = [c for _ in range(self.trial_rounds) for c in others]
        else:
            # The current count first (it needs no switch; at start-up, one thread), then
            # the others from the most threads down.
            order = [self.chosen] + [c for c in reversed(self.candidates) if c != self.chosen]
            self._schedule = [c for _ in range(self.trial_rounds) for c in order]
        self._reference = None
        self._probe_no_idle = False
        self._recent, self._recent_wait, self._window_idle = [], [], []

    def _decide_start(self, seconds, idle):
        """The start-up's idle-CPU rule (module, 5), called with each iteration until decided.
        Returns True when the iteration served the measurement (it is not counted further),
        False where no ticks are read (the iteration then counts as in 1.)."""
        if idle is None:
            self._start_pending = False
            return False
        self._start_idle[0] += idle
        self._start_idle[1] += seconds
        if self._start_idle[1] < self.idle_span:
            return True   # consumed: still measuring at one thread
        self._start_pending = False
        idle_cpus = self._start_idle[0] / self._start_idle[1]
        if idle_cpus < self.idle_min:
            self._reason = f"start: {idle_cpus:.2f} CPUs idle at one thread"
            self._schedule = [self.candidates[0]] * self.trial_rounds
        else:
            self.chosen = self.candidates[-1]
            self._start_trial(f"start: {idle_cpus:.2f} CPUs idle at one thread")
        return True

    def _idle_now(self):
        """Idle CPUs over the steady window (None: not measured)."""
        if not self._window_idle or any(i is None for i in self._window_idle):
            return None
        return sum(self._window_idle) / max(sum(self._recent), 1e-12)

    @property
    def in_trial(self):
        return bool(self._schedule)

    def count(self):
        """The thread count the next iteration should run with."""
        if len(self.candidates) == 1:
            return self.candidates[0]
        if self._start_pending:
            return self.candidates[0]
        if self._seen < self.warmup:
            return self.chosen
        return self._schedule[0] if self._schedule else self.chosen

    def exploring(self):
        """True when the next iteration is a trial's turn at a count other than the current
        one: its kernel picks may borrow a decided count's kernels (engines.Pick)."""
        return len(self.candidates) > 1 and not self._start_pending and self.count() != self.chosen

    # -- feeding -------------------------------------------------------------------------------
    def record(self, seconds, wait_share=0.0, settled=True, idle=None):
        """One iteration, run with ``count()`` threads, took ``seconds``; the main thread
        waited for a CPU ``wait_share`` of that time; ``settled`` is False when kernels were
        still being timed during it (then it is not counted: see the module); ``idle``: the
        CPU-seconds the process's CPUs were idle meanwhile (None: unknown)."""
        if len(self.candidates) == 1:
            return
        if self._start_pending and self._decide_start(seconds, idle):
            return
        if not settled and self._unsettled < self.max_unsettled:
            self._unsettled += 1
            return
        self._unsettled = 0
        self._seen += 1
        if self._seen <= self.warmup:
            return
        if self._schedule:
            count = self._schedule.pop(0)
            self._trial[count].append(seconds)
            if count == self.candidates[0] and len(self._trial[count]) == 1 and \
                    (wait_share or 0.0) > self.wait_rise:
                # One thread already waits for a CPU: no core is idle, more threads cannot
                # gain and would cost most (each slice waits for its slowest part).
                self._schedule = [c for c in self._schedule if c == count]
            self._prune()
            if not self._schedule:
                self._decide()
            return
        self._since_trial += 1
        self._recent.append(seconds)
        self._recent_wait.append(wait_share or 0.0)
        self._window_idle.append(idle)
        if len(self._recent) > self.window:
            self._recent.pop(0)
            self._recent_wait.pop(0)
            self._window_idle.pop(0)
        if len(self._recent) < self.window:
            return
        time_now = statistics.median(self._recent)
        wait_now = statistics.median(self._recent_wait)
        if self._reference is None:
            self._reference = (time_now, wait_now)
            return
        ref_time, ref_wait = self._reference
        if self._since_trial < self.gap:
            return
        slower = time_now > ref_time * (1 + self.drift) or wait_now > ref_wait + self.wait_rise
        faster = time_now < ref_time * (1 - self.drift)
        recent = list(self._recent)
        idle = self._idle_now()
        no_idle = idle is not None and idle < self.idle_min   # no idle CPU (module, 5.)
        if not no_idle:
            self._probes_held = False   # a CPU was idle (or unknown): the load has changed
        if self._since_trial >= self.recheck:
            if no_idle and self.chosen == self.candidates[0]:
                self._since_trial = 0   # fewer threads do not exist; the probes try more
                self._probes_held = False
                return
            self._start_trial(f"{self.recheck} iterations since the last trial", recent,
                              fewer_only=no_idle)
        elif slower and self.chosen > self.candidates[0]:
            self._start_trial(f"slower: {1e3 * ref_time:.3g} -> {1e3 * time_now:.3g} ms, CPU wait "
                              f"share {ref_wait:.2f} -> {wait_now:.2f}", recent, fewer_only=no_idle)
        elif faster and self.chosen < self.candidates[-1] and wait_now < self.wait_rise \
                and not no_idle:
            self._start_trial(f"faster: {1e3 * ref_time:.3g} -> {1e3 * time_now:.3g} ms", recent)
        elif self.probe and self.chosen < self.candidates[-1] and wait_now < self.wait_rise \
                and self._since_trial >= self.probe * self.gap \
                and not (no_idle and self._probes_held):
            self._start_trial(f"probe: below the most threads, CPU wait share {wait_now:.2f}", recent)
            self._probe_no_idle = no_idle

    def _prune(self):
        timed = {c: t for c, t in self._trial.items() if t}
        if len(timed) < 2:
            return
        medians = {c: statistics.median(t) for c, t in timed.items()}
        for c, t in timed.items():
            others = min(m for o, m in medians.items() if o != c)
            if min(t) > self.prune * others:
                self._schedule = [s for s in self._schedule if s != c]

    def _decide(self):
        medians = {c: statistics.median(t) for c, t in self._trial.items() if t}
        ordered = sorted(medians)
        best = ordered[0]
        for c in ordered[1:]:
            if medians[c] < medians[best] * (1 - self.margin):
                best = c
        if best == self.chosen and self.history:
            self.gap = min(self.gap * 2, self.max_gap)
            self._probes_held = self._probe_no_idle
        else:
            self.gap = self.min_gap
            self._probes_held = False
        self.chosen = best
        self._since_trial = 0
        self.history.append((self._reason, best, medians))
