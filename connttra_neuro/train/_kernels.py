"""Numba kernels of the CoNNTrA coordinate descent (private; arrays and scalars only).

State cached per training sample ``i`` (never recomputed by a whole forward pass):

* ``A[l][j, i]``  int32 pre-activation of hidden neuron ``j`` of layer ``l`` (``W_l @ s_{l-1}``)
* ``S[l][j, i]``  uint8 its spike (``A >= T``)
* ``Z[i, c]``     int32 output score (``W_out @ s + b``)
* ``sl[i]``       int64 loss of the sample, in integer loss units (see ``_row_loss``)

``A`` and ``S`` are neuron-major (one row per neuron, contiguous over samples): every pass
visits one neuron at a time and reads its drive or spike on every sample.

Weights are stored transposed, ``WT[l]`` of shape ``(n_in, n_out)``, so the outgoing
weights of one neuron (what a flipped spike adds downstream) are one contiguous row.

A move is scored as a sum of per-sample loss changes. Every loss is an int64, so
sums are exact and independent of summation order (parallel == serial, numba ==
numpy twin in ``tests/naive.py``).
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit, prange


def _probe():
    """Asked to be cached, never compiled: where numba would keep this file's kernels."""


def _disk_cache() -> bool:
    """Whether numba can keep the compiled kernels on disk (``cache=True``): in ``__pycache__`` beside this
    file, in ``NUMBA_CACHE_DIR`` or in the user's cache folder. A read-only install (a system one) run by an
    account without a writable home has none, and numba then refuses every cached kernel when this module
    is imported (RuntimeError: cannot cache function ...: no locator available): training could not start.
    Without a cache the kernels compile in each process instead, as on a first run."""
    try:
        njit(cache=True)(_probe)  # decorating finds the cache folder; nothing compiles
    except RuntimeError as err:
        warnings.warn(f"numba has no writable folder to cache the training kernels in ({err}): each process "
                      "compiles them again, as on a first run (about 50 s on 2 cores); set NUMBA_CACHE_DIR to a "
                      "writable folder to keep them", RuntimeWarning, stacklevel=2)
        return False
    return True


# every kernel's cache= below
CACHE = _disk_cache()

HINGE = 0  # Weston-Watkins multiclass hinge: sum_{c != y} max(0, margin - z_y + z_c), integer-valued
XENT = 1  # softmax cross-entropy of z / temperature, in fixed point
XENT_SCALE = 65536.0  # cross-entropy loss unit: 2**-16 nats (rounded), so losses add up exactly


@njit(parallel=True, cache=CACHE)
def sample_losses(Z, y, kind, margin, inv_t):
    """Per-sample loss of the score matrix ``Z`` (int64, loss units)."""
    n = Z.shape[0]
    out = np.empty(n, np.int64)
    for i in prange(n):
        out[i] = _sample_loss(Z, i, y[i], kind, margin, inv_t)
    return out


@njit(cache=CACHE, inline="always")
def _screened_gain(costs, values, w):
    """True if screening found another allowed value that lowers the loss (cost < 0)."""
    for v in range(values.shape[0]):
        if values[v] != w and costs[v] < 0:
            return True
    return False


@njit(cache=CACHE, inline="always")
def _row_loss(Z, i, yi, add, j, sgn, c, delta, kind, margin, inv_t):
    """Loss of the scores ``z = Z[i] + sgn * add[j]`` with ``z[c] += delta`` (``c = -1``: none), in
    integer loss units: the hinge exactly, the cross-entropy rounded to ``1 / XENT_SCALE`` nats
    (the same operations as ``losses.sample_losses_numpy``). Written on the 2-D arrays: slicing a
    row view in the hot loops costs more than the arithmetic."""
    C = Z.shape[1]
    zy = Z[i, yi] + sgn * add[j, yi] + (delta if c == yi else 0)
    if kind == HINGE:
        # every class including y (whose term is max(0, margin) exactly), then y's term
        # taken off: no branch in the loop (a Fashion-MNIST 6k run 3% faster, measured)
        tot = 0
        for k in range(C):
            v = margin - zy + Z[i, k] + sgn * add[j, k] + (delta if k == c else 0)
            tot += max(v, 0)
        return tot - max(margin, 0)
    m = -np.inf
    for k in range(C):
        zk = (Z[i, k] + sgn * add[j, k] + (delta if k == c else 0)) * inv_t
        if zk > m:
            m = zk
    e = 0.0
    for k in range(C):
        e += np.exp((Z[i, k] + sgn * add[j, k] + (delta if k == c else 0)) * inv_t - m)
    nats = m + np.log(e) - zy * inv_t
    return np.int64(np.floor(nats * XENT_SCALE + 0.5))


@njit(cache=CACHE, inline="always")
def _last_toggle_cost(Z, i, yi, WoutT, j, sgn, base, kind, margin, inv_t):
    """Loss change of sample ``i`` when last-layer spike ``j`` turns on (``sgn = 1``) or off (-1):
    its scores become ``Z[i] + sgn * WoutT[j]``."""
    return _row_loss(Z, i, yi, WoutT, j, sgn, -1, 0, kind, margin, inv_t) - base


@njit(cache=CACHE, inline="always")
def _sample_loss(Z, i, yi, kind, margin, inv_t):
    """Loss of sample ``i``'s scores ``Z[i]``."""
    return _row_loss(Z, i, yi, Z, i, 0, -1, 0, kind, margin, inv_t)


@njit(cache=CACHE)
def _toggle_cost(i, l, j, WT, T, A, S, WoutT, Z, y, sl, kind, margin, inv_t):
    """Loss change of sample ``i`` if spike ``(l, j)`` of a layer below the last toggled (``sl[i]``:
    its current loss). The last layer has ``_last_toggle_cost``: a numba call passing the typed
    lists costs ~100 ns, more than its arithmetic, and inlining this dispatch instead made the
    hidden pass 1.8x slower (measured), so callers pick the function by layer."""
    return _toggle(i, l, j, WT, T, A, S, WoutT, Z, y, kind, margin, inv_t, False) - sl[i]


@njit(cache=CACHE)
def _flip(i, l, j, WT, T, A, S, WoutT, Z, y, sl, toggle, kind, margin, inv_t):
    """Toggle spike ``S[l][j, i]`` of a layer below the last and bring everything downstream of
    it up to date: deeper layers, scores, the sample's loss ``sl[i]`` and its toggle cost
    (``A[l]`` is the caller's). The last layer has ``_flip_last``."""
    Sl = S[l]
    before = sl[i]
    sl[i] = _toggle(i, l, j, WT, T, A, S, WoutT, Z, y, kind, margin, inv_t, True)
    Sl[j, i] = 1 - Sl[j, i]
    toggle[i] = before - sl[i]  # toggling back restores every downstream integer: the old loss


@njit(cache=CACHE, inline="always")
def _flip_last(i, j, sj, WoutT, Z, y, sl, toggle, kind, margin, inv_t):
    """``_flip`` for the last hidden layer (the common case, written on plain arrays: the
    scores move by ``+-W_out[:, j]``; ``sj`` is the neuron's spike row)."""
    sgn = 1 - 2 * np.int64(sj[i])
    for c in range(Z.shape[1]):
        Z[i, c] += sgn * WoutT[j, c]
    # the loss is a function of the score row, so with ``toggle[i]`` exact for neuron ``j``
    # (the hidden pass keeps it so) the new loss is the old plus the toggle cost, and toggling
    # back would restore the old loss: no loss evaluated (both losses, rounding included)
    sl[i] += toggle[i]
    sj[i] = 1 - sj[i]
    toggle[i] = -toggle[i]


@njit(cache=CACHE, inline="always")
def _flip_any(last, i, l, j, sj, WT, T, A, S, WoutT, Z, y, sl, toggle, kind, margin, inv_t):
    """Toggle sample ``i``'s spike of neuron ``j`` in layer ``l``: ``_flip_last`` in the last
    hidden layer (``sj`` its spike row), ``_flip`` below it."""
    if last:
        _flip_last(i, j, sj, WoutT, Z, y, sl, toggle, kind, margin, inv_t)
    else:
        _flip(i, l, j, WT, T, A, S, WoutT, Z, y, sl, toggle, kind, margin, inv_t)


@njit(cache=CACHE)
def _toggle(i, l, j, WT, T, A, S, WoutT, Z, y, kind, margin, inv_t, apply):
    """Loss of sample ``i`` if spike ``S[l][j, i]`` of a layer below the last were toggled; with
    ``apply`` also write the new downstream state (deeper layers' A and S, and Z).
    ``S[l][j, i]`` itself and ``A[l]`` are the caller's to update.

    The flip changes the next layer's pre-activations, which may flip some of its spikes,
    and so on up to the scores."""
    H = len(WT)
    sgn = 1 - 2 * np.int64(S[l][j, i])  # +1: turns on, -1: turns off
    idx = np.empty(1, np.int64)
    sg = np.empty(1, np.int64)
    idx[0] = j
    sg[0] = sgn
    nch = 1
    for m in range(l + 1, H):
        Wm = WT[m]
        Am = A[m]
        Sm = S[m]
        Tm = T[m]
        hm = Wm.shape[1]
        a = np.empty(hm, np.int64)
        for r in range(hm):
            a[r] = Am[r, i]
        for q in range(nch):
            for r in range(hm):
                a[r] += sg[q] * Wm[idx[q], r]  # a += sign * W_m[:, k]
        nidx = np.empty(hm, np.int64)
        nsg = np.empty(hm, np.int64)
        nn = 0
        for r in range(hm):
            new = np.int64(1) if a[r] >= Tm[r] else np.int64(0)
            old = np.int64(Sm[r, i])
            if new != old:
                nidx[nn] = r
                nsg[nn] = new - old
                nn += 1
        if apply:
            for r in range(hm):
                Am[r, i] = a[r]
            for q in range(nn):
                Sm[nidx[q], i] = 1 if nsg[q] > 0 else 0
        idx = nidx
        sg = nsg
        nch = nn
    C = Z.shape[1]
    z = np.empty((1, C), Z.dtype)  # the sample's new scores, as one row
    for c in range(C):
        z[0, c] = Z[i, c]
    for q in range(nch):
        for c in range(C):
            z[0, c] += sg[q] * WoutT[idx[q], c]
    if apply:
        for c in range(C):
            Z[i, c] = z[0, c]
    return _sample_loss(z, 0, y[i], kind, margin, inv_t)


@njit(cache=CACHE, inline="always")
def _score_cost(Z, i, yi, c, delta, base, kind, margin, inv_t):
    """Loss change of sample ``i`` when its score ``Z[i, c]`` moves by ``delta`` (``base``: its
    current loss). Hinge and ``c != y``: only one term changes, O(1) instead of O(C)."""
    if kind == HINGE and c != yi:
        v_old = margin - Z[i, yi] + Z[i, c]
        v_new = v_old + delta
        return (v_new if v_new > 0 else 0) - (v_old if v_old > 0 else 0)
    return _row_loss(Z, i, yi, Z, i, 0, c, delta, kind, margin, inv_t) - base


@njit(cache=CACHE)
def nonzero_rows(M):
    """Per row ``r`` of the 0/1 matrix ``M``, the columns where it is 1: ``ind[ptr[r]:ptr[r + 1]]``
    (ascending). Spike matrices in sparse form: per sample its active inputs, per input or
    neuron the samples where it fires."""
    rows, cols = M.shape
    ptr = np.zeros(rows + 1, np.int64)
    for r in range(rows):
        c = 0
        for k in range(cols):
            c += M[r, k] != 0
        ptr[r + 1] = ptr[r] + c
    ind = np.empty(ptr[rows], np.int32)  # int32: the hot loops stream these lists (half the bytes of int64)
    for r in range(rows):
        q = ptr[r]
        for k in range(cols):
            if M[r, k] != 0:
                ind[q] = k
                q += 1
    return ptr, ind


@njit(parallel=True, cache=CACHE)
def rejitter(A, noise, u, table, t, S):
    """Replace the jitter inside drives ``A`` (h, n), in place: ``noise`` (the noise ``A`` holds)
    becomes ``table[u]`` and the spikes ``S`` follow (``A >= t``). One pass instead of numpy's
    five temporaries of the whole layer (driver._jitter)."""
    h, n = A.shape
    for j in prange(h):
        tj = t[j]
        for i in range(n):
            e = table[u[j, i]]
            a = A[j, i] - noise[j, i] + e
            A[j, i] = a
            noise[j, i] = e
            S[j, i] = 1 if a >= tj else 0


@njit(parallel=True, cache=CACHE)
def spikes_without(A, noise, t):
    """The spikes ``A - noise >= t`` (h, n) of drives that carry jitter ``noise``."""
    h, n = A.shape
    S = np.empty((h, n), np.uint8)
    for j in prange(h):
        tj = t[j]
        for i in range(n):
            S[j, i] = 1 if A[j, i] - noise[j, i] >= tj else 0
    return S


@njit(parallel=True, cache=CACHE)
def output_scores(S, WoutT, b, block=256):
    """Scores ``Z[i] = b + sum_j S[j, i] WoutT[j]`` (int32, n x C) of neuron-major spikes ``S``;
    blocks of samples keep the reads of ``S`` contiguous."""
    h, n = S.shape
    C = WoutT.shape[1]
    Z = np.empty((n, C), np.int32)
    for q in prange((n + block - 1) // block):
        a = q * block
        e = min(n, a + block)
        for i in range(a, e):
            for c in range(C):
                Z[i, c] = b[c]
        for j in range(h):
            for i in range(a, e):
                if S[j, i]:
                    for c in range(C):
                        Z[i, c] += WoutT[j, c]
    return Z


@njit(parallel=True, cache=CACHE)
def score_move_costs(Z, y, sl, deltas, in_screen, kind, margin, inv_t):
    """``F[i, e * C + c]``: the loss change of sample ``i`` if its score ``z[c]`` moved by
    ``deltas[e]`` (0 for samples with ``in_screen[i] = 0``). The screening of every output
    weight at once is then one integer matrix product, ``S @ F`` (see ``driver.output_gains``)."""
    n, C = Z.shape
    nd = deltas.shape[0]
    F = np.zeros((n, nd * C), np.int64)
    for i in prange(n):
        if in_screen[i] == 0:
            continue
        for e in range(nd):
            for c in range(C):
                F[i, e * C + c] = _score_cost(Z, i, y[i], c, deltas[e], sl[i], kind, margin, inv_t)
    return F


@njit(cache=CACHE)
def output_sweep(ptr, ind, WoutT, b, Z, y, sl, values, order_j, G, kind, margin, inv_t, bias_bound):
    """One pass over the output weights (then biases). Returns the number of changed parameters.

    Output weight ``w[c, j]`` moved by ``d`` changes only score column ``c`` and only on
    samples with ``s_j = 1``: ``ind[ptr[j]:ptr[j + 1]]`` lists them. ``G[j, c, v]`` is the
    screening: the gain of setting ``w[c, j]`` to ``values[v]``, summed over the screening
    samples (all, or a mini-batch) against the state at the start of the pass. Each
    screened-in coordinate (a gain < 0) is re-scored exactly on every sample before it is
    accepted.
    """
    h = ptr.shape[0] - 1
    n, C = Z.shape
    V = values.shape[0]
    changed = 0
    gains = np.zeros(V, np.int64)
    for jj in range(h):
        j = order_j[jj]
        for c in range(C):
            w = WoutT[j, c]
            if not _screened_gain(G[j, c], values, w):
                continue
            gains[:] = 0
            for p in range(ptr[j], ptr[j + 1]):  # exact re-check on every sample with s_j = 1
                i = ind[p]
                for v in range(V):
                    d = values[v] - w
                    if d != 0:
                        gains[v] += _score_cost(Z, i, y[i], c, d, sl[i], kind, margin, inv_t)
            best = -1
            bg = np.int64(0)
            for v in range(V):
                if values[v] != w and gains[v] < bg:
                    bg = gains[v]
                    best = v
            if best >= 0:
                d = values[best] - w
                for p in range(ptr[j], ptr[j + 1]):
                    i = ind[p]
                    sl[i] += _score_cost(Z, i, y[i], c, d, sl[i], kind, margin, inv_t)  # exact: new - old loss
                    Z[i, c] += d
                WoutT[j, c] = values[best]
                changed += 1
    # biases: integer line search, one unit at a time, while the loss drops
    for c in range(C):
        while True:
            gm = np.int64(0)
            gp = np.int64(0)
            for i in range(n):
                gm += _score_cost(Z, i, y[i], c, -1, sl[i], kind, margin, inv_t)
                gp += _score_cost(Z, i, y[i], c, 1, sl[i], kind, margin, inv_t)
            d = 0
            if gm < 0 and b[c] - 1 >= -bias_bound and (gm <= gp or b[c] + 1 > bias_bound):
                d = -1
            elif gp < 0 and b[c] + 1 <= bias_bound:
                d = 1
            if d == 0:
                break
            b[c] += d
            for i in range(n):
                Z[i, c] += d
                sl[i] = _sample_loss(Z, i, y[i], kind, margin, inv_t)
            changed += 1
    return changed


@njit(parallel=True, cache=CACHE)
def surrogate_gradient(l, X, WT, T, A, S, WoutT, Z, y, sl, kind, margin, inv_t, width, int32_below=2**31):
    """``grad[j, k] = sum_i M[j, i] X[i, k]``: the integer surrogate gradient of the loss w.r.t.
    every incoming weight of every neuron ``j`` of layer ``l`` (``X``: the layer's 0/1 input
    spikes, sample-major), with ``M[j, i] = q_ij * toggle_ij * (1 - 2 s_ij)``.

    ``toggle_ij * (1 - 2 s_ij)`` is ``dL/ds_ij``, exact (the loss change if the spike toggled);
    ``q_ij = max(0, 2 * width - |2 (a_ij - t_j) + 1|)`` is the triangular surrogate derivative
    of the step, largest next to the threshold. ``M`` is zero on most samples (a sixth is
    inside the width on Fashion-MNIST), so each neuron adds up only its samples' input rows,
    in integers (exact; int64 sums where int32 ones could overflow, ``int32_below``), instead
    of a dense float product of the whole layer and no float copy of it (as fast as
    AVX-512 SGEMM with the signal computed separately: 19 vs 17 ms per sweep on
    Fashion-MNIST 6k; less memory, and no float-exactness bound). Read-only: parallel over
    neurons."""
    h = WT[l].shape[1]
    n, n_in = X.shape
    last = l == len(WT) - 1
    Al = A[l]
    Sl = S[l]
    grad = np.zeros((h, n_in), np.int64)
    for j in prange(h):
        t = np.int64(T[l][j])
        rows = np.empty(n, np.int64)
        ms = np.empty(n, np.int64)
        cnt = 0
        mmax = 0
        for i in range(n):
            q = 2 * width - abs(2 * (np.int64(Al[j, i]) - t) + 1)
            if q <= 0:
                continue
            sgn = 1 - 2 * np.int64(Sl[j, i])
            if last:
                tg = _last_toggle_cost(Z, i, y[i], WoutT, j, sgn, sl[i], kind, margin, inv_t)
            else:
                tg = _toggle_cost(i, l, j, WT, T, A, S, WoutT, Z, y, sl, kind, margin, inv_t)
            m = q * tg * sgn
            if m != 0:
                rows[cnt] = i
                ms[cnt] = m
                cnt += 1
                mmax = max(mmax, abs(m))
        if cnt * mmax < int32_below:  # int32 sums cannot overflow: twice the SIMD lanes
            acc = np.zeros(n_in, np.int32)
            for c in range(cnt):
                m32 = np.int32(ms[c])
                xr = X[rows[c]]
                for k in range(n_in):
                    acc[k] += m32 * np.int32(xr[k])
            for k in range(n_in):
                grad[j, k] = acc[k]
        else:
            for c in range(cnt):
                m = ms[c]
                xr = X[rows[c]]
                for k in range(n_in):
                    grad[j, k] += m * np.int64(xr[k])
    return grad


TAUS = np.array([0, -1, 1], np.int64)  # threshold shifts a joint move may carry (0: a plain weight move)


@njit(cache=CACHE)
def _flip_tables(values, step, joint):
    """Which samples a move flips, by ``r = a - t`` (bin ``r + step``; only ``-step <= r < step`` can).

    ``f1[wi, v, ti, rb]``: a sample with ``x_k = 1`` under ``w: values[wi] -> values[v]`` together
    with ``t -> t + TAUS[ti]`` (``r >= 0`` on before, ``r + d - tau >= 0`` after); ``f0[ti, rb]``: a
    sample with ``x_k = 0`` (the threshold shift alone). ``ok[wi, v, ti]``: the candidates, every
    ``v != wi`` with ``tau = 0``, and with ``joint`` also ``tau = +-1`` where ``|d - tau| <= step``
    (so no sample outside the bins can flip).
    """
    V = values.shape[0]
    nbins = 2 * step
    f1 = np.zeros((V, V, 3, nbins), np.uint8)
    f0 = np.zeros((3, nbins), np.uint8)
    ok = np.zeros((V, V, 3), np.uint8)
    for ti in range(3):
        tau = TAUS[ti]
        for rb in range(nbins):
            r = rb - step
            f0[ti, rb] = (r >= 0) != (r - tau >= 0)
        for wi in range(V):
            for v in range(V):
                d = values[v] - values[wi]
                ok[wi, v, ti] = d != 0 and abs(d - tau) <= step and (tau == 0 or joint)
                for rb in range(nbins):
                    r = rb - step
                    f1[wi, v, ti, rb] = (r >= 0) != (r + d - tau >= 0)
    return f1, f0, ok


@njit(cache=CACHE, inline="always")
def _near_add(near_i, near_t, count, slot, i, rb, tg):
    """Put sample ``i`` (toggle cost ``tg``) into near bin ``rb`` (``near_i[rb, :count[rb]]``)."""
    q = count[rb]
    near_i[rb, q] = i
    near_t[rb, q] = tg
    slot[i] = q
    count[rb] = q + 1


@njit(cache=CACHE, inline="always")
def _near_remove(near_i, near_t, count, slot, i, rb):
    """Take sample ``i`` out of near bin ``rb``: the bin's last member fills its slot (O(1); the
    order inside a bin does not matter, sums are integers)."""
    q = slot[i]
    last = count[rb] - 1
    m = near_i[rb, last]
    near_i[rb, q] = m
    near_t[rb, q] = near_t[rb, last]
    slot[m] = q
    slot[i] = -1
    count[rb] = last


@njit(cache=CACHE)
def _near_build(acol, t0, toggle, near_i, near_t, count, slot, reach):
    """The near set from scratch: every sample with ``-reach <= a - t0 < reach`` and a toggle cost."""
    for rb in range(2 * reach):
        for q in range(count[rb]):
            slot[near_i[rb, q]] = -1
    count[:] = 0
    for i in range(acol.shape[0]):
        r = acol[i] - t0
        if -reach <= r < reach and toggle[i] != 0:
            _near_add(near_i, near_t, count, slot, i, r + reach, toggle[i])


@njit(cache=CACHE)
def hidden_sweep(l, ptr_r, col_r, in_screen, ptr_f, ind_f, XB, WT, T, A, S, WoutT, Z, y, sl, values, order_j,
                 korder, kind, margin, inv_t, joint):
    """One pass over hidden layer ``l``: each neuron's incoming weights, then its threshold.

    The layer's input spikes in three layouts: ``ptr_r/col_r`` (CSR) list, per sample, its
    active inputs; ``ptr_f/ind_f`` (CSC) list, per input ``k``, the samples where it is 1;
    ``XB[k, i >> 3] >> (i & 7) & 1`` is ``x_k`` of sample ``i``, bit-packed (a row of ``XB`` is
    ``n / 8`` bytes, so the re-checks' random reads stay in cache). Moving ``w[j, k]`` by ``d`` changes ``a_j`` by ``d``
    on the samples with ``x_k = 1`` only; only samples whose spike flips change the loss, by
    the cached per-sample toggle cost, and only samples *near the threshold*
    (``-step <= a - t < step``, ``step`` the largest weight change) can flip. The near samples
    whose toggle cost is not 0 are few and kept up to date as moves land, so no re-check
    looks at the other samples.

    With ``joint``, a weight move may also shift the neuron's threshold by one
    (``w[j, k] += d`` with ``t += tau``, ``tau = +-1``, ``|d - tau| <= step``): the samples with
    ``x_k = 1`` move by ``d - tau`` relative to the threshold, the others by ``-tau``. Such a pair
    reaches moves no single coordinate can (e.g. a neuron more selective for ``x_k`` without
    firing more often elsewhere); the threshold search at the neuron's end still follows.

    Per neuron (in ``order_j``'s order): the toggle cost of every sample; **screening**
    against the state at the neuron's start, on the near samples with ``in_screen[i] = 1``
    (all, or a mini-batch): their toggle costs binned by ``a - t`` per input, from which the
    gain of every candidate move of every incoming weight follows; then the weights in
    the order ``korder[j]`` (the driver's: by surrogate gradient or random), each
    screened-in one re-scored exactly on every
    near sample against the current state and the best candidate (values in the set's order,
    then ``TAUS``' order; the first of equal gains) accepted if it lowers the loss; then the
    threshold. Returns the number of changed parameters (a joint move counts once).
    """
    W = WT[l]
    n_in, h = W.shape
    n = Z.shape[0]
    V = values.shape[0]
    Al = A[l]
    Sl = S[l]
    Tl = T[l]
    vmin = values[0]
    maxabs = 0
    for v in range(V):
        maxabs = max(maxabs, abs(values[v]))
    bound = n_in * maxabs  # |a| <= fan-in * max|w|
    step = 2 * maxabs  # the largest weight change: only samples with -step <= a - t < step can flip
    # The near set is binned by a - t0, t0 the threshold when it was built, over a reach `slack`
    # wider than the re-check window on each side, so a joint move's threshold shift only moves
    # the window (no pass over every sample) until it has moved more than `slack`; then it is rebuilt.
    slack = 1 if joint else 0
    reach = step + slack
    vidx = np.full(values[V - 1] - vmin + 1, -1, np.int64)  # value -> its index in ``values``
    for v in range(V):
        vidx[values[v] - vmin] = v
    f1, f0, ok = _flip_tables(values, step, joint)
    last = l == len(WT) - 1
    toggle = np.empty(n, np.int64)
    acol = np.empty(n, np.int32)  # int32 (as the cache): the apply loop streams it once per move
    hist = np.zeros(2 * bound + 3, np.int64)
    gT = np.zeros(2 * bound + 2, np.int64)
    nbins = 2 * step  # the re-check window, r = a - t in [-step, step)
    acc = np.zeros(nbins, np.int64)  # a re-check: toggle costs of near samples with x_k = 1, by bin
    rest = np.zeros(nbins, np.int64)  # and with x_k = 0
    G2 = np.zeros((n_in, nbins), np.int64)  # screening: toggle costs of near samples by (input, bin)
    G0 = np.zeros(nbins, np.int64)  # and of all of them, by bin
    near_i = np.empty((2 * reach, n), np.int32)  # near set: bin rb holds near_i[rb, :count[rb]]
    near_t = np.empty((2 * reach, n), np.int64)  # and their toggle costs
    count = np.zeros(2 * reach, np.int64)
    slot = np.full(n, -1, np.int64)  # a sample's place in its bin (-1: not near)
    win = np.empty(n, np.int32)  # an accepted move's samples near the threshold
    changed = 0
    for jj in range(order_j.shape[0]):
        j = order_j[jj]
        t = np.int64(Tl[j])
        sj = Sl[j]
        for i in range(n):  # toggle costs at the neuron's start
            acol[i] = Al[j, i]
            if last:
                toggle[i] = _last_toggle_cost(Z, i, y[i], WoutT, j, 1 - 2 * np.int64(sj[i]), sl[i], kind, margin,
                                              inv_t)
            else:
                toggle[i] = _toggle_cost(i, l, j, WT, T, A, S, WoutT, Z, y, sl, kind, margin, inv_t)
        t0 = t
        t_start = t
        _near_build(acol, t0, toggle, near_i, near_t, count, slot, reach)
        G2[:] = 0
        G0[:] = 0
        for rb in range(nbins):
            for q in range(count[rb + slack]):
                i = near_i[rb + slack, q]
                if in_screen[i] == 0:
                    continue
                tg = near_t[rb + slack, q]
                G0[rb] += tg
                for p in range(ptr_r[i], ptr_r[i + 1]):
                    G2[col_r[p], rb] += tg
        for kk in range(n_in):
            k = korder[j, kk]
            w = W[k, j]
            wi = vidx[w - vmin]
            screened = False
            for v in range(V):  # screened gain of each candidate from the bins
                for ti in range(3):
                    if ok[wi, v, ti] == 0 or not -bound <= t_start + TAUS[ti] <= bound + 1:
                        continue
                    g = np.int64(0)
                    for rb in range(nbins):
                        if f1[wi, v, ti, rb]:
                            g += G2[k, rb]
                        if f0[ti, rb]:
                            g += G0[rb] - G2[k, rb]
                    if g < 0:
                        screened = True
            if not screened:
                continue
            xk = XB[k]
            shift = t - t0 + slack  # the window's first bin in the near set
            for rb in range(nbins):  # exact re-check on every sample that can flip
                g = np.int64(0)
                s = np.int64(0)
                for q in range(count[rb + shift]):
                    i = near_i[rb + shift, q]
                    tg = near_t[rb + shift, q]
                    g += ((xk[i >> 3] >> (i & 7)) & 1) * tg  # branch-free: x_k is 0 or 1
                    s += tg
                acc[rb] = g
                rest[rb] = s - g
            best = -1
            best_ti = 0
            bg = np.int64(0)
            for v in range(V):
                for ti in range(3):
                    if ok[wi, v, ti] == 0 or not -bound <= t + TAUS[ti] <= bound + 1:  # thresholds stay in range
                        continue
                    g = np.int64(0)
                    for rb in range(nbins):
                        if f1[wi, v, ti, rb]:
                            g += acc[rb]
                        if f0[ti, rb]:
                            g += rest[rb]
                    if g < bg:
                        bg = g
                        best = v
                        best_ti = ti
            if best < 0:
                continue
            d = values[best] - w
            # a sample has something to do only if it is in the near set's reach before
            # ([-reach, reach) in a - t0) or after ([-reach - d, reach - d)). One interval, as |d| <= reach.
            lo = min(-reach, -reach - d)
            span = np.uint64(max(reach, reach - d) - lo)
            d32 = np.int32(d)
            nw = 0
            for p in range(ptr_f[k], ptr_f[k + 1]):  # apply: a += d on the samples with x_k = 1
                i = ind_f[p]
                r = np.int64(acol[i]) - t0
                acol[i] += d32
                # collect those samples without a branch: most samples are far, at random
                # (sweeps 5-15% faster on mnist-sample, measured)
                win[nw] = i
                nw += np.int64(np.uint64(r - lo) < span)
            for q in range(nw):  # in the same order as above, so the near set ends the same
                i = win[q]
                r = acol[i] - d - t0
                if slot[i] >= 0:
                    _near_remove(near_i, near_t, count, slot, i, r + reach)
                # a sample without a toggle cost flips at the neuron's end (below): its loss is the
                # same either way and nothing else reads its state while this neuron moves
                if toggle[i] != 0 and (r + t0 >= t) != (r + t0 + d >= t):
                    _flip_any(last, i, l, j, sj, WT, T, A, S, WoutT, Z, y, sl, toggle, kind, margin, inv_t)
                r += d
                if -reach <= r < reach and toggle[i] != 0:
                    _near_add(near_i, near_t, count, slot, i, r + reach, toggle[i])
            W[k, j] = values[best]
            changed += 1
            tau = TAUS[best_ti]
            if tau != 0:
                # t -> t + tau flips the samples with a = t (tau = +1: off) or a = t - 1 (tau = -1: on)
                rb = t - t0 + reach + (0 if tau > 0 else -1)
                for q in range(count[rb]):
                    i = near_i[rb, q]
                    _flip_any(last, i, l, j, sj, WT, T, A, S, WoutT, Z, y, sl, toggle, kind, margin, inv_t)
                    near_t[rb, q] = toggle[i]
                t += tau
                Tl[j] = t
                if abs(t - t0) > slack:  # the window would leave the near set's reach
                    t0 = t
                    _near_build(acol, t0, toggle, near_i, near_t, count, slot, reach)
        for i in range(n):  # (the next neuron's _near_build empties the near set)
            Al[j, i] = acol[i]
            if toggle[i] == 0 and (sj[i] == 1) != (acol[i] >= t):  # the deferred flips
                _flip_any(last, i, l, j, sj, WT, T, A, S, WoutT, Z, y, sl, toggle, kind, margin, inv_t)
        # threshold: exact search over every integer in [-bound, bound + 1]
        # (drives beyond the range of thresholds are clamped to its ends: same comparisons;
        # only jittered drives ever get there)
        hist[:] = 0
        for i in range(n):
            hist[min(max(acol[i], -bound - 1), bound + 1) + bound + 1] += toggle[i]
        gT[:] = 0
        g = np.int64(0)
        for tn in range(t - 1, -bound - 1, -1):  # lowering: samples with tn <= a < t turn on
            g += hist[tn + bound + 1]
            gT[tn + bound] = g
        g = 0
        for tn in range(t + 1, bound + 2):  # raising: samples with t <= a < tn turn off
            g += hist[tn + bound]
            gT[tn + bound] = g
        best_t = t
        bg = np.int64(0)
        for tn in range(-bound, bound + 2):
            if tn != t and gT[tn + bound] < bg:
                bg = gT[tn + bound]
                best_t = tn
        if best_t != t:
            for i in range(n):
                a = acol[i]
                if (a >= t) != (a >= best_t):
                    _flip_any(last, i, l, j, sj, WT, T, A, S, WoutT, Z, y, sl, toggle, kind, margin, inv_t)
            Tl[j] = best_t
            changed += 1
    return changed
