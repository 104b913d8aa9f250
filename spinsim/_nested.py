"""A run's nested subsets, served from its partial sums while the convergence check runs.

Every engine run keeps, besides its powder average, the sums of its signals over four interleaved
classes of (alpha, beta) orientations and over each gamma angle
(:class:`spinsim._results.PowderPartials`). A powder that is a nested subset of a run's powder --
the same orientations at every ``s``-th gamma angle (n_gamma / s angles), or the orientations of
some classes at all of its gamma angles -- is a powder average the run has already computed:
:func:`served` returns it without running anything.

spinsim remembers the partial sums of its recent runs (at most :data:`LIMIT_BYTES`, keyed by every
input but the powder, compared exactly) and serves them only inside :func:`serving`, which
:func:`spinsim.convergence.check_convergence` opens: an ordinary call always runs. A served curve is
the run's own sub-average (same time-step grid), which is what the check compares.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from ._results import N_CLASSES, _result

#: Memory kept for the partial sums of recent runs (bytes); the oldest runs are forgotten first.
LIMIT_BYTES = 32_000_000

_STORE: OrderedDict = OrderedDict()
_SERVING = [0]
_LOCK = threading.Lock()  # runs in threads (a threaded scheduler) share the store


@contextmanager
def serving():
    """Within this block, runs whose powder is a nested subset of a remembered run are served."""
    _SERVING[0] += 1
    try:
        yield
    finally:
        _SERVING[0] -= 1


def key_of(*inputs):
    """A digest of a run's inputs other than its powder, or None when they cannot be pickled."""
    try:
        return hashlib.sha256(pickle.dumps(inputs, protocol=4)).hexdigest()
    except Exception:  # noqa: BLE001 - an unpicklable input only means nothing is remembered
        return None


def remember(key, powder, result):
    """Keep ``result``'s partial sums (run at ``powder``) under ``key``."""
    if key is None or result.partials is None:
        return
    slot = (key, powder.name, powder.n_ab, powder.n_gamma)
    with _LOCK:
        _STORE.pop(slot, None)
        _STORE[slot] = (powder, result)
        while len(_STORE) > 1 and sum(_size(r) for _, r in _STORE.values()) > LIMIT_BYTES:
            _STORE.popitem(last=False)


def _size(result):
    p = result.partials
    return p.s0.nbytes + p.s1.nbytes


def forget():
    """Drop every remembered run."""
    with _LOCK:
        _STORE.clear()


def served(key, powder):
    """The result of a run at ``powder`` from a remembered run of which it is a nested subset, or None."""
    if not _SERVING[0] or key is None:
        return None
    with _LOCK:
        entries = [entry for (k, *_), entry in reversed(_STORE.items()) if k == key]
    for parent, result in entries:
        how = _subset_of(parent, powder)
        if how is not None:
            return _sub_result(result, powder, *how)
    return None


def _sub_result(result, powder, classes, stride):
    """The sub-average of ``result`` over (alpha, beta) ``classes`` at every ``stride``-th gamma angle."""
    t0 = time.perf_counter()
    p = result.partials
    s0 = p.s0[classes, ::stride].sum((0, 1))
    s1 = p.s1[classes, ::stride].sum((0, 1))
    scale = p.weight[classes].sum() / stride  # the weights w_j / n_gamma summed
    info = dict(result.info)
    info.update({"powder": powder.name, "n_orientations": powder.size, "n_gamma": powder.n_gamma,
                 "served_from_partials": True, "wall_s": time.perf_counter() - t0})
    return _result(result.t_s, s0 / scale, s1 / scale, info)


def _subset_of(parent, powder):
    """(classes, gamma stride) when ``powder`` is a nested subset of ``parent``, else None."""
    if parent.n_gamma % powder.n_gamma:
        return None
    stride = parent.n_gamma // powder.n_gamma
    if _same_set(parent, powder, slice(None)):
        return list(range(N_CLASSES)), stride
    if stride != 1:
        return None
    for classes, sl in (([0, 2], slice(0, None, 2)), ([1, 3], slice(1, None, 2))) + tuple(
            ([k], slice(k, None, N_CLASSES)) for k in range(N_CLASSES)):
        if _same_set(parent, powder, sl):
            return classes, 1
    return None


def _same_set(parent, powder, sl):
    a, b, w = parent.alpha[sl], parent.beta[sl], parent.weights[sl]
    if len(a) != powder.n_ab or not (np.array_equal(a, powder.alpha) and np.array_equal(b, powder.beta)):
        return False
    return bool(np.allclose(w / w.sum(), powder.weights / powder.weights.sum(), rtol=1e-12, atol=0))
