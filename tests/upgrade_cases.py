"""Inputs for the upgrade comparison with Caffe 1.0's upgrade tools (our own files, written
for the behaviours src/caffe/test/test_upgrade_proto.cpp checks): V0 nets with padding
layers (one and two tops) and V0 parameters, V1 nets with every V1 layer type and every V1
layer field, V1 data layers' transformation fields (and the empty transform_param Caffe
adds), net-level inputs, BatchNorm's old three param specs, every solver_type enum, a net
mixing ``layer`` and ``layers`` (refused), files already current.

tests/tools/record_upgrade.py ran real Caffe's tools on them (tests/data/upgrade_real.json);
tests/test_upgrade_tools.py runs ``tscaffe upgrade`` on the same inputs.
"""
V1_TYPES = ["ABSVAL", "ACCURACY", "ARGMAX", "BNLL", "CONCAT", "CONTRASTIVE_LOSS", "CONVOLUTION",
            "DATA", "DECONVOLUTION", "DROPOUT", "DUMMY_DATA", "EUCLIDEAN_LOSS", "ELTWISE", "EXP",
            "FLATTEN", "HDF5_DATA", "HDF5_OUTPUT", "HINGE_LOSS", "IM2COL", "IMAGE_DATA",
            "INFOGAIN_LOSS", "INNER_PRODUCT", "LRN", "MEMORY_DATA", "MULTINOMIAL_LOGISTIC_LOSS",
            "MVN", "POOLING", "POWER", "RELU", "SIGMOID", "SIGMOID_CROSS_ENTROPY_LOSS", "SILENCE",
            "SOFTMAX", "SOFTMAX_LOSS", "SPLIT", "SLICE", "TANH", "WINDOW_DATA", "THRESHOLD"]

NETS = {
    "v1_all_types": "name: 'all_v1_types'\n" + "".join(
        f"layers {{ name: 'l_{t.lower()}' type: {t} bottom: 'in' top: 'out_{t.lower()}' }}\n"
        for t in V1_TYPES),
    "v1_all_fields": """name: 'v1_fields'
input: 'data' input_dim: 2 input_dim: 3 input_dim: 8 input_dim: 8
input: 'label' input_dim: 2 input_dim: 1 input_dim: 1 input_dim: 1
layers { name: 'conv' type: CONVOLUTION bottom: 'data' top: 'conv'
  blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0 param: 'w' param: 'b'
  blob_share_mode: STRICT blob_share_mode: PERMISSIVE
  include { phase: TRAIN stage: 's' } exclude { not_stage: 'x' }
  convolution_param { num_output: 4 kernel_size: 3 pad: 1 stride: 2 group: 1
    weight_filler { type: 'gaussian' std: 0.01 } bias_filler { type: 'constant' value: 0.1 } } }
layers { name: 'pool' type: POOLING bottom: 'conv' top: 'pool' pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
layers { name: 'relu' type: RELU bottom: 'pool' top: 'pool' relu_param { negative_slope: 0.1 } }
layers { name: 'lrn' type: LRN bottom: 'pool' top: 'lrn' lrn_param { local_size: 3 alpha: 0.0001 beta: 0.75 } }
layers { name: 'drop' type: DROPOUT bottom: 'lrn' top: 'lrn' dropout_param { dropout_ratio: 0.3 } }
layers { name: 'ip' type: INNER_PRODUCT bottom: 'lrn' top: 'ip' blobs_lr: 1 blobs_lr: 2
  inner_product_param { num_output: 10 weight_filler { type: 'xavier' } } }
layers { name: 'loss' type: SOFTMAX_LOSS bottom: 'ip' bottom: 'label' top: 'loss' loss_weight: 2
  loss_param { ignore_label: 3 normalize: false } }
layers { name: 'acc' type: ACCURACY bottom: 'ip' bottom: 'label' top: 'acc' accuracy_param { top_k: 2 } include { phase: TEST } }
""",
    "v1_data_transform": """name: 'v1_data'
layers { name: 'd' type: DATA top: 'data' top: 'label'
  data_param { source: 'train_lmdb' backend: LMDB batch_size: 64 scale: 0.00390625 mirror: true crop_size: 24 mean_file: 'mean.binaryproto' } }
layers { name: 'plain' type: DATA top: 'data2' top: 'label2' data_param { source: 'test_lmdb' batch_size: 10 } }
layers { name: 'img' type: IMAGE_DATA top: 'img' top: 'imgl' image_data_param { source: 'list.txt' batch_size: 2 new_height: 32 new_width: 32 mirror: false } }
layers { name: 'win' type: WINDOW_DATA top: 'win' top: 'winl' window_data_param { source: 'w.txt' batch_size: 3 crop_size: 16 } }
layers { name: 'mem' type: MEMORY_DATA top: 'mem' top: 'meml' memory_data_param { batch_size: 1 channels: 1 height: 2 width: 2 } }
layers { name: 'ip' type: INNER_PRODUCT bottom: 'data' top: 'ip' inner_product_param { num_output: 2 } }
""",
    "v1_data_no_transform": """name: 'v1_data_plain'
layers { name: 'plain' type: DATA top: 'data' top: 'label' data_param { source: 'test_lmdb' batch_size: 10 } }
layers { name: 'img' type: IMAGE_DATA top: 'img' top: 'imgl' image_data_param { source: 'list.txt' batch_size: 2 } }
""",
    "input_shape": """name: 'inputs'
input: 'a' input_shape { dim: 1 dim: 3 dim: 5 dim: 5 }
input: 'b' input_shape { dim: 1 dim: 7 }
layer { name: 'c' type: 'Concat' bottom: 'a' bottom: 'a' top: 'c' }
""",
    "batchnorm_params": """name: 'bn'
layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
layer { name: 'bn' type: 'BatchNorm' bottom: 'data' top: 'bn' param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 } param { name: 'm' } }
layer { name: 'bn2' type: 'BatchNorm' bottom: 'bn' top: 'bn2' param { lr_mult: 1 } }
""",
    "current": """name: 'current'
layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: 2 } } }
layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'ip' inner_product_param { num_output: 3 } }
""",
    "mixed_layer_layers": """name: 'mixed'
layer { name: 'new' type: 'ReLU' bottom: 'x' top: 'x' }
layers { name: 'old' type: RELU bottom: 'x' top: 'x' }
""",
    "v0_padding": """name: 'v0_pad'
input: 'data' input_dim: 1 input_dim: 3 input_dim: 9 input_dim: 9
layers { layer { name: 'pad1' type: 'padding' pad: 2 } bottom: 'data' top: 'pad1' }
layers { layer { name: 'conv1' type: 'conv' num_output: 4 kernelsize: 3 stride: 1 biasterm: false
    weight_filler { type: 'gaussian' std: 0.01 } blobs_lr: 1 weight_decay: 1 } bottom: 'pad1' top: 'conv1' }
layers { layer { name: 'relu1' type: 'relu' } bottom: 'conv1' top: 'conv1' }
layers { layer { name: 'pool1' type: 'pool' pool: MAX kernelsize: 2 stride: 2 } bottom: 'conv1' top: 'pool1' }
layers { layer { name: 'ip' type: 'innerproduct' num_output: 5 bias_filler { type: 'constant' value: 1 } } bottom: 'pool1' top: 'ip' }
layers { layer { name: 'prob' type: 'softmax' } bottom: 'ip' top: 'prob' }
""",
    "v0_two_tops": """name: 'v0_two'
layers { layer { name: 'data' type: 'data' source: 'db' batchsize: 32 scale: 0.5 meanfile: 'm.binaryproto' cropsize: 20 mirror: true rand_skip: 3 } top: 'data' top: 'label' }
layers { layer { name: 'pad' type: 'padding' pad: 1 } bottom: 'data' top: 'pad' }
layers { layer { name: 'conv' type: 'conv' num_output: 2 kernelsize: 3 group: 1 } bottom: 'pad' top: 'conv' }
layers { layer { name: 'lrn' type: 'lrn' local_size: 5 alpha: 0.0001 beta: 0.75 } bottom: 'conv' top: 'lrn' }
layers { layer { name: 'drop' type: 'dropout' dropout_ratio: 0.4 } bottom: 'lrn' top: 'lrn' }
layers { layer { name: 'ip' type: 'innerproduct' num_output: 3 } bottom: 'lrn' top: 'ip' }
layers { layer { name: 'loss' type: 'softmax_loss' } bottom: 'ip' bottom: 'label' }
layers { layer { name: 'acc' type: 'accuracy' } bottom: 'ip' bottom: 'label' top: 'acc' }
""",
}

SOLVERS = {f"solver_{name.lower()}": f"net: 'n.prototxt'\nbase_lr: 0.01\nsolver_type: {name}\nmax_iter: 10\n"
           for name in ("SGD", "NESTEROV", "ADAGRAD", "RMSPROP", "ADADELTA", "ADAM")}
SOLVERS["solver_current"] = "net: 'n.prototxt'\nbase_lr: 0.01\ntype: \"Adam\"\nmax_iter: 10\n"
SOLVERS["solver_both"] = "net: 'n.prototxt'\nsolver_type: ADAM\ntype: \"Adam\"\n"
