"""The overall progress of a job of several training runs (``tscaffe reproduce``).

A line after the teacher and after every student, and every minute while a run trains, on
the terminal (stderr) and in the job's log (``OUT/reproduce.log``, glog-style lines)::

    tscaffe reproduce mnist: students 3/9 done, elapsed 4m12s, ETA 6m30s; now: student_kd_l0.25 (1000 iterations)
    tscaffe reproduce mnist: students 3/9 done, elapsed 4m42s, ETA 6m05s; now: student_kd_l0.25 (400/1000 iterations)

- *elapsed*: wall time since the job started (data preparation included);
- *ETA*: the time still needed for the runs not yet done, from the measured speed: the
  wall seconds per iteration of the students finished so far (setup, tests and export
  included) times the iterations left; before any student has finished, the teacher's or
  the running run's own (its iterations up to its log's last ``Iteration N`` line, at that
  line's time, so the estimate does not drift between display lines); before any of that,
  ``unknown``;
- *now*: the run being trained (its planned iterations, and while it trains the last
  ``Iteration N`` its own log shows), absent on the last line.

Each run's planned iterations come with the plan, so a teacher of 3,000 iterations and
students of 1,000 are weighed as such. Per-iteration bars stay the solver's
(``solver.log.progress``, terminals only); these lines are for the whole job and also reach
logs and pipes.
"""
import datetime
import os
import re
import sys
import threading
import time

from caffe_compat import glog

PROGRESS_SRC = "reproduce.py:1"
TICK_SECONDS = 60.0
_ITERATION = re.compile(rb"^[IWEF]\d{4} (\d\d):(\d\d):(\d\d(?:\.\d+)?) .*?Iteration (\d+)", re.M)


def fmt_duration(seconds):
    """``45s``, ``4m12s``, ``1h02m``: whole seconds, minutes from 60 s, hours from 3600 s."""
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def last_iteration(log_path, now=None, tail=65536):
    """``(N, when)`` of the last glog line of a (growing) Caffe log that says ``Iteration N``:
    ``when`` is that line's time as a ``time.time()`` value (its clock time on the day of
    ``now``, the day before when that would be in the future); None without such a line."""
    try:
        with open(log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - tail, 0))
            found = _ITERATION.findall(f.read())
    except OSError:
        return None
    if not found:
        return None
    hours, minutes, seconds, iteration = found[-1]
    now = time.time() if now is None else now
    day = datetime.datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
    when = (day + datetime.timedelta(hours=int(hours), minutes=int(minutes),
                                     seconds=float(seconds))).timestamp()
    if when > now + 60:
        when -= 86400
    return int(iteration), when


class JobProgress:
    """``JobProgress(title, plan, log_path)``: ``plan`` is the list of ``(name, iterations,
    is_student[, run log])`` in training order. Call :meth:`begin` once, before the first
    run, then :meth:`done` after each run (its wall time is measured from the previous
    call); every call writes one line (and returns it). :meth:`tick` writes the line of a
    run in progress (from its log's last iteration); ``ticking(seconds)`` calls it from a
    background thread meanwhile."""

    def __init__(self, title, plan, log_path=None, stream=None, clock=time.time, start=None):
        self.title = title
        self.plan = [(str(p[0]), int(p[1]), bool(p[2]), p[3] if len(p) > 3 else None)
                     for p in plan]
        self.log_path = log_path
        self.stream = stream if stream is not None else sys.stderr  # the terminal, not a log
        self.clock = clock
        self.start = clock() if start is None else start
        self._mark = self.start
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.finished = []  # (name, iterations, is_student, seconds)
        if log_path:  # the job's log starts with the job
            open(log_path, "w").close()

    @property
    def students_total(self):
        return sum(1 for p in self.plan if p[2])

    def eta(self, current_done=None, when=None):
        """Seconds still needed for the runs not done, or None while nothing was measured.
        ``current_done``: iterations the running run had done at ``when`` (a clock value;
        default now): its own speed then counts."""
        students = [(secs, it) for _, it, student, secs in self.finished if student]
        measured = students or [(secs, it) for _, it, _, secs in self.finished]
        rate = (sum(s for s, _ in measured) / max(sum(it for _, it in measured), 1)
                if measured else None)
        upcoming = self.plan[len(self.finished):]
        if not current_done or not upcoming:
            return None if rate is None else rate * sum(p[1] for p in upcoming)
        now = self.clock()
        when = now if when is None else min(when, now)
        now_rate = max(when - self._mark, 0.0) / current_done
        current = upcoming[0]
        left_here = max(max(current[1] - current_done, 0) * now_rate - (now - when), 0.0)
        later = upcoming[1:]
        if students or not current[2]:
            later_rate = rate if rate is not None else now_rate
        else:  # the first student: its own speed says more than the teacher's
            later_rate = now_rate
        return left_here + later_rate * sum(p[1] for p in later)

    def line(self, current_done=None, when=None):
        done = sum(1 for f in self.finished if f[2])
        eta = self.eta(current_done, when)
        text = (f"{self.title}: students {done}/{self.students_total} done, elapsed "
                f"{fmt_duration(self.clock() - self.start)}, ETA "
                f"{'unknown' if eta is None else fmt_duration(eta)}")
        if len(self.finished) < len(self.plan):
            name, iterations = self.plan[len(self.finished)][:2]
            its = (f"{iterations}" if current_done is None else
                   f"{min(current_done, iterations)}/{iterations}")
            text += f"; now: {name} ({its} iterations)"
        return text

    def _write(self, text):
        with self._lock:
            try:
                # A solver's tqdm bar on the terminal: write around it.
                bar = getattr(glog, "_active_bar", None)
                if bar is not None:
                    with bar.external_write_mode(file=self.stream):
                        self.stream.write(text + "\n")
                else:
                    self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed terminal never stops the job
                pass
            if self.log_path:
                with open(self.log_path, "a") as f:
                    f.write(glog.prefix("I", PROGRESS_SRC) + text + "\n")
        return text

    def begin(self):
        self._mark = self.clock()
        return self._write(self.line())

    def done(self):
        with self._lock:
            now = self.clock()
            name, iterations, student, _ = self.plan[len(self.finished)]
            self.finished.append((name, iterations, student, now - self._mark))
            self._mark = now
        return self._write(self.line())

    def tick(self):
        """The line of the run in progress, from its log's last ``Iteration N``; None (and
        nothing written) when the run has no log or no iteration yet."""
        with self._lock:
            if len(self.finished) >= len(self.plan):
                return None
            log = self.plan[len(self.finished)][3]
            last = last_iteration(log, self.clock()) if log else None
            if not last or not last[0]:
                return None
            text = self.line(*last)
        return self._write(text)

    def ticking(self, seconds=TICK_SECONDS):
        """Context manager: :meth:`tick` every ``seconds`` from a daemon thread meanwhile."""
        job = self

        class _Ticking:
            def __enter__(self):
                job._stop.clear()
                job._thread = threading.Thread(target=job._loop, args=(seconds,),
                                               name="job-progress", daemon=True)
                job._thread.start()
                return job

            def __exit__(self, *exc):
                job._stop.set()
                job._thread.join(timeout=5)
                return False

        return _Ticking()

    def _loop(self, seconds):
        while not self._stop.wait(seconds):
            try:
                self.tick()
            except Exception:  # a progress line must never break the job
                pass

    def note(self, text):
        """A line of the job that is not a run (plots, report)."""
        return self._write(f"{self.title}: {text}")
