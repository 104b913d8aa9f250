"""General engine, gamma-shared path: the sequence on a rotor-synchronised grid (see
:mod:`spinsim._gamma_kernels`).

Used by :func:`spinsim._drivers_general.general_signals` when every rf event starts and ends on a
grid of tau_R / n_grid, tau_R / n_grid at most the step asked for, and when that is cheaper than
stepping each crystallite on its own. The grid step is the largest such tau_R / n_grid: the
per-event step of the per-crystallite path whenever the events' steps are all equal (the two paths
then agree to rounding), never longer than ``max_dt``. The gamma angles whose rotor phases differ
by whole cells share one period of steps (:func:`gamma_cosets`).
"""

from __future__ import annotations

import math

import numpy as np

from .hamiltonian import N_HARM

#: Largest grid the shared path uses (cells per rotor period); beyond it a sequence's rf events
#: do not share a common grid in practice and each crystallite is stepped on its own.
MAX_CELLS = 8192

#: Cost of one exponential of a block against one product of two blocks of the same size (for
#: choosing between the paths; eigendecompositions cost several products).
_EXP = 4.0


def rf_edges(segments, tr):
    """Start and end times of the rf-on events of ``segments`` [(events, t_start)], in rotor periods."""
    out = []
    for events, t in segments:
        for e in events:
            if e.duration > 0 and any(a > 0 for a, _ in e.rf.values()):
                out += [t / tr, (t + e.duration) / tr]
            t += e.duration
    return out


def shared_grid(edges, tr, max_dt):
    """Cells per rotor period: the smallest n with tau_R / n <= max_dt that puts every edge (in rotor
    periods) on the grid; None when there is none up to :data:`MAX_CELLS`."""
    n0 = max(1, math.ceil(tr / max_dt - 1e-9))
    edges = np.asarray(edges, float)
    for n in range(n0, MAX_CELLS + 1):
        x = edges * n
        if np.all(np.abs(x - np.round(x)) < 1e-6):
            return n
    return None


def gamma_cosets(n_gamma, n_grid):
    """(gammas per kernel call, calls): the gamma angles 2 pi k / n_gamma fall into cosets
    2 pi (c + j n_cos) / n_gamma, c < n_cos, whose members are whole grid cells apart (j n_grid /
    n_sub cells, n_sub = gcd(n_gamma, n_grid)); each coset shares one period of steps."""
    n_sub = math.gcd(n_gamma, n_grid)
    return n_sub, n_gamma // n_sub


class GridItems:
    """Items of the shared-gamma kernel, built from events on the grid; rf and pulse matrices come
    from ``slicer`` (a :class:`spinsim._drivers_general._Slicer`, whose indices and blocks it reuses)."""

    def __init__(self, slicer, dt, slicer_arrays):
        self.sl = slicer
        self.dt = dt
        self.kinds, self.t0s, self.t1s, self.cells, self.lens, self.idxs = [], [], [], [], [], []
        self.bounds = [0]
        self.rf_steps = 0
        # the slicer's tables, with every rf state and pulse of the sequence already registered
        self._arrays = slicer_arrays

    def _add(self, kind, t0=0.0, t1=0.0, cell=0, length=0, idx=0):
        self.kinds.append(kind), self.t0s.append(t0), self.t1s.append(t1)
        self.cells.append(cell), self.lens.append(length), self.idxs.append(idx)

    def segment(self, events, t_start):
        t = t_start
        for e in events:
            if e.ideal is not None:
                self._add(2, idx=self.sl._unit_index(e.ideal))
            if e.duration <= 0:
                continue
            if not any(a > 0 for a, _ in e.rf.values()):
                self._add(0, t0=t, t1=t + e.duration)
            else:
                cell = int(round(t / self.dt))
                length = int(round(e.duration / self.dt))
                r = self.sl._rf_index(e.rf)
                if self.kinds and self.kinds[-1] == 1 and self.idxs[-1] == r and len(self.kinds) > self.bounds[-1] \
                        and self.cells[-1] + self.lens[-1] == cell:
                    self.lens[-1] += length  # one run of the same rf
                else:
                    self._add(1, cell=cell, length=length, idx=r)
                self.rf_steps += length
            t += e.duration
        self.bounds.append(len(self.kinds))

    def _runs(self):
        """(start cell, length) of the runs of each rf state."""
        runs = [[] for _ in self.sl.rf]
        for kind, c, length, idx in zip(self.kinds, self.cells, self.lens, self.idxs):
            if kind == 1:
                runs[idx].append((c, length))
        return runs

    @staticmethod
    def _needed_cells(runs, n_gamma, n_grid):
        """Rotor cells where the runs of one rf state act, over all gamma angles."""
        seen = np.zeros(n_grid, bool)
        gam = (n_grid // n_gamma) * np.arange(n_gamma)
        for c, length in runs:
            seen[((c + np.arange(min(length, n_grid)))[None, :] + gam[:, None]).ravel() % n_grid] = True
        return np.flatnonzero(seen)

    def plan(self, n_gamma, n_grid):
        """Per rf state, prefix products or stored steps, whichever costs less; and the cost of
        the whole shared path against the per-crystallite path (arbitrary units, same scale)."""
        rf, rf_blocks, blk_off = self._blocks()
        dim = rf.shape[1]
        sizes = np.diff(blk_off)
        modes, cells, shared_cost = [], [], 0.0
        for r, runs in enumerate(self._runs()):
            nb = sizes[rf_blocks[r]:rf_blocks[r + 1]]
            cube, apply = float(np.sum(nb**3)), float(np.sum(nb**2) * dim)
            need = self._needed_cells(runs, n_gamma, n_grid)
            prefix = n_grid * (_EXP + 1) * cube + n_gamma * len(runs) * (2 * cube + apply)
            steps = len(need) * _EXP * cube + n_gamma * sum(length for _, length in runs) * apply
            modes.append(0 if prefix < steps else 1)
            cells.append(need)
            shared_cost += min(prefix, steps)
        return modes, cells, shared_cost

    def _blocks(self):
        return self._arrays[5], self._arrays[6], self._arrays[7]

    def per_crystallite_cost(self, n_gamma):
        """Cost of stepping every crystallite on its own (the same units as :meth:`plan`)."""
        rf, rf_blocks, blk_off = self._blocks()
        sizes = np.diff(blk_off)
        total = 0.0
        for kind, idx in zip(self.sl.kinds, self.sl.idxs):
            if kind == 1:
                nb = sizes[rf_blocks[idx]:rf_blocks[idx + 1]]
                total += _EXP * float(np.sum(nb**3)) + float(np.sum(nb**2) * rf.shape[1])
        return n_gamma * total

    def arrays(self, wr, n_gamma, n_grid, modes, cells):
        """Kernel arguments after (F, wr, dt, E, n_gamma): items, rf tables and the step plan."""
        (_, _, _, _, _, rf, rf_blocks, blk_off, blk_idx, un) = self._arrays
        sizes = np.diff(blk_off)
        blk_el = np.zeros(len(sizes), np.int64)
        state_size = np.zeros(len(rf), np.int64)
        for r in range(len(rf)):
            sq = sizes[rf_blocks[r]:rf_blocks[r + 1]] ** 2
            blk_el[rf_blocks[r]:rf_blocks[r + 1]] = np.concatenate([[0], np.cumsum(sq)[:-1]])
            state_size[r] = sq.sum()
        modes = np.asarray(modes, np.int64)
        pbase = np.full(len(rf), -1, np.int64)
        n_pcols = 0
        for r in np.flatnonzero(modes == 0):
            pbase[r], n_pcols = n_pcols, n_pcols + state_size[r]
        smap = np.full((len(rf), n_grid), -1, np.int64)
        slot_rf, slot_cell, sbase = [], [], [0]
        for r in np.flatnonzero(modes == 1):
            for c in cells[r]:
                smap[r, c] = len(slot_rf)
                slot_rf.append(r), slot_cell.append(c), sbase.append(sbase[-1] + state_size[r])
        t0 = np.arange(n_grid) * self.dt
        k = np.arange(1, N_HARM + 1)
        E = (np.exp(1j * k[None, :] * wr * (t0[:, None] + self.dt)) - np.exp(1j * k[None, :] * wr * t0[:, None])) \
            / (1j * k * wr)
        return E, (
            np.array(self.kinds, np.int64), np.array(self.t0s, float), np.array(self.t1s, float),
            np.array(self.cells, np.int64), np.array(self.lens, np.int64), np.array(self.idxs, np.int64),
            np.array(self.bounds, np.int64), rf, rf_blocks, blk_off, blk_idx, blk_el, un, modes, pbase,
            int(n_pcols), smap, np.array(slot_rf, np.int64), np.array(slot_cell, np.int64), np.array(sbase, np.int64),
            *self._segment_columns(rf, un),
        )

    def _segment_columns(self, rf, units):
        """Per segment and row, the columns its propagator can fill: the states that the segment's
        rf and pulses connect (connected components of their non-zero pattern)."""
        from scipy.sparse.csgraph import connected_components

        dim = rf.shape[1]
        n_seg = len(self.bounds) - 1
        cols = np.zeros((n_seg, dim, dim), np.int64)
        ncol = np.zeros((n_seg, dim), np.int64)
        for g in range(n_seg):
            link = np.eye(dim, dtype=bool)
            for it in range(self.bounds[g], self.bounds[g + 1]):
                if self.kinds[it] == 1:
                    link |= np.abs(rf[self.idxs[it]]) > 0
                elif self.kinds[it] == 2:
                    link |= np.abs(units[self.idxs[it]]) > 0
            _, label = connected_components(link, directed=False)
            for i in range(dim):
                members = np.flatnonzero(label == label[i])
                cols[g, i, :len(members)] = members
                ncol[g, i] = len(members)
        return cols, ncol
