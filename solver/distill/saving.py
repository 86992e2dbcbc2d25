"""The job's result files: the student's caffemodel (its layers alone) and ONNX export."""
import caffe_compat as caffe
from caffe_compat.onnx_export import export_onnx
from prototxt.io import read_net
from prototxt.netedit import swap_data_for_input


def save_student(ts_solver, student_prototxt, caffemodel, onnx_path):
    """The student's layers alone (a caffemodel of the standalone net) and its ONNX export."""
    param = read_net(student_prototxt)
    data = ts_solver.net.blobs["data"].shape
    deploy = swap_data_for_input(param, tuple(data[1:]), batch=1, phase=caffe.TEST)
    net = caffe.Net(deploy, caffe.TEST)
    for name, blobs in net.params.items():
        for mine, trained in zip(blobs, ts_solver.net.params[name]):
            mine.data[...] = trained.data
    net.save(caffemodel)
    export_onnx(net, onnx_path)
    return net
