"""glog-style logging to stderr, line for line as Caffe 1.0 writes it (the solvers' and the
commands' lines; ``solver.log`` adds tscaffe's own source tags).

Each line is ``LMMDD HH:MM:SS.uuuuuu TTTTT file.cpp:NNN] message`` with L one of I, W, E,
the thread id right-aligned in 5 columns, and the source location Caffe 1.0 (master
99bd997, the build of ../shared/caffe-reference) logs from, so tools written for Caffe
logs (parse_log.py, parse_log.sh, regexes) read ours unchanged. ``GLOG_minloglevel``
(0 = INFO, 1 = WARNING, 2 = ERROR) silences lower levels, as with glog.

Numbers are printed as C++ ``ostream <<`` prints them: ``fmt_num`` (6 significant digits,
``%g``).

A tqdm progress bar (``progress``) goes to stdout, only when stdout is a terminal, and
never into the log: log lines are written around it with tqdm's external write mode.
"""
import datetime
import os
import sys
import threading

from .proto_text import ostream_g

# Source locations of Caffe 1.0's log lines (copied from the reference logs).
SOLVER_INIT = "solver.cpp:45"
SOLVER_SCAFFOLDING = "solver.cpp:57"
SOLVER_FINETUNE = "solver.cpp:72"
SOLVER_TRAIN_NET_FILE = "solver.cpp:102"
SOLVER_TRAIN_NET_PARAM = "solver.cpp:92"
SOLVER_TRAIN_NET_LEGACY = "solver.cpp:97"
SOLVER_TRAIN_NET_NET_PARAM = "solver.cpp:99"
SOLVER_TEST_NET = "solver.cpp:190"
SOLVER_ITERATION = "solver.cpp:239"
SOLVER_TRAIN_OUTPUT = "solver.cpp:258"
SOLVER_SOLVING = "solver.cpp:289"
SOLVER_POLICY = "solver.cpp:290"
SOLVER_RESTORING = "solver.cpp:292"
SOLVER_STOPPED = "solver.cpp:310"
SOLVER_FINAL_LOSS = "solver.cpp:327"
SOLVER_DONE = "solver.cpp:332"
SOLVER_TESTING = "solver.cpp:347"
SOLVER_TEST_INTERRUPTED = "solver.cpp:385"
SOLVER_TEST_LOSS = "solver.cpp:390"
SOLVER_TEST_OUTPUT = "solver.cpp:414"
SOLVER_SNAPSHOT_MODEL = "solver.cpp:464"
SGD_MULTISTEP = "sgd_solver.cpp:50"
SGD_CLIP = "sgd_solver.cpp:99"
SGD_LR = "sgd_solver.cpp:112"
SGD_SNAPSHOT_STATE = "sgd_solver.cpp:284"
SGD_RESTORE_HISTORY = "sgd_solver.cpp:318"
CAFFE_USE_CPU = "caffe.cpp:197"  # train
CAFFE_TEST_USE_CPU = "caffe.cpp:275"
CAFFE_TIME_USE_CPU = "caffe.cpp:343"
CAFFE_RESUMING = "caffe.cpp:235"
CAFFE_STARTING = "caffe.cpp:239"
CAFFE_DONE = "caffe.cpp:250"
CAFFE_TEST_RUNNING = "caffe.cpp:281"
CAFFE_TEST_BATCH = "caffe.cpp:304"
CAFFE_TEST_LOSS = "caffe.cpp:309"
CAFFE_TEST_SCORE = "caffe.cpp:321"
CAFFE_TIME_PERFORMING_FORWARD = "caffe.cpp:351"
CAFFE_TIME_INITIAL_LOSS = "caffe.cpp:356"
CAFFE_TIME_PERFORMING_BACKWARD = "caffe.cpp:357"
CAFFE_TIME_BEGINS = "caffe.cpp:365"
CAFFE_TIME_TESTING_FOR = "caffe.cpp:366"
CAFFE_TIME_ITERATION = "caffe.cpp:394"
CAFFE_TIME_PER_LAYER = "caffe.cpp:397"
CAFFE_TIME_LAYER_FORWARD = "caffe.cpp:400"
CAFFE_TIME_LAYER_BACKWARD = "caffe.cpp:403"
CAFFE_TIME_AVG_FORWARD = "caffe.cpp:408"
CAFFE_TIME_AVG_BACKWARD = "caffe.cpp:410"
CAFFE_TIME_AVG_FB = "caffe.cpp:412"
CAFFE_TIME_TOTAL = "caffe.cpp:414"
CAFFE_TIME_ENDS = "caffe.cpp:415"
CAFFE_TIME_ENGINE = "caffe.cpp:405"  # tscaffe's own line: which engine computed a layer

_LEVELS = {"I": 0, "W": 1, "E": 2, "F": 3}
_bar_lock = threading.Lock()
_active_bar = None


def fmt_num(x):
    """A number as C++ ``ostream << float`` prints it (``%g``, 6 significant digits)."""
    return ostream_g(x)


def _min_level():
    try:
        return int(os.environ.get("GLOG_minloglevel", "0"))
    except ValueError:
        return 0


def prefix(level="I", src="solver.cpp:0", now=None):
    now = now or datetime.datetime.now()
    tid = threading.get_native_id()
    return (
        f"{level}{now.month:02d}{now.day:02d} {now.hour:02d}:{now.minute:02d}:"
        f"{now.second:02d}.{now.microsecond:06d} {tid:5d} {src}] "
    )


def _emit(text):
    stream = sys.stderr
    bar = _active_bar
    if bar is not None:
        with bar.external_write_mode(file=stream):
            stream.write(text)
            stream.flush()
    else:
        stream.write(text)
        stream.flush()


def log(level, src, message):
    """Write one glog line (``message`` may continue over further raw lines, as glog does)."""
    if _LEVELS.get(level, 0) < _min_level():
        return
    # glog ends a line with a newline unless the message already does (DebugString dumps).
    _emit(prefix(level, src) + message + ("" if message.endswith("\n") else "\n"))


def info(src, message):
    log("I", src, message)


def warning(src, message):
    log("W", src, message)


def error(src, message):
    log("E", src, message)


class progress:
    """Context manager: a tqdm bar on stdout when stdout is a terminal, otherwise nothing.

    ``update(n)`` advances it. The bar never reaches the log: stderr lines are written
    with the bar cleared and redrawn afterwards.
    """

    def __init__(self, total, initial=0, desc="train"):
        self.total, self.initial, self.desc = total, initial, desc
        self.bar = None

    def __enter__(self):
        global _active_bar
        if sys.stdout is not None and hasattr(sys.stdout, "isatty") and sys.stdout.isatty():
            try:
                from tqdm import tqdm
            except ImportError:  # the bar is a convenience, never a requirement
                return self
            try:
                size = os.get_terminal_size(sys.stdout.fileno())
                known = size.columns > 0 and size.lines > 0
            except (OSError, ValueError, AttributeError):
                known = False
            # A terminal that reports no size (a bare pty) would make tqdm hide the bar.
            width = {"dynamic_ncols": True} if known else {"ncols": 80, "nrows": 24}
            self.bar = tqdm(
                total=self.total, initial=self.initial, desc=self.desc, file=sys.stdout,
                unit="iter", leave=False, **width,
            )
            with _bar_lock:
                _active_bar = self.bar
        return self

    def update(self, n=1):
        if self.bar is not None:
            self.bar.update(n)

    def describe(self, text):
        """Replace the bar's label (its ETA still counts to ``total``)."""
        if self.bar is not None:
            self.bar.set_description_str(text)

    def set_total(self, n):
        """Where the bar ends, so its ETA counts to ``n`` (an early stop's expected end)."""
        self.total = n
        if self.bar is not None:
            self.bar.total = n
            self.bar.refresh()

    def reset_to(self, n):
        """Move the bar back to ``n`` (a rollback of the divergence guard)."""
        if self.bar is not None:
            self.bar.n = n
            self.bar.refresh()

    def __exit__(self, *exc):
        global _active_bar
        if self.bar is not None:
            with _bar_lock:
                _active_bar = None
            self.bar.close()
        return False


# -- caffe_compat's messages (net building, data layers) in the same glog format -----------
import logging as _logging

_GLOG_LEVEL = {_logging.DEBUG: "I", _logging.INFO: "I", _logging.WARNING: "W",
               _logging.ERROR: "E", _logging.CRITICAL: "F"}


class GlogHandler(_logging.Handler):
    """Writes ``logging`` records as glog lines.

    The source location is the record's ``caffe_src`` attribute when the caller gives one
    (``log.info(msg, extra={"caffe_src": "data_layer.cpp:73"})``, Caffe's file:line), else
    the Python module and line.
    """

    def emit(self, record):
        try:
            level = _GLOG_LEVEL.get(record.levelno, "I")
            src = getattr(record, "caffe_src", None) or f"{record.module}.py:{record.lineno}"
            log(level, src, record.getMessage())
        except Exception:  # a log line must never break training
            self.handleError(record)


def install_glog_handler(logger_name="caffe_compat"):
    """Route ``logger_name``'s records (INFO and up) to stderr as glog lines; idempotent."""
    logger = _logging.getLogger(logger_name)
    if not any(isinstance(h, GlogHandler) for h in logger.handlers):
        logger.addHandler(GlogHandler())
    logger.setLevel(_logging.INFO)
    logger.propagate = False
    return logger
