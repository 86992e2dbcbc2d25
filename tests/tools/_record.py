"""What the recording tools share: writing their JSON atomically."""
import json
import os


def write_json(path, record):
    """``record`` as indented, key-sorted JSON at ``path``, written atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)
