"""The overall progress of a job of several training runs (``tscaffe reproduce``).

One line after the teacher and after every student, on the terminal (stderr) and in the
job's log (``OUT/reproduce.log``, glog-style lines), in this form::

    tscaffe reproduce mnist: students 3/9 done, elapsed 4m12s, ETA 6m30s; now: student_kd_l0.25

- *elapsed*: wall time since the job started (data preparation included);
- *ETA*: the time still needed for the runs not yet done, from the measured speed: the
  wall seconds per iteration of the students finished so far (setup, tests and export
  included) times the iterations left; before any student has finished, the teacher's;
  before that, ``unknown``.
  Each run's planned iterations come with the plan, so a teacher of 3,000 iterations and
  students of 1,000 are weighed as such;
- *now*: the run being trained next (with its iterations), absent on the last line.

Per-iteration bars stay the solver's (``solver.log.progress``, terminals only); these lines
are for the whole job and also reach logs and pipes.
"""
import sys
import time

from . import log as glog

PROGRESS_SRC = "reproduce.py:1"


def fmt_duration(seconds):
    """``45s``, ``4m12s``, ``1h02m``: whole seconds, minutes from 60 s, hours from 3600 s."""
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class JobProgress:
    """``JobProgress(title, plan, log_path)``: ``plan`` is the list of ``(name, iterations,
    is_student)`` in training order. Call :meth:`begin` once, before the first run, then
    :meth:`done` after each run (its wall time is measured from the previous call); every
    call writes one line (and returns it)."""

    def __init__(self, title, plan, log_path=None, stream=None, clock=time.monotonic,
                 start=None):
        self.title = title
        self.plan = [(str(n), int(it), bool(student)) for n, it, student in plan]
        self.log_path = log_path
        self.stream = stream if stream is not None else sys.stderr  # the terminal, not a log
        self.clock = clock
        self.start = clock() if start is None else start
        self._mark = self.start
        self.finished = []  # (name, iterations, is_student, seconds)
        if log_path:  # the job's log starts with the job
            open(log_path, "w").close()

    @property
    def students_total(self):
        return sum(1 for _, _, student in self.plan if student)

    def eta(self):
        """Seconds still needed for the runs not done, or None before any run finished."""
        students = [(secs, it) for _, it, student, secs in self.finished if student]
        measured = students or [(secs, it) for _, it, _, secs in self.finished]
        if not measured:
            return None
        rate = sum(s for s, _ in measured) / max(sum(it for _, it in measured), 1)
        left = sum(it for _, it, _ in self.plan[len(self.finished):])
        return rate * left

    def line(self):
        done = sum(1 for f in self.finished if f[2])
        eta = self.eta()
        text = (f"{self.title}: students {done}/{self.students_total} done, elapsed "
                f"{fmt_duration(self.clock() - self.start)}, ETA "
                f"{'unknown' if eta is None else fmt_duration(eta)}")
        if len(self.finished) < len(self.plan):
            name, iterations, _ = self.plan[len(self.finished)]
            text += f"; now: {name} ({iterations} iterations)"
        return text

    def _write(self, text):
        try:
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
        now = self.clock()
        name, iterations, student = self.plan[len(self.finished)]
        self.finished.append((name, iterations, student, now - self._mark))
        self._mark = now
        return self._write(self.line())

    def note(self, text):
        """A line of the job that is not a run (plots, report)."""
        return self._write(f"{self.title}: {text}")
