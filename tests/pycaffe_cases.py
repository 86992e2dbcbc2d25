"""pycaffe cases run both by real pycaffe (tests/tools/record_pycaffe.py, in Caffe 1.0's
Python 3.9) and by caffe_compat (tests/test_pycaffe_*.py): each takes the ``caffe`` module
(real ``caffe`` or ``caffe_compat``) and returns plain data (text, lists, numbers), so both
sides' answers can be compared as JSON.

NetSpec cases include the nets of the 2017 notebook ``mnist/TS_MNIST_Documentation.ipynb``
(EricHe98/Teacher-Student-Training), written here as our own code building the same nets
through the same NetSpec calls.
"""
from pycaffe_cases_apps import app_results  # noqa: F401
from pycaffe_cases_io import io_results  # noqa: F401
from pycaffe_cases_net import (BATCH_NET, DRAW_NETS, SIMPLE_NET, SOLVER_NET, SOLVER_TYPES,  # noqa: F401
                               _solver_text, _write, draw_nets, draw_records, graph_record,
                               net_results, solver_results)
from pycaffe_cases_netspec import (COORD_CASES, TEST_SOURCE, TRAIN_SOURCE, coord_maps,  # noqa: F401
                                   netspec_errors, netspec_texts)
