"""The teacher's error type."""
from caffe_compat.errors import CaffeError


class TeacherError(CaffeError):
    """A teacher model cannot be loaded or does not fit the data/student."""
