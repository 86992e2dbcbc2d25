"""One protobuf text printer (caffe_compat/proto_text.py) for the net debug string, the
prototxt writer and the log numbers; the numbers as C++ prints them (protobuf's SimpleFtoa /
SimpleDtoa, ostream's %g)."""
import numpy as np

from caffe_compat.proto import caffe_pb2


def test_simple_ftoa_and_ostream_g():
    from caffe_compat.proto_text import ostream_g, simple_ftoa

    assert simple_ftoa(1.0) == "1" and simple_ftoa(0.1) == "0.1"
    assert simple_ftoa(np.float32(1) / np.float32(3)) == "0.333333343"   # 6 digits do not round-trip
    assert simple_ftoa(1 / 3, single=False) == "0.33333333333333331"
    assert simple_ftoa(1e-5) == "1e-05" and simple_ftoa(float("-inf")) == "-inf"
    assert ostream_g(3) == "3" and ostream_g(np.float32(0.1)) == "0.1"
    assert ostream_g(1234567.0) == "1.23457e+06"


def test_one_printer_for_debug_string_and_prototxt():
    import prototxt.io as pio
    from caffe_compat import glog
    from caffe_compat.net import debug_string
    from caffe_compat.proto_text import ostream_g

    net = caffe_pb2.NetParameter(name="n")
    layer = net.layer.add(name="ip", type="InnerProduct", bottom=["data"], top=["ip"])
    layer.inner_product_param.num_output = 10
    layer.inner_product_param.weight_filler.std = 0.01
    layer.loss_weight.append(1.0)
    assert pio.to_text(net) == debug_string(net)
    assert 'loss_weight: 1\n' in pio.to_text(net) and "std: 0.01\n" in pio.to_text(net)
    net.name = "caf\u00e9"
    assert 'name: "caf\u00e9"' in pio.to_text(net)            # files: UTF-8 kept
    assert 'name: "caf\\303\\251"' in debug_string(net)        # DebugString: octal escapes
    assert glog.fmt_num(np.float32(2.5)) == ostream_g(np.float32(2.5)) == "2.5"
    assert not hasattr(pio, "_print_message") and not hasattr(pio, "_cpp_float")
