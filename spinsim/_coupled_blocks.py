"""Block-diagonal matrices of the ``coupled`` engine, stored packed.

Free evolution (no rf) conserves the total m of each homonuclear group, so its propagators are
block-diagonal in the blocks (``off``, ``idx``) of :func:`spinsim._drivers_coupled._blocks`:
block b holds the states ``idx[off[b]:off[b + 1]]``. They are kept as (n_blocks, b_max, b_max)
arrays (block b in its top-left ``sizes[b]`` square, zeros elsewhere), so that a product costs
sum(n_b^3) instead of N^3 and no N x N array is allocated per product (for three spins 5/2,
N = 216: sum(n_b^2) = 4,300 of 46,656 entries).

Pure functions of arrays, ``cache=True``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._gamma_kernels import _helper  # internal helpers: no CPython or C wrappers
from ._kernels import expm_herm


@_helper
def expm_block(H, dt):
    """exp(-i H dt) for Hermitian H (rad/s, s): closed forms for blocks up to 8 states, else an
    eigendecomposition (real when H is) and a BLAS product."""
    n = H.shape[0]
    if n <= 8:
        return expm_herm(H, dt)
    real = True
    for a in range(n):
        for b in range(n):
            if H[a, b].imag != 0.0:
                real = False
    if real:
        w, v = np.linalg.eigh(np.ascontiguousarray(H.real))
        vc = v.astype(np.complex128)
    else:
        w, vc = np.linalg.eigh(H)
    phase = np.exp(-1j * w * dt)
    ve = np.empty((n, n), np.complex128)
    for a in range(n):
        for k in range(n):
            ve[a, k] = vc[a, k] * phase[k]
    return np.dot(ve, np.ascontiguousarray(vc.conj().T))


@_helper
def bd_eye(sizes, b_max):
    out = np.zeros((sizes.shape[0], b_max, b_max), np.complex128)
    for b in range(sizes.shape[0]):
        for i in range(sizes[b]):
            out[b, i, i] = 1.0
    return out


@_helper
def store(out, k, U):
    """out[k] <- U (same size), element by element: a slice assignment would compile numba's shape
    checks and their error messages (seconds of a first run)."""
    o = out[k].reshape(-1)
    u = U.reshape(-1)
    for i in range(u.shape[0]):
        o[i] = u[i]


@_helper
def square(A, b, n):
    """Block b of packed A as a contiguous n x n array."""
    out = np.empty((n, n), np.complex128)
    for i in range(n):
        for j in range(n):
            out[i, j] = A[b, i, j]
    return out


@_helper
def put_square(C, b, M):
    """Block b of packed C <- M (n x n)."""
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            C[b, i, j] = M[i, j]


#: Blocks from this size on are multiplied by BLAS (2-3x faster than loops for 27 x 27, slower for 3 x 3).
BLAS_FROM = 12


@_helper
def bd_mul(A, B, sizes):
    """A @ B, block by block."""
    C = np.zeros_like(A)
    for b in range(sizes.shape[0]):
        n = sizes[b]
        if n >= BLAS_FROM:
            put_square(C, b, np.dot(square(A, b, n), square(B, b, n)))
            continue
        for i in range(n):
            for k in range(n):
                a = A[b, i, k]
                for j in range(n):
                    C[b, i, j] += a * B[b, k, j]
    return C


@_helper
def bd_mul_h(A, B, sizes):
    """A @ B^dagger, block by block."""
    return bd_mul(A, bd_h(B, sizes), sizes)


@_helper
def bd_h(A, sizes):
    """A^dagger, block by block."""
    C = np.zeros_like(A)
    for b in range(sizes.shape[0]):
        for i in range(sizes[b]):
            for j in range(sizes[b]):
                C[b, i, j] = np.conj(A[b, j, i])
    return C


@_helper
def bd_trace_prod(A, B, sizes):
    """Tr(A @ B)."""
    acc = 0j
    for b in range(sizes.shape[0]):
        for i in range(sizes[b]):
            for k in range(sizes[b]):
                acc += A[b, i, k] * B[b, k, i]
    return acc


@_helper
def bd_diagonal(A, off, idx, N):
    """The diagonal of A in the original basis (length N)."""
    d = np.zeros(N, np.complex128)
    for b in range(off.shape[0] - 1):
        for i in range(off[b + 1] - off[b]):
            d[idx[off[b] + i]] = A[b, i, i]
    return d


@njit(cache=True)
def bd_to_dense(A, off, idx, N):
    """A as an N x N array (for checks)."""
    out = np.zeros((N, N), np.complex128)
    for b in range(off.shape[0] - 1):
        lo = off[b]
        for i in range(off[b + 1] - lo):
            for j in range(off[b + 1] - lo):
                out[idx[lo + i], idx[lo + j]] = A[b, i, j]
    return out


@_helper
def to_block_order(X, idx):
    """X with rows and columns in block order (row i of the result is row idx[i] of X)."""
    n = X.shape[0]
    out = np.empty((n, n), np.complex128)
    for i in range(n):
        for j in range(n):
            out[i, j] = X[idx[i], idx[j]]
    return out


@_helper
def bd_left_ordered(A, Xo, off):
    """A @ X for packed A and dense X given in block order (:func:`to_block_order`), one BLAS
    product per block; the result is in block order too."""
    m = Xo.shape[1]
    C = np.empty((Xo.shape[0], m), np.complex128)
    for b in range(off.shape[0] - 1):
        lo = off[b]
        n = off[b + 1] - lo
        Y = np.dot(square(A, b, n), np.ascontiguousarray(Xo[lo:lo + n]))
        for i in range(n):
            for c in range(m):
                C[lo + i, c] = Y[i, c]
    return C
