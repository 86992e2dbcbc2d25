"""What `tscaffe reproduce` writes for a person: report.md says each thing once (one results
table, the teacher's profile once, each loss's choices once) and the job's progress lines
(students done / total, elapsed, ETA) on the terminal and in OUT/reproduce.log."""
import io
import re

from solver.progress import JobProgress, fmt_duration
from solver.report import write_report

PROFILE = ("Teacher on 2048 training samples: outputs logits, logits in [-9, 14], spread 2.6, "
           "median top-1/top-2 gap 2.3")
CHOSE_2017 = "Chose logit scale 1: the 2017 loss compares the teacher's own softmax"
CHOSE_KD = ["Chose logit scale 2.676: standardises the spread", "Chose temperature 5.21: gap"]
TEACHER = {"arch": "lenet + dropout", "accuracy": 0.975, "seconds": 61.2, "iterations": 3000,
           "onnx": "teacher.onnx"}


def student(name, loss, lam, labels, agreement, profile=PROFILE):
    chose = [CHOSE_2017] if loss == "2017" else CHOSE_KD
    return {"name": name, "loss": loss, "soft_weight": lam, "labels_used": labels,
            "temperature": 5.21 if loss == "kd" else None, "accuracy": 0.97,
            "agreement": agreement, "agreement_top5": 1.0, "kl": 0.01, "train_seconds": 20.4,
            "ts_loss_first": 7.35, "ts_loss_last": 6.56, "choices": [profile] + chose}


STUDENTS = [student("student_2017_l0", "2017", 0.0, True, 0.986),
            student("student_2017_l1_nolabels", "2017", 1.0, False, 0.956),
            student("student_kd_l0.5", "kd", 0.5, True, 0.995),
            student("student_kd_l1_nolabels", "kd", 1.0, False, 0.991)]


def table_rows(text):
    return [line for line in text.splitlines() if line.startswith("|")]


def test_report_says_each_thing_once(tmp_path):
    plots = [str(tmp_path / n) for n in ("agreement.png", "students.png")]
    text = write_report(str(tmp_path), "tscaffe reproduce mnist", "4000 / 1000 digits",
                        TEACHER, STUDENTS, plots, total_seconds=300)
    assert text == (tmp_path / "report.md").read_text()
    # One table: a header, the separator, the teacher, then every student in order.
    rows = table_rows(text)
    assert len(rows) == 2 + 1 + len(STUDENTS)
    assert rows[0].startswith("| run | loss | λ | labels | accuracy | top-1 agreement |")
    assert rows[2].startswith("| teacher (lenet + dropout, 3,000 iterations) | labels |")
    assert "| 0.9750 |" in rows[2]
    for row, s in zip(rows[3:], STUDENTS):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == s["name"]
        assert cells[1] == ("2017" if s["loss"] == "2017" else "KD, T=5.21")
        assert cells[2] == f"{s['soft_weight']:g}"
        assert cells[3] == ("yes" if s["labels_used"] else "no")
        assert cells[5] == f"{s['agreement']:.4f}"
    # The teacher's profile once, each loss's choices once, under that loss.
    assert text.count(PROFILE) == 1
    assert text.count(CHOSE_2017) == 1
    for line in CHOSE_KD:
        assert text.count(line) == 1
    assert text.index("**2017 loss** (2 runs)") < text.index(CHOSE_2017)
    assert text.index("**Hinton KD** (2 runs)") < text.index(CHOSE_KD[0])
    # The agreement figure opens the report, before the table; the other plots after.
    assert text.index("](agreement.png)") < text.index("| run |")
    assert text.index("](students.png)") > text.index("barely falls")
    assert "300 s in all (5.0 minutes)" in text


def test_report_names_the_runs_of_each_distinct_profile(tmp_path):
    other = "Teacher on 512 training samples: outputs probabilities"
    students = STUDENTS[:2] + [student("student_kd_x", "kd", 0.5, True, 0.9, profile=other)]
    text = write_report(str(tmp_path), "t", "d", TEACHER, students, [])
    assert text.count(PROFILE) == 1 and text.count(other) == 1
    assert f"{PROFILE} (student_2017_l0, student_2017_l1_nolabels)" in text
    assert f"{other} (student_kd_x)" in text
    given = dict(TEACHER, arch="client.onnx", accuracy=None, iterations=0, seconds=0.0)
    rows = table_rows(write_report(str(tmp_path), "t", "d", given, students, []))
    assert rows[2] == "| teacher (client.onnx, given) | - | - | - | - | - | - | - | - | - |"


LINE = re.compile(r"^tscaffe reproduce mnist: students (\d+)/(\d+) done, elapsed ([^\s,]+), "
                  r"ETA ([^\s;]+)(?:; now: (\S+) \((?:\d+/)?(\d+) iterations\))?$")


def test_progress_lines_on_the_terminal_and_in_the_log(tmp_path):
    now = [100.0]
    terminal = io.StringIO()
    log = tmp_path / "reproduce.log"
    log.write_text("a previous job\n")
    plan = [("teacher", 3000, False)] + [(f"s{i}", 1000, True) for i in range(3)]
    job = JobProgress("tscaffe reproduce mnist", plan, str(log), stream=terminal,
                      clock=lambda: now[0], start=95.0)  # any clock: seconds
    lines = [job.begin()]
    now[0] += 60      # the teacher: 3,000 iterations in 60 s -> 0.02 s per iteration
    lines.append(job.done())
    now[0] += 30      # a student: 1,000 iterations in 30 s
    lines.append(job.done())
    now[0] += 50      # the next one in 50 s: 40 s per 1,000 on average
    lines.append(job.done())
    now[0] += 40
    lines.append(job.done())
    parsed = [LINE.match(line).groups() for line in lines]
    assert parsed == [
        ("0", "3", "5s", "unknown", "teacher", "3000"),
        ("0", "3", "1m05s", "1m00s", "s0", "1000"),     # 3 x 1,000 x 0.02 s
        ("1", "3", "1m35s", "1m00s", "s1", "1000"),     # 2 x 1,000 x 0.03 s
        ("2", "3", "2m25s", "40s", "s2", "1000"),       # 1 x 1,000 x 0.04 s
        ("3", "3", "3m05s", "0s", None, None),
    ]
    assert terminal.getvalue().splitlines() == lines
    logged = log.read_text().splitlines()
    assert len(logged) == len(lines)  # the job's log starts with the job
    for entry, line in zip(logged, lines):
        assert re.match(r"^I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ reproduce\.py:1\] ", entry)
        assert entry.endswith("] " + line)


def test_progress_of_a_run_in_progress_from_its_log(tmp_path):
    import datetime
    import time

    base = datetime.datetime(2026, 12, 6, 10, 0, 0).timestamp()
    now = [base]
    terminal = io.StringIO()
    teacher_log, student_log = tmp_path / "teacher.log", tmp_path / "s0.log"
    plan = [("teacher", 3000, False, str(teacher_log)), ("s0", 1000, True, str(student_log)),
            ("s1", 1000, True, str(student_log))]
    job = JobProgress("tscaffe reproduce mnist", plan, None, stream=terminal,
                      clock=lambda: now[0], start=base)
    job.begin()
    now[0] = base + 30
    assert job.tick() is None            # no log yet: nothing said
    teacher_log.write_text("I1206 10:00:05.000000  7 solver.cpp:239] Iteration 0, loss = 2.3\n"
                           "I1206 10:01:00.000000  7 solver.cpp:239] Iteration 750 (10 iter/s)\n"
                           "I1206 10:01:00.100000  7 solver.cpp:258]     Train net output #0: "
                           "loss = 0.3\n")
    now[0] = base + 90                   # 750 iterations by 10:01:00, 60 s: 0.08 s each
    line = job.tick()
    # The teacher's 2,250 left at 0.08 s, less the 30 s since its line; both students'
    # 2,000 at the teacher's speed: 150 + 160 s.
    assert LINE.match(line).groups() == ("0", "2", "1m30s", "5m10s", "teacher", "3000")
    assert line.endswith("; now: teacher (750/3000 iterations)")
    now[0] = base + 240
    job.done()                           # the teacher took 240 s
    student_log.write_text("I1206 10:04:15.000000  7 solver.cpp:239] Iteration 100, loss = 1\n")
    now[0] = base + 260                  # the first student: 100 in 15 s, 0.15 s each
    line = job.tick()
    # 900 at 0.15 s less the 5 s since its line, then the second student at its speed.
    assert line.endswith("ETA 4m40s; now: s0 (100/1000 iterations)")
    assert terminal.getvalue().splitlines()[-1] == line
    with job.ticking(0.01):              # the thread ticks as well
        time.sleep(0.2)
    assert terminal.getvalue().count("(100/1000 iterations)") >= 3


def test_duration_format():
    assert [fmt_duration(s) for s in (0, 4.4, 59.6, 60, 252, 3599, 3600, 3725)] == [
        "0s", "4s", "1m00s", "1m00s", "4m12s", "59m59s", "1h00m", "1h02m"]


def test_readme_section_has_the_figure_next_to_the_table(tmp_path):
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "bench"))
    import readme_results

    path = tmp_path / "report.json"
    path.write_text("{}")
    report = {"teacher": TEACHER, "students": STUDENTS, "data": "d", "total_seconds": 300,
              "_path": str(path)}
    figure = str(REPO / "bench" / "results" / "reproduce_mnist_agreement.png")
    text = readme_results.tables(report, figure=figure)
    lines = text.splitlines()
    image = lines.index("![top-1 agreement with the teacher during training and at the end, "
                        "by λ](bench/results/reproduce_mnist_agreement.png)")
    assert lines[image + 2].startswith("| run | loss |")   # the table right under it
    assert len(table_rows(text)) == 2 + 1 + len(STUDENTS)


def test_progress_line_is_written_around_a_solver_bar(monkeypatch):
    """With a solver's tqdm bar on the terminal, the line goes through the bar's external
    write mode (the bar is cleared, the line written, the bar redrawn)."""
    import contextlib

    from caffe_compat import glog

    entered = []

    class Bar:
        @contextlib.contextmanager
        def external_write_mode(self, file=None):
            entered.append(file)
            yield

    terminal = io.StringIO()
    monkeypatch.setattr(glog, "_active_bar", Bar())
    job = JobProgress("tscaffe reproduce mnist", [("s0", 10, True)], None, stream=terminal)
    line = job.begin()
    assert entered == [terminal] and terminal.getvalue() == line + "\n"
