"""Caffe-format (glog) log lines: ``caffe_compat.glog``, plus the source tags of tscaffe's
own lines (no Caffe counterpart)."""
from caffe_compat.glog import *  # noqa: F401,F403
from caffe_compat.glog import fmt_num, install_glog_handler, progress  # noqa: F401

# tscaffe's own lines: the teacher's setup and the distill loop.
TEACHER_CACHE = "teacher.py:1"
DISTILL_SETUP = "distill.py:1"
DISTILL_RECOVERY = "distill.py:2"
