"""``tscaffe time`` output, glog formatting details, the progress bar staying out of the log."""
import re


from conftest import CAFFE_REF, need


def test_fmt_num_prints_like_cpp_ostream():
    from solver.log import fmt_num

    # Values as they appear in Caffe's logs.
    assert fmt_num(0.01) == "0.01"
    assert fmt_num(1.0) == "1"
    assert fmt_num(0.5) == "0.5"
    assert fmt_num(4.88176e26) == "4.88176e+26"
    assert fmt_num(185.18518518) == "185.185"
    assert fmt_num(0.009992508) == "0.00999251"
    assert fmt_num(3e-05) == "3e-05"
    assert fmt_num(12) == "12"


def test_glog_prefix_layout(capfd):
    from solver import log

    log.info("solver.cpp:239", "hello")
    err = capfd.readouterr().err
    assert re.fullmatch(r"I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ solver\.cpp:239\] hello\n", err)
    tid = err.split()[2]
    assert len(err.split("solver.cpp")[0]) == len("I1127 12:53:49.578321 12872 ")  # width 5 tid
    assert tid.isdigit()


def test_minloglevel_silences_info(capfd, monkeypatch):
    from solver import log

    monkeypatch.setenv("GLOG_minloglevel", "1")
    log.info("solver.cpp:239", "quiet")
    log.warning("solver.cpp:239", "loud")
    err = capfd.readouterr().err
    assert "quiet" not in err and err.startswith("W")


def test_no_progress_bar_without_a_terminal(capfd):
    from solver import log

    with log.progress(total=5) as bar:
        for _ in range(5):
            bar.update()
    out = capfd.readouterr()
    assert bar.bar is None and out.out == "" and out.err == ""


def test_time_command_lines(capfd):
    from solver.cli import main

    net = need(CAFFE_REF / "solvers/sgd_inv/net.prototxt")
    capfd.readouterr()
    assert main(["time", "-model", str(net), "-iterations", "2"]) == 0
    err = capfd.readouterr().err
    msgs = [re.sub(r"^\S+ \S+ +\d+ (\S+)\] ", r"\1 ", l) for l in err.splitlines() if "caffe.cpp" in l]
    text = "\n".join(msgs)
    for expected in ("caffe.cpp:351 Performing Forward", "caffe.cpp:357 Performing Backward",
                     "caffe.cpp:365 *** Benchmark begins ***", "caffe.cpp:366 Testing for 2 iterations.",
                     "caffe.cpp:397 Average time per layer: ", "caffe.cpp:415 *** Benchmark ends ***"):
        assert expected in msgs, expected
    assert len(re.findall(r"caffe\.cpp:394 Iteration: \d forward-backward time: [\d.e+-]+ ms\.", text)) == 2
    fwd = re.findall(r"caffe\.cpp:400 +(\S+)\tforward: [\d.e+-]+ ms\.", text)
    bwd = re.findall(r"caffe\.cpp:403 +(\S+)\tbackward: [\d.e+-]+ ms\.", text)
    assert fwd == bwd and len(fwd) >= 8 and fwd[0] == "input" and fwd[-1] == "loss"
    assert re.search(r"caffe\.cpp:400      input\tforward: ", text)  # right-aligned in 10 columns
    tail = msgs[-5:]
    for line, start in zip(tail, ("caffe.cpp:408 Average Forward pass: ", "caffe.cpp:410 Average Backward pass: ",
                                  "caffe.cpp:412 Average Forward-Backward: ", "caffe.cpp:414 Total Time: ",
                                  "caffe.cpp:415 *** Benchmark ends ***")):
        assert line.startswith(start), line


def test_progress_bar_on_a_terminal_stays_out_of_the_log(tmp_path):
    """stdout on a pseudo-terminal gets tqdm's bar; stderr (the log) never sees it."""
    import os
    import pty
    import subprocess
    import sys

    from conftest import REPO

    folder = need(CAFFE_REF / "solvers/sgd_inv")
    solver = tmp_path / "solver.prototxt"
    solver.write_text(f'net: "{folder / "net.prototxt"}"\nbase_lr: 0.01\nlr_policy: "fixed"\n'
                      f'max_iter: 5\ndisplay: 1\nsnapshot_after_train: false\n')
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "solver", "train", "-solver", str(solver)],
                            stdout=slave, stderr=subprocess.PIPE, env=env, text=True)
    os.close(slave)
    screen = b""
    while True:  # read while it runs: a pty's buffer is gone once the child has exited
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert b"iter" in screen and b"5/5" in screen
    assert "\r" not in err and "5/5" not in err and "iter/s]" not in err
    assert "Optimization Done." in err


def test_help_lists_every_subcommand_for_tscaffe_and_python_m_solver():
    import os
    import shutil
    import subprocess
    import sys

    from solver.cli import COMMANDS

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    script = shutil.which("tscaffe")
    assert script, "the tscaffe console command is not installed (pip install -e .)"
    outputs = [subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
               for cmd in ([script, "--help"], [sys.executable, "-m", "solver", "--help"])]
    for proc in outputs:
        assert proc.returncode == 0, proc.stderr
        for name in COMMANDS:
            assert f"    {name}" in proc.stdout, (name, proc.stdout)
    assert outputs[0].stdout == outputs[1].stdout
