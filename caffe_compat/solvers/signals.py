"""What SIGINT / SIGHUP ask of a solving solver (Caffe's SolverAction) and the handlers
that record them for the duration of ``solve()``."""
import signal
import threading

from ..errors import SolverError

NONE, STOP, SNAPSHOT = "none", "stop", "snapshot"
SIGNAL_EFFECTS = (NONE, STOP, SNAPSHOT)


def check_effect(effect):
    if effect not in SIGNAL_EFFECTS:
        raise SolverError(f"signal effect: '{effect}' is not one of {', '.join(SIGNAL_EFFECTS)}")


class SignalHandlers:
    """SIGINT/SIGHUP handlers for the duration of ``solve()`` (main thread only); the
    signals received are appended to ``solver.signals_received``."""

    def __init__(self, solver):
        self.solver = solver
        self.saved = {}

    def _handler(self, signum, frame):
        self.solver.signals_received.append(signum)

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in ("SIGINT", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is not None:
                self.saved[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, previous in self.saved.items():
            signal.signal(sig, previous)
        return False


def requested_action(solver):
    """The effect of the oldest pending signal that has one (NONE when there is none)."""
    while solver.signals_received:
        sig = solver.signals_received.pop(0)
        effect = solver.sigint_effect if sig == signal.SIGINT else solver.sighup_effect
        if effect != NONE:
            return effect
    return NONE
