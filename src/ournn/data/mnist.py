"""MNIST and Fashion-MNIST, with torchvision's names and a fast array path.

    >>> train = MNIST(train=True)            # finds, verifies (downloads if needed) and decodes
    >>> X, y = train.arrays(flatten=True)    # float32 (60000, 784) in [0, 1], int64 (60000,)
    >>> loader = DataLoader(train, batch_size=128, shuffle=True)  # batches (128, 1, 28, 28)

Where the files are looked for and how they are verified is in :mod:`ournn.data.sources`.
"""
import numpy as np

from ..errors import DatasetError
from . import sources
from .dataset import Dataset


class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28, 10 classes.

    Args:
        root: a folder searched first for the four IDX files (``<root>/mnist/`` or ``<root>/``),
            before ``$OURNN_DATA`` and the cache.
        train: the training split (True) or the test split (False).
        download: download missing files into the cache (see :mod:`ournn.data.sources`).
        transform: a batch transform (see :mod:`ournn.data.transforms`) applied to images
            in ``[i]`` and ``get_batch`` (not in :meth:`arrays`).

    Attributes:
        data: uint8 (N, 28, 28), read-only (decoded arrays are shared within the process).
        targets: int64 (N,).
        classes: the class names, ``classes[label]``.
    """

    name = "mnist"
    classes = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine")
    mean, std = 0.1307, 0.3081  # of the training pixels in [0, 1], for normalize=True

    def __init__(self, root=None, train=True, download=True, transform=None):
        self.root, self.train, self.transform = root, bool(train), transform
        image_file, label_file = sources.SPLIT_FILES["train" if self.train else "test"]
        images = sources.load_idx(self.name, image_file, root, download)
        labels = sources.load_idx(self.name, label_file, root, download)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DatasetError(f"{self.name} {image_file}: expected uint8 images "
                               f"(N, 28, 28), got {images.dtype} {images.shape}")
        if labels.shape != (len(images),) or labels.dtype != np.uint8:
            raise DatasetError(f"{self.name} {label_file}: expected {len(images)} uint8 "
                               f"labels, got {labels.dtype} {labels.shape}")
        self.data = images
        self.targets = labels.astype(np.int64)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        """``(image float32 (1, 28, 28) in [0, 1] after the transform, label int)``."""
        images, labels = self.get_batch(np.array([index]))
        return images[0], int(labels[0])

    def get_batch(self, indices):
        """``(images float32 (B, 1, 28, 28) in [0, 1] after the transform, labels int64 (B,))``
        for an int array ``indices`` (B,): one fancy index, no per-sample loop."""
        indices = np.asarray(indices)
        images = self.data[indices][:, None].astype(np.float32) * np.float32(1 / 255)
        if self.transform is not None:
            images = self.transform(images)
        return images, self.targets[indices]

    def arrays(self, flatten=False, normalize=None):
        """The whole split as arrays, the fast path for training.

        Returns ``(X, y)``: X float32 (N, 1, 28, 28), or (N, 784) if ``flatten``, scaled to
        [0, 1]; y int64 (N,). ``normalize=True`` standardises X with the dataset's training
        mean and std (``self.mean``, ``self.std``), ``normalize=(mean, std)`` with those.
        The dataset's ``transform`` is not applied."""
        x = self.data.astype(np.float32)
        x *= np.float32(1 / 255)
        if normalize is not None and normalize is not False:
            mean, std = (self.mean, self.std) if normalize is True else normalize
            x -= np.float32(mean)
            x /= np.float32(std)
        x = x.reshape(len(x), -1) if flatten else x[:, None]
        return x, self.targets.copy()

    def __repr__(self):
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(split={split!r}, samples={len(self)})"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando Research): 28x28 grey images of 10 kinds of clothing, as
    :class:`MNIST` (same arguments, attributes and sizes)."""

    name = "fashion-mnist"
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")
    mean, std = 0.2860, 0.3530
