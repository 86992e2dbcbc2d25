"""pycaffe cases: caffe.io (conversions, resizing, crops, Transformer); see pycaffe_cases.py."""
import numpy as np


# -------------------------------------------------------------------------------------- io
def io_results(caffe):
    io, pb = caffe.io, caffe.proto.caffe_pb2
    out = {}
    rng = np.random.RandomState(5)
    arr = rng.randn(2, 3, 4).astype(np.float32)
    blob = io.array_to_blobproto(arr, diff=arr * 2)
    out["array_to_blobproto"] = blob.SerializeToString().hex()
    out["blobproto_to_array_diff"] = io.blobproto_to_array(blob, return_diff=True).ravel().tolist()
    legacy = pb.BlobProto(num=1, channels=2, height=1, width=3)
    legacy.data.extend([1, 2, 3, 4, 5, 6])
    out["blobproto_legacy_shape"] = list(io.blobproto_to_array(legacy).shape)
    vec = io.arraylist_to_blobprotovector_str([arr, np.arange(3.0)])
    out["blobprotovector"] = vec.hex()
    out["blobprotovector_back"] = [a.ravel().tolist() for a in io.blobprotovector_str_to_arraylist(vec)]
    img8 = rng.randint(0, 256, size=(3, 2, 4)).astype(np.uint8)
    out["datum_uint8"] = io.array_to_datum(img8, label=7).SerializeToString().hex()
    out["datum_float"] = io.array_to_datum(arr.astype(np.float64)).SerializeToString().hex()
    out["datum_back_uint8"] = [str(io.datum_to_array(io.array_to_datum(img8)).dtype),
                               io.datum_to_array(io.array_to_datum(img8)).ravel().tolist()]
    out["datum_back_float"] = io.datum_to_array(io.array_to_datum(arr)).ravel().tolist()
    try:
        io.array_to_datum(arr[0])
    except ValueError as e:
        out["datum_2d"] = str(e)
    # resize_image: the 1/3-channel path (scikit-image) and the zoom path, up and down.
    resized = {}
    for key, shape, dims, order in (("up3", (5, 7, 3), (9, 11), 1), ("down3", (12, 10, 3), (5, 4), 1),
                                    ("down1", (9, 9, 1), (4, 6), 1), ("mixed1", (6, 13, 1), (10, 5), 1),
                                    ("zoom2", (6, 8, 2), (9, 5), 1), ("const", (4, 4, 3), (6, 2), 1),
                                    ("nearest", (5, 6, 3), (8, 3), 0)):
        image = rng.rand(*shape).astype(np.float32) * 3 - 1
        if key == "const":
            image[...] = 0.25
        result = io.resize_image(image, dims, interp_order=order)
        resized[key] = [str(result.dtype), list(result.shape), result.ravel().tolist()]
    out["resize_image"] = resized
    images = [rng.rand(7, 9, 3).astype(np.float32) for _ in range(2)]
    crops = io.oversample(images, (4, 5))
    out["oversample"] = [list(crops.shape), crops.ravel().tolist()]
    crops = io.oversample([rng.rand(8, 8, 1).astype(np.float32)], (3, 3))
    out["oversample_odd"] = [list(crops.shape), crops.ravel().tolist()]
    # Transformer
    t = io.Transformer({"data": (1, 3, 6, 5)})
    t.set_transpose("data", (2, 0, 1))
    t.set_channel_swap("data", (2, 1, 0))
    t.set_raw_scale("data", 255)
    t.set_mean("data", np.array([104.0, 117.0, 123.0]))
    t.set_input_scale("data", 0.5)
    image = rng.rand(6, 5, 3).astype(np.float32)
    pre = t.preprocess("data", image)
    out["transformer_pre"] = [list(pre.shape), pre.ravel().tolist()]
    out["transformer_de"] = t.deprocess("data", pre).ravel().tolist()
    pre_resized = t.preprocess("data", rng.rand(9, 8, 3).astype(np.float32))
    out["transformer_resize"] = [list(pre_resized.shape), pre_resized.ravel().tolist()]
    t2 = io.Transformer({"data": (1, 3, 4, 4)})
    t2.set_mean("data", rng.rand(3, 6, 6) * 100)
    out["transformer_mean_resized"] = t2.mean["data"].ravel().tolist()
    errors = {}
    for key, call in (("input", lambda: t.preprocess("nope", image)),
                      ("transpose", lambda: t.set_transpose("data", (1, 0))),
                      ("swap", lambda: t.set_channel_swap("data", (1, 0))),
                      ("mean_channels", lambda: t.set_mean("data", np.zeros(4))),
                      ("mean_shape", lambda: t.set_mean("data", np.zeros((1, 2, 3, 4))))):
        try:
            call()
        except Exception as e:
            errors[key] = [type(e).__name__, str(e)]
    out["transformer_errors"] = errors
    return out
