"""Slow, obviously correct twins of the CoNNTrA kernels (``connttra_neuro/train/_kernels.py``).

Every candidate move is scored by a whole forward pass of the modified network
(no caches, no incremental updates); the visiting order, the screening rule and
the tie-breaking follow the kernels' documented procedure, so both must accept
exactly the same moves and reach exactly the same per-sample losses.
"""

from __future__ import annotations

import numpy as np

from connttra_neuro.train.losses import sample_losses_numpy


class NaiveNet:
    """Mutable parameters: ``W[l]`` (n_out, n_in), ``T[l]``, ``Wout`` (C, h), ``b`` (C,)."""

    def __init__(self, network, noise=None):
        # noise[l]: a fixed integer offset per (sample, neuron) added to the drives (the
        # trainer's jitter, frozen for one sweep); None: exact drives
        self.noise = noise
        self.joint_moves = 0  # accepted weight moves that shifted the threshold too (hidden_sweep's joint)
        self.W = [np.array(h.weights, dtype=np.int64) for h in network.hidden]
        self.T = [np.array(h.thresholds, dtype=np.int64) for h in network.hidden]
        self.Wout = np.array(network.output.weights, dtype=np.int64)
        self.b = np.array(network.output.biases, dtype=np.int64)

    def forward(self, spikes):
        s = spikes.astype(np.int64)
        hidden = []
        for l, (W, T) in enumerate(zip(self.W, self.T, strict=False)):
            a = s @ W.T + (0 if self.noise is None else self.noise[l])
            s = (a >= T).astype(np.int64)  # s = W @ s_prev (+ noise) >= T
            hidden.append(s)
        return s @ self.Wout.T + self.b, hidden  # z = W @ s + b

    def losses(self, spikes, y, loss):
        return sample_losses_numpy(self.forward(spikes)[0], y, *loss)


def _gain(net, spikes, y, loss, base, rows, set_param):
    """Loss change summed over ``rows`` after ``set_param(net)`` (undone afterwards by the caller)."""
    undo = set_param(net)
    new = net.losses(spikes, y, loss)
    undo()
    return int((new - base)[rows].sum())


def _setter(arr, idx, value):
    def apply(_net):
        old = arr[idx]
        arr[idx] = value

        def undo():
            arr[idx] = old

        return undo

    return apply


def _best(values, w, gains):
    """Lowest gain among values != w (ties: first in the set); None unless it is < 0."""
    best, bg = None, 0
    for v in values:
        if v != w and gains[v] < bg:
            best, bg = v, gains[v]
    return best


def output_sweep(net, spikes, y, loss, values, order_j, screen, bias_bound):
    n = spikes.shape[0]
    everyone = np.arange(n)
    C, h = net.Wout.shape
    base = net.losses(spikes, y, loss)
    G = {}
    for j in range(h):
        for c in range(C):
            for v in values:
                if v != net.Wout[c, j]:
                    G[j, c, v] = _gain(net, spikes, y, loss, base, screen, _setter(net.Wout, (c, j), v))
    changed = 0
    for j in order_j:
        for c in range(C):
            w = net.Wout[c, j]
            if not any(G[j, c, v] < 0 for v in values if v != w):
                continue
            base = net.losses(spikes, y, loss)
            gains = {v: _gain(net, spikes, y, loss, base, everyone, _setter(net.Wout, (c, j), v))
                     for v in values if v != w}
            best = _best(values, w, gains)
            if best is not None:
                net.Wout[c, j] = best
                changed += 1
    for c in range(C):
        while True:
            base = net.losses(spikes, y, loss)
            b = net.b[c]
            gm = _gain(net, spikes, y, loss, base, everyone, _setter(net.b, c, b - 1))
            gp = _gain(net, spikes, y, loss, base, everyone, _setter(net.b, c, b + 1))
            if gm < 0 and b - 1 >= -bias_bound and (gm <= gp or b + 1 > bias_bound):
                net.b[c] -= 1
            elif gp < 0 and b + 1 <= bias_bound:
                net.b[c] += 1
            else:
                break
            changed += 1
    return changed


def _drives(net, spikes, l):
    s = spikes.astype(np.int64)
    for m in range(l + 1):
        a = s @ net.W[m].T + (0 if net.noise is None else net.noise[m])
        s = (a >= net.T[m]).astype(np.int64)
    return a, s


def gradient_order(net, l, j, spikes, y, loss, order_k, width):
    """Inputs of neuron ``j`` by falling |surrogate gradient|, ties in ``order_k``'s order.

    ``grad[k] = sum_i x_ik * q_i * dL/ds_ij``: ``dL/ds_ij`` is the loss change when the
    spike is forced to the other value (a whole forward pass per sample, via a huge
    threshold offset), times ``1 - 2 s``; ``q_i = max(0, 2 width - |2 (a_i - t) + 1|)``.
    """
    a, s = _drives(net, spikes, l)
    x = spikes.astype(np.int64) if l == 0 else _drives(net, spikes, l - 1)[1]
    base = net.losses(spikes, y, loss)
    t = net.T[l][j]
    big = 10**9
    net.T[l][j] = -big  # always on
    on = net.losses(spikes, y, loss)
    net.T[l][j] = big  # never on
    off = net.losses(spikes, y, loss)
    net.T[l][j] = t
    sj = s[:, j]
    toggle = np.where(sj == 1, off, on) - base
    q = np.maximum(0, 2 * width - np.abs(2 * (a[:, j] - t) + 1))
    grad = x.T @ (q * toggle * (1 - 2 * sj))
    return [k for _, k in sorted(((-abs(grad[k]), pos), k) for pos, k in enumerate(order_k))]


TAUS = (0, -1, 1)  # a joint move's threshold shift, in the kernel's order (0: a plain weight move)


def _joint_setter(W, T, j, k, v, tau):
    def apply(_net):
        old_w, old_t = W[j, k], T[j]
        W[j, k], T[j] = v, T[j] + tau

        def undo():
            W[j, k], T[j] = old_w, old_t

        return undo

    return apply


def hidden_sweep(net, l, spikes, y, loss, values, order_j, order_k, screen, width=0, joint=False):
    """Every candidate ``(v, tau)`` of a weight: ``w -> v`` with ``t -> t + tau``; ``tau = 0`` only,
    or with ``joint`` also ``+-1`` where ``|v - w - tau| <= 2 max|w|`` and the threshold stays in
    ``[-bound, bound + 1]``. Ties: the first in (values, ``TAUS``) order."""
    n = spikes.shape[0]
    everyone = np.arange(n)
    W, T = net.W[l], net.T[l]
    h, n_in = W.shape
    maxabs = max(abs(v) for v in values)
    bound = n_in * maxabs
    changed = 0

    def candidates(w, t):
        return [(v, tau) for v in values for tau in (TAUS if joint else (0,))
                if v != w and abs(v - w - tau) <= 2 * maxabs and -bound <= t + tau <= bound + 1]

    # the gradient order of every neuron, taken at the layer's start (before any neuron moves)
    orders = {j: order_k if width == 0 else gradient_order(net, l, j, spikes, y, loss, order_k, width)
              for j in order_j}
    for j in order_j:
        base = net.losses(spikes, y, loss)
        G = {}  # screening against the state at the neuron's start, on the screening samples
        for k in range(n_in):
            G[k] = any(_gain(net, spikes, y, loss, base, screen, _joint_setter(W, T, j, k, v, tau)) < 0
                       for v, tau in candidates(W[j, k], T[j]))
        for k in orders[j]:
            if not G[k]:
                continue
            base = net.losses(spikes, y, loss)
            best, bg = None, 0
            for v, tau in candidates(W[j, k], T[j]):
                g = _gain(net, spikes, y, loss, base, everyone, _joint_setter(W, T, j, k, v, tau))
                if g < bg:
                    best, bg = (v, tau), g
            if best is not None:
                W[j, k] = best[0]
                T[j] += best[1]
                net.joint_moves += best[1] != 0
                changed += 1
        base = net.losses(spikes, y, loss)
        t = T[j]
        best_t, bg = t, 0
        for tn in range(-bound, bound + 2):  # every integer threshold in range, ascending
            if tn != t:
                g = _gain(net, spikes, y, loss, base, everyone, _setter(T, j, tn))
                if g < bg:
                    best_t, bg = tn, g
        if best_t != t:
            T[j] = best_t
            changed += 1
    return changed
