"""DistributedSampler: PyTorch's index lists (torch is the oracle where installed), an epoch
per order, padding by repetition, and a position that survives a resume."""
import numpy as np
import pytest

from helpers import requires_torch, torch
from ournn.data import ArrayDataset, DataLoader, DistributedSampler

CASES = [(n, replicas, drop_last) for n in (0, 1, 3, 7, 10, 13, 64)
         for replicas in (1, 2, 3, 4, 8) for drop_last in (False, True)]


@requires_torch
@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_index_lists_are_pytorchs(n, replicas, drop_last):
    for rank in range(replicas):
        theirs = torch.utils.data.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                                     drop_last=drop_last)
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


@requires_torch
@pytest.mark.parametrize("n,replicas", [(10, 4), (3, 8), (13, 3)])
def test_shuffled_lists_follow_pytorchs_rules_on_our_permutation(n, replicas):
    """PyTorch draws its permutation with torch.randperm, we with NumPy; given the same
    permutation, the padding and the dealing are the same."""
    for epoch in (0, 1):
        order = np.random.default_rng(5 + epoch).permutation(n).tolist()
        for rank in range(replicas):
            ours = DistributedSampler(range(n), replicas, rank, shuffle=True, seed=5)
            ours.set_epoch(epoch)
            theirs = torch.utils.data.DistributedSampler(order, replicas, rank, shuffle=False)
            assert list(ours) == [order[i] for i in theirs]


def test_the_ranks_share_every_sample_each_epoch_with_a_new_order():
    shares = [DistributedSampler(range(10), 3, r, seed=1) for r in range(3)]
    first = [list(s) for s in shares]
    assert sorted(i for share in first for i in share) == sorted(list(range(10)) + [first[0][0],
                                                                                  first[1][0]])
    for s in shares:
        s.set_epoch(1)
    assert [list(s) for s in shares] != first
    for s in shares:
        s.set_epoch(0)
    assert [list(s) for s in shares] == first


def test_a_resumed_loader_continues_the_epoch():
    data = ArrayDataset(np.arange(20.0)[:, None], np.arange(20))
    sampler = DistributedSampler(data, 2, 1, seed=3)
    loader = DataLoader(data, batch_size=3, sampler=sampler)
    whole = [b[1].tolist() for b in loader]
    sampler = DistributedSampler(data, 2, 1, seed=3)
    loader = DataLoader(data, batch_size=3, sampler=sampler)
    it = iter(loader)
    seen = [next(it)[1].tolist(), next(it)[1].tolist()]
    state = sampler.state_dict()
    assert state == {"epoch": 0, "served": 6}
    again = DistributedSampler(data, 2, 1, seed=3)
    again.load_state_dict(state)
    rest = [b[1].tolist() for b in DataLoader(data, batch_size=3, sampler=again)]
    assert seen + rest == whole
    assert [b[1].tolist() for b in DataLoader(data, batch_size=3, sampler=again)] == whole


def test_pytorchs_import_paths():
    """``from torch.utils.data.distributed import DistributedSampler`` (and from
    ``torch.utils.data``) run with ``import ournn as torch``; the wrapper is not a layer."""
    import ournn
    from ournn.nn import config
    from ournn.nn.parallel import DistributedDataParallel
    from ournn.utils.data import DistributedSampler as D1
    from ournn.utils.data.distributed import DistributedSampler as D2
    assert D1 is D2 is DistributedSampler and "DistributedSampler" in ournn.utils.data.__all__
    assert DistributedDataParallel.__name__ == "DistributedDataParallel"
    assert "DistributedDataParallel" not in config.layer_classes()
