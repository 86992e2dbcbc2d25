"""Read a Caffe-style training log into train/test tables, as Caffe's tools/extra/parse_log.py.

The rules are Caffe's (the files written are the same, row for row):

- lines before the one containing ``Solving`` are skipped; its timestamp is time zero
  (``Seconds``), with the year taken from the log file's creation time and bumped when the
  month goes backwards;
- ``Iteration (\\d+)`` anywhere in a line sets the current iteration; nothing is recorded
  before the first one;
- ``lr = X`` sets the current learning rate (NaN until the first one);
- each ``Train net output #k: name = v`` / ``Test net output #k: name = v`` line fills a
  column of the current train/test row (``NumIters``, ``Seconds``, ``LearningRate``, then
  the outputs in order of appearance). A row is stored once it has as many columns as the
  first stored row, or when a later iteration starts a new row; the row still open at the
  end of the log is dropped (so a log with a single test pass gives an empty test table,
  as with Caffe's script);
- the first row's LearningRate is copied from the second row (it is logged after the
  first test and display lines);
- a CSV file is not written when its table is empty.

One addition: a log without a ``Solving`` line (pycaffe's ``solver.step`` runs) is read
from its first line, time zero being its first timestamped line; Caffe's script returns
empty tables for such logs.
"""
import csv
import datetime
import math
import os
import re

_ITERATION = re.compile(r"Iteration (\d+)")
_TRAIN_OUTPUT = re.compile(r"Train net output #(\d+): (\S+) = ([\.\deE+-]+)")
_TEST_OUTPUT = re.compile(r"Test net output #(\d+): (\S+) = ([\.\deE+-]+)")
_LEARNING_RATE = re.compile(r"lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)")


def line_datetime(line, year):
    """The glog timestamp of ``line`` (``I0210 13:39:22.381027 ...``); ValueError if none."""
    parts = line.strip().split()
    if len(parts) < 2:
        raise ValueError("no glog prefix")
    head, clock = parts[0], parts[1]
    month, day = int(head[1:3]), int(head[3:])
    dot = clock.rfind(".")
    if dot < 0:
        raise ValueError("no microseconds")
    hour, minute, second = (int(x) for x in clock[:dot].split(":"))
    micro = int(clock[dot + 1:])
    return datetime.datetime(year, month, day, hour, minute, second, micro)


def log_created_year(path):
    return datetime.datetime.fromtimestamp(os.path.getctime(path)).year


def _start(lines, year):
    """(index of the first line to parse, start time)."""
    for i, line in enumerate(lines):
        if "Solving" in line:
            return i + 1, line_datetime(line, year)
    for line in lines:  # no Solving line: our fallback (see the module docstring)
        try:
            return 0, line_datetime(line, year)
        except (ValueError, IndexError):
            continue
    return len(lines), None


def _add_output(regex, row, rows, line, iteration, seconds, rate):
    match = regex.search(line)
    if match:
        if row is None or row["NumIters"] != iteration:
            if row is not None:
                rows.append(row)
            row = {"NumIters": iteration, "Seconds": seconds, "LearningRate": rate}
        row[match.group(2)] = float(match.group(3))
    if row is not None and rows and len(row) == len(rows[0]):
        rows.append(row)
        row = None
    return row


def parse_log(path):
    """(train_rows, test_rows): lists of dicts (column -> float), in Caffe's column order."""
    with open(path, errors="replace") as f:
        lines = f.readlines()
    year = log_created_year(path)
    first, start_time = _start(lines, year)
    last_time = start_time
    iteration = -1.0
    rate = float("nan")
    train, test = [], []
    train_row = test_row = None
    for line in lines[first:]:
        match = _ITERATION.search(line)
        if match:
            iteration = float(match.group(1))
        if iteration == -1:
            continue
        try:
            when = line_datetime(line, year)
        except (ValueError, IndexError):
            continue  # raw lines (a printed prototxt, a traceback)
        if when.month < last_time.month:
            year += 1
            when = line_datetime(line, year)
        last_time = when
        seconds = (when - start_time).total_seconds()
        match = _LEARNING_RATE.search(line)
        if match:
            rate = float(match.group(1))
        train_row = _add_output(_TRAIN_OUTPUT, train_row, train, line, iteration, seconds, rate)
        test_row = _add_output(_TEST_OUTPUT, test_row, test, line, iteration, seconds, rate)
    for rows in (train, test):
        if len(rows) > 1:
            rows[0]["LearningRate"] = rows[1]["LearningRate"]
    return train, test


def write_csv(path, rows, delimiter=","):
    """Write ``rows`` as Caffe's script does (csv.DictWriter, excel dialect); skip if empty."""
    if not rows:
        return False
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()), delimiter=delimiter,
                                lineterminator="\r\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return True


def save_csv_files(log_path, output_dir, train, test, delimiter=","):
    """Write ``<output_dir>/<log name>.train`` and ``.test``; return the paths written."""
    base = os.path.basename(log_path)
    written = []
    for suffix, rows in ((".train", train), (".test", test)):
        out = os.path.join(output_dir, base + suffix)
        if write_csv(out, rows, delimiter):
            written.append(out)
    return written


def read_csv(path):
    """Read a table written by ``write_csv`` (or by Caffe's script) back as dicts of floats."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def same_value(a, b, rtol=0.0):
    if math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= rtol * max(abs(a), abs(b))
