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

__all__ = ["PySparseModelBitAccMatVec"]


@implements(proc=Sparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySparseModelBitAccMatVec(AbstractPySparseModelBitAcc):
    """Bit-accurate Sparse for binary spikes: same clipping/truncation, mat-vec accumulation."""

    def run_spk(self):
        self.weight_exp = self.proc_params.get("weight_exp", 0)
        if not self.weights_set:
            num_weight_bits = self.proc_params.get("num_weight_bits", 8)
            sign_mode: SignMode = self.proc_params.get("sign_mode") or determine_sign_mode(self.weights)
            self.weights = clip_weights(self.weights, sign_mode, num_bits=8)
            self.weights = truncate_weights(self.weights, sign_mode, num_weight_bits)
            self.weights = self.weights.tocsr().astype(np.int32)
            self._block = self._tiled_block(self.proc_params.get("tiles", 1))
            self.weights_set = True
        # a_out at step t is what arrived at step t-1 (Lava's one-step synaptic delay)
        self.a_out.send(self.a_buff)
        s_in = self.s_in.recv()
        if self.num_message_bits.item() == 0:
            s_in = (s_in != 0).astype(np.int32)  # binary spikes: any non-zero value is a spike
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

    def _tiled_block(self, tiles: int):
        """The repeated diagonal block, transposed, as float32 (n_in, n_out); None if not tiled/exact."""
        n_rows, n_cols = self.weights.shape
        if tiles <= 1 or n_rows % tiles or n_cols % tiles:
            return None
        r, c = n_rows // tiles, n_cols // tiles
        block = self.weights[:r, :c].toarray()
        if self.weights.nnz != tiles * np.count_nonzero(block):
            return None
        if (self.weights != _block_diag(block, tiles)).nnz:
            return None
        if np.abs(block).sum(axis=1).max(initial=0) >= 2**24:  # float32 integers are exact below 2**24
            return None
        return np.ascontiguousarray(block.T.astype(np.float32))


def _block_diag(block, tiles):
    import scipy.sparse as sp

    return sp.block_diag([sp.csr_matrix(block)] * tiles, format="csr")
