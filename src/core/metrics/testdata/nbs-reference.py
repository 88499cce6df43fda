"""Expected values for ../nbs-reference.test.ts: amzn/xfer's NBS on MNIST activations (README-nbs.md).

Usage:  python3 nbs-reference.py ACTIVATIONS.json > nbs-reference.json
ACTIVATIONS.json maps a layer name to [[rows, units], row-major values], as dumped by the script
in README-nbs.md. NumPy only; float64.
"""
import json
import sys

import numpy as np


class SimIndex:
    """amzn/xfer nn_similarity_index/sim_indices.py at 686ec5c81356bee59fe2eedbaad78247c8d479b2:
    `centering` and `nbs` copied unchanged (the class's `euclidean` and `cka` are not needed)."""

    def centering(self, kmat):
        return kmat - kmat.mean(axis=0, keepdims=True) - kmat.mean(axis=1, keepdims=True) + kmat.mean()

    def nbs(self, kmat_1, kmat_2):
        kmat_1 = self.centering(kmat_1)
        kmat_2 = self.centering(kmat_2)
        return sum(np.real(np.linalg.eigvals(kmat_1 @ kmat_2)).clip(0.) ** 0.5) / ((np.trace(kmat_1) * np.trace(kmat_2)) ** 0.5)


def rank(x):
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    return int(np.sum(s > 1e-10 * s[0]))


def top_k(kmat_1, kmat_2, k):
    # The same eigenvalues as SimIndex.nbs, but only the k largest: K1 K2 has rank <= k (the smaller
    # rank of the centred activations), so the other n - k are rounding noise (about +-1e-16 of the
    # largest) whose square roots the reference adds up (~2e-7 in all here).
    s = SimIndex()
    k1, k2 = s.centering(kmat_1), s.centering(kmat_2)
    ev = np.sort(np.real(np.linalg.eigvals(k1 @ k2)).clip(0.))[::-1]
    return float(np.sum(ev[:k] ** 0.5) / ((np.trace(k1) * np.trace(k2)) ** 0.5)), float(np.sum(ev[k:] ** 0.5) / ((np.trace(k1) * np.trace(k2)) ** 0.5))


d = json.load(open(sys.argv[1]))
acts = {k: np.array(v[1], dtype=np.float64).reshape(v[0]) for k, v in d.items()}
pairs = [('a0', 'b0'), ('a1', 'b1'), ('a2', 'b2'), ('a0', 'c0'), ('a1', 'c1'), ('a2', 'c2'), ('a0', 'a1')]
cases = []
for x, y in pairs:
    X, Y = acts[x], acts[y]
    # The paper's kernel on features alone is the linear one, K = X X^T on uncentred activations:
    # the reference centres it itself.
    kx, ky = X @ X.T, Y @ Y.T
    k = min(rank(X), rank(Y))
    nbs_top, tail = top_k(kx, ky, k)
    cases.append({"x": x, "y": y, "samples": X.shape[0], "nbs": float(SimIndex().nbs(kx, ky)), "nbsTopK": nbs_top, "k": k, "noiseTail": tail})

print(json.dumps({
    "reference": "amzn/xfer nn_similarity_index/sim_indices.py at 686ec5c81356bee59fe2eedbaad78247c8d479b2 (SimIndex.nbs on linear kernels X X^T)",
    "numpy": np.__version__,
    "cases": cases,
}, indent=1))
