"""Writing files safely, on the ground floor: nothing here imports ournn but its errors.

- :func:`atomic_write_bytes` / :func:`atomic_write_text`: the one atomic writer. The bytes go
  to a temporary file beside the target, are flushed to disk, and the file is renamed over
  the target, so a crash or Ctrl-C never leaves a half-written file.
- :func:`temporary_file`: the temporary files every writer uses, named
  ``.tmp-<pid>-XXXXXXXX.part``, so that :func:`remove_stale_partial_writes` can tell a live
  writer's file from one a killed process left behind, and :func:`remove_partial_writes`
  can clean a whole folder.
- :func:`check_save_path`: refuse a target that is a folder or whose name has control
  characters, before anything is written.
- :func:`read_toml`: a TOML file as a dict.
- :data:`LIMITS`: what reading an untrusted file (a checkpoint, a model config) may make
  ournn allocate; ``ournn.io.LIMITS`` is the same dict.

Checkpoints (``ournn.save``/``ournn.load``), datasets, figures, logs and tuner reports all
write through here.
"""
import os
import tempfile

from .errors import CheckpointError

__all__ = ["LIMITS", "atomic_write_bytes", "atomic_write_text", "check_save_path", "read_toml",
           "remove_partial_writes", "remove_stale_partial_writes", "temporary_file"]

# Limits on what a checkpoint may make ``load`` allocate, checked from the archive's
# directory and the arrays' headers before any array is read, and on what a model config
# may declare. Change them here (e.g. ``ournn.io.LIMITS["archive_bytes"] = 64 * 2**30``) to
# read larger files.
LIMITS = {
    "archive_bytes": 8 * 2**30,      # all arrays together, uncompressed
    "compression_ratio": 50,         # uncompressed / compressed size of a member (> 1 MiB)
    "meta_bytes": 64 * 2**20,        # the __meta__.json document
    "members": 100_000,              # entries in the archive
    "parameters": 2_000_000_000,     # parameters a model config may declare
    "layers": 10_000,                # layers a model config may declare
}

# Temporary files of atomic writes: ``.tmp-PID-XXXXXXXX.part`` beside the file being written.
_TMP_PREFIX, _TMP_SUFFIX = ".tmp-", ".part"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_file(folder):
    """``(fd, path)`` of a new temporary file in ``folder``, named as atomic writes name
    theirs, ``.tmp-PID-XXXXXXXX.part`` (so ``remove_partial_writes`` cleans it up if a killed
    process leaves it, and ``remove_stale_partial_writes`` knows whether its writer lives)."""
    return tempfile.mkstemp(dir=folder, prefix=f"{_TMP_PREFIX}{os.getpid()}-",
                            suffix=_TMP_SUFFIX)


def _writer_alive(name):
    """Whether the process that created temporary file ``name`` still runs (names without a
    process id come from older versions: their writer is gone)."""
    pid = name[len(_TMP_PREFIX):].split("-", 1)[0]
    if not pid.isdigit() or "-" not in name[len(_TMP_PREFIX):]:
        return False
    pid = int(pid)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True          # someone else's process (or unknowable): leave its file alone
    return True


def _is_partial_write(name):
    return name.startswith(_TMP_PREFIX) and name.endswith(_TMP_SUFFIX)


def remove_stale_partial_writes(folder):
    """Delete, in ``folder`` only, the temporary files of atomic writes whose writer is no
    longer running (a ``kill -9`` during a save). Live writers' files are kept. Returns the
    names removed. Called by every atomic write and by ``ournn train --resume``."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if _is_partial_write(name) and not _writer_alive(name):
            try:
                os.unlink(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def remove_partial_writes(folder):
    """Delete the temporary files that killed processes left under ``folder`` (an atomic
    write renames its file only when complete, so these are never a finished file)."""
    for root, _, files in os.walk(folder):
        for name in files:
            if _is_partial_write(name):
                remove_quietly(os.path.join(root, name))


def remove_quietly(path):
    """Delete ``path`` if it is there (a missing file or a failed delete is not an error)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def check_save_path(path):
    """Refuse, before anything is written, a file name with control characters (a trailing
    newline from a script, an escape sequence) and a path that is a folder. Returns the path
    as a string."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    bad = sorted({c for c in path if ord(c) < 32 or ord(c) == 127})
    if bad:
        raise CheckpointError(f"cannot save to {path!r}: the name contains control "
                              f"character(s) {', '.join(repr(c) for c in bad)}")
    if not path or os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise CheckpointError(f"cannot save to {path!r}: it is a folder; give a file name "
                              f"inside it, e.g. {os.path.join(path or '.', 'model.ckpt')}")
    return path


def atomic_write(path, write, check=None):
    """Write ``path`` atomically: ``write(f)`` fills a temporary file (opened ``"wb"``)
    beside it; the file is flushed to disk, ``check(temporary_path)`` (when given; it raises
    to reject the file) runs on it, and only then is it renamed over ``path``. On any error
    the temporary file is removed. Temporary files that killed writers left in that folder
    are removed first. Returns what ``check`` returned (None without one)."""
    path = check_save_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_partial_writes(folder)
    fd, tmp = temporary_file(folder)
    try:
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes it owner-only; use normal rights
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        result = check(tmp) if check is not None else None
        os.replace(tmp, path)
        return result
    except BaseException:
        remove_quietly(tmp)
        raise


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def read_toml(path):
    """A TOML file as a dict (``tomllib``; ``tomli`` on Python 3.10). Invalid TOML raises a
    ValueError naming the file."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError as e:
            raise RuntimeError("reading TOML on Python 3.10 needs: pip install tomli") from e
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML ({e})") from None
