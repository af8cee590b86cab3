"""A faster CPU ProcessModel for Lava's own ``Sparse`` process (side-effect free: definitions only).

Lava's bit-accurate ``PySparseModelBitAcc`` computes binary-spike input as
``weights[:, s_in].sum(axis=1)``: a CSR column slice that copies the matrix
every step (~45 ms/step for 256x784 tiled 50 times). This model computes the
same integers as ``weights @ s_in`` after the same one-time weight clipping
and mixed-sign truncation, so it stays bit-accurate. When the process was
built with ``tiles=T`` (T identical copies of one block on the diagonal, which
the model verifies once), the mat-vec is one small dense product
``S (T, n_in) @ B.T`` in float32 BLAS -- exact, since every partial sum is an
integer below 2**24 (checked) -- instead of a CSR walk over T copies. It is
selected only for the CPU simulation (``Loihi2SimCfg``), through the run
config's ``exception_proc_model_map``; on Loihi hardware the chip's own
synapses run and this module is not used.
"""

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.sparse.models import AbstractPySparseModelBitAcc
from lava.proc.sparse.process import Sparse
from lava.utils.weightutils import SignMode, clip_weights, determine_sign_mode, truncate_weights

__all__ = ["PySparseModelBitAccMatVec", "diagonal_block"]


@implements(proc=Sparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySparseModelBitAccMatVec(AbstractPySparseModelBitAcc):
    """Bit-accurate Sparse for binary spikes: same clipping/truncation, mat-vec accumulation."""

    def run_spk(self):
        self.weight_exp = self.proc_params.get("weight_exp", 0)
        if not self.weights_set:
            self._prepare_weights()
            self.weights_set = True
        # a_out at step t is what arrived at step t-1 (Lava's one-step synaptic delay)
        self.a_out.send(self.a_buff)
        s_in = self.s_in.recv()
        if self.num_message_bits.item() == 0:
            s_in = s_in != 0  # binary spikes: any non-zero value is a spike
        if self._block is not None:
            tiles, n_in = self.proc_params["tiles"], self._block.shape[0]
            a_accum = np.rint(s_in.reshape(tiles, n_in).astype(np.float32) @ self._block).astype(np.int32).ravel()
        else:
            a_accum = np.asarray(self.weights @ s_in.astype(np.int32)).ravel()
        self.a_buff = (
            np.left_shift(a_accum, self.weight_exp)
            if self.weight_exp > 0
            else np.right_shift(a_accum, -self.weight_exp)
        )

    def _prepare_weights(self) -> None:
        """Clip and truncate the weights once, as Lava's model does (per tile when tiled)."""
        num_weight_bits = self.proc_params.get("num_weight_bits", 8)
        block = diagonal_block(self.weights, self.proc_params.get("tiles", 1))
        self._block = None
        if block is not None:
            # T identical copies: the element-wise clip/truncate of one copy is that of all of them
            sign_mode: SignMode = self.proc_params.get("sign_mode") or determine_sign_mode(block)
            block = truncate_weights(clip_weights(block, sign_mode, num_bits=8), sign_mode, num_weight_bits)
            if np.abs(block).sum(axis=1).max(initial=0) < 2**24:  # float32 integers are exact below 2**24
                self._block = np.ascontiguousarray(block.T.astype(np.float32))
                return
        sign_mode = self.proc_params.get("sign_mode") or determine_sign_mode(self.weights)
        self.weights = clip_weights(self.weights, sign_mode, num_bits=8)
        self.weights = truncate_weights(self.weights, sign_mode, num_weight_bits)
        self.weights = self.weights.tocsr().astype(np.int32)


def diagonal_block(weights, tiles: int):
    """The dense block ``B`` if ``weights`` (CSR) is exactly ``tiles`` copies of ``B`` on the diagonal, else None.

    Compares the CSR arrays with the ones ``tiles`` copies would have: O(nnz) vector operations.
    """
    import scipy.sparse as sp

    if not sp.issparse(weights) or tiles <= 1:
        return None
    w = weights.tocsr()
    n_rows, n_cols = w.shape
    if n_rows % tiles or n_cols % tiles:
        return None
    r, c = n_rows // tiles, n_cols // tiles
    nnz_b = int(w.indptr[r])
    if w.nnz != tiles * nnz_b:
        return None
    ptr_b, ind_b, dat_b = w.indptr[: r + 1], w.indices[:nnz_b], w.data[:nnz_b]
    if nnz_b and int(ind_b.max()) >= c:
        return None
    k = np.arange(tiles)[:, None]
    want_ptr = np.append((ptr_b[:-1][None, :] + k * nnz_b).ravel(), w.nnz)
    if not np.array_equal(w.indptr, want_ptr):
        return None
    if not np.array_equal(w.indices, (ind_b[None, :] + k * c).ravel()):
        return None
    if not np.array_equal(w.data, np.tile(dat_b, tiles)):
        return None
    return sp.csr_matrix((dat_b, ind_b, ptr_b), shape=(r, c)).toarray()
