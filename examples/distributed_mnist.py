"""MNIST on several processes, written as a PyTorch DDP script: each process trains on its
share of every batch, DistributedDataParallel averages the gradients, and the test set is
evaluated in shares whose counts are added.

Run:
    mpirun -n 2 python examples/distributed_mnist.py          # 2 processes (add
                                                              # --allow-run-as-root as root,
                                                              # --oversubscribe on a laptop)
    python examples/distributed_mnist.py                      # the same script, 1 process

Needs ``pip install 'ournn[mpi]'`` to run on several processes. ``--batch-size`` is per
process, as in PyTorch: N processes take steps of N x 64 samples.
"""
import argparse
import time

import numpy as np

import ournn as torch                      # the script reads as PyTorch's
import ournn.distributed as dist
import ournn.nn as nn
import ournn.nn.functional as F
from ournn.data import MNIST, ArrayDataset, DataLoader, DistributedSampler
from ournn.nn.parallel import DistributedDataParallel as DDP


def net():
    return nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 4 * 4, 10))


def test_accuracy(model, x, y, rank, world):
    """Accuracy on (x, y): each process a contiguous share, the counts all-reduced, so each
    image counts once whatever the sizes."""
    lo, hi = len(x) * rank // world, len(x) * (rank + 1) // world
    model.eval()
    with torch.no_grad():
        predicted = model(x[lo:hi]).numpy().argmax(axis=1)
    counts = torch.tensor([float((predicted == y[lo:hi]).sum()), float(hi - lo)],
                          dtype=torch.float64)
    dist.all_reduce(counts)
    model.train()
    return counts[0].item() / counts[1].item()


def main(epochs=1, batch_size=64, lr=1e-3, limit=None):
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    x, y = MNIST(train=True).arrays()
    tx, ty = MNIST(train=False).arrays()
    if limit:
        x, y, tx, ty = x[:limit], y[:limit], tx[:limit], ty[:limit]
    dataset = ArrayDataset(x, y)
    sampler = DistributedSampler(dataset, shuffle=True, seed=0)   # this process's share
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler)
    model = DDP(net())                   # rank 0's initial weights, copied to every process
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    accuracy = None
    for epoch in range(epochs):
        sampler.set_epoch(epoch)         # a new order each epoch, the same in every process
        start = time.perf_counter()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()              # gradients averaged over the processes here
            optimizer.step()
        accuracy = test_accuracy(model.module, tx, ty, rank, world)
        if rank == 0:
            print(f"epoch {epoch + 1}: test accuracy {100 * accuracy:.2f}% "
                  f"({time.perf_counter() - start:.1f}s, {world} process"
                  f"{'es' if world > 1 else ''}, last loss {loss.item():.4f})", flush=True)
    # every process holds the same weights; rank 0 would save model.module.state_dict()
    checksum = np.array([sum(float(p.numpy().sum()) for p in model.parameters())])
    dist.all_reduce(checksum, op=dist.ReduceOp.MAX)
    same = checksum[0] == sum(float(p.numpy().sum()) for p in model.parameters())
    dist.destroy_process_group()
    return {"accuracy": accuracy, "rank": rank, "world_size": world, "same_weights": bool(same)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64, help="per process")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--limit", type=int, default=None, help="use the first N images")
    args = parser.parse_args()
    result = main(args.epochs, args.batch_size, args.lr, args.limit)
    print(f"rank {result['rank']}: the same weights as every process: "
          f"{result['same_weights']}", flush=True)
