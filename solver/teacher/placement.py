"""Where a logit cache file lives: next to the dataset when its folder is the user's to
write, else in the user's cache directory (``platformdirs``; ``$TSCAFFE_CACHE_DIR`` wins);
named by the teachers' and the dataset's hashes."""
import os
import tempfile

from .errors import TeacherError
from .hashing import dataset_sha256

CACHE_ENV = "TSCAFFE_CACHE_DIR"
BESIDE = ".tscaffe-teacher-cache"


def user_cache_root():
    """The user's cache directory for tscaffe: ``$TSCAFFE_CACHE_DIR``, else the platform's
    user cache directory (``$XDG_CACHE_HOME/tscaffe``, else ``~/.cache/tscaffe`` on Linux)."""
    if os.environ.get(CACHE_ENV):
        return os.path.abspath(os.environ[CACHE_ENV])
    import platformdirs

    return os.path.abspath(platformdirs.user_cache_dir("tscaffe", appauthor=False))


def folder_is_ours(folder):
    """Whether tscaffe may write into ``folder``: it exists, this user owns it, its mode
    lets its owner write (root honours the mode bits too: a folder marked read-only is
    somebody's data, even where root could write), and a file can really be created in it
    (a read-only mount says no here). A folder owned by another user counts as shared."""
    try:
        st = os.stat(folder)
    except OSError:
        return False
    if st.st_uid != os.geteuid() or not st.st_mode & 0o200:
        return False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tscaffe-probe-"):
            pass
    except OSError:
        return False
    return True


def cache_folder_for(data_path):
    """(folder, why) for the logit cache of the dataset at ``data_path``:
    ``$TSCAFFE_CACHE_DIR/teacher-cache`` when that is set; else ``.tscaffe-teacher-cache``
    next to the data when the data's folder is the user's to write; else the user's cache
    directory, so a read-only or shared data folder is never written."""
    data_path = os.path.abspath(data_path)
    base = os.path.dirname(data_path) if os.path.isfile(data_path) else data_path
    if os.environ.get(CACHE_ENV):
        return (os.path.join(user_cache_root(), "teacher-cache"),
                f"${CACHE_ENV} is set")
    beside = os.path.join(base, BESIDE)
    if os.path.isdir(beside) and folder_is_ours(beside):
        return beside, "next to the data"
    if not os.path.isdir(beside) and folder_is_ours(base):
        return beside, "next to the data"
    return (os.path.join(user_cache_root(), "teacher-cache"),
            f"the data folder {base} is read-only or not this user's")


def cache_path_for(data_path, ensemble):
    """Where the cache of ``ensemble`` on the dataset at ``data_path`` lives (see
    ``cache_folder_for``), named by the teachers' hash and the dataset's hash."""
    return place_cache(data_path, ensemble)[0]


def place_cache(data_path, ensemble):
    """(cache file, why there) of ``ensemble`` on the dataset at ``data_path``."""
    if not os.path.exists(data_path):
        raise TeacherError(f"teacher cache: dataset {data_path!r} not found")
    data_path = os.path.abspath(data_path)
    folder, why = cache_folder_for(data_path)
    name = (f"{os.path.basename(data_path.rstrip(os.sep))}-teacher-{ensemble.key[:16]}"
            f"-data-{dataset_sha256(data_path)[:16]}.npz")
    return os.path.join(folder, name), why
