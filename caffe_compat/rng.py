"""The process-wide random generator (Caffe's ``Caffe::rng``).

Fillers, Dropout and the data transformer draw from it; ``set_seed`` is what the solver's
``random_seed`` and pycaffe's ``caffe.set_random_seed`` call, so seeded runs repeat exactly.
"""
import numpy as np

_rng = np.random.default_rng()


def set_seed(seed):
    """Reseed the generator; a negative seed (Caffe's default -1) means a fresh random one."""
    global _rng
    _rng = np.random.default_rng(None if seed is None or seed < 0 else int(seed))


def get_rng():
    return _rng


def get_state():
    """Opaque generator state, for snapshots that resume bit for bit."""
    return _rng.bit_generator.state


def set_state(state):
    _rng.bit_generator.state = state
