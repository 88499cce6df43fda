"""Reference values for similarity.test.ts, from independent NumPy implementations.

Regenerate with:  python3 src/core/metrics/testdata/reference.py > src/core/metrics/testdata/reference.json

The CKA functions follow Kornblith et al.'s published colab (gram_linear, gram_rbf, center_gram,
cka, feature_space_linear_cka), except that the RBF bandwidth uses the median of the nonzero
pairwise squared distances (PruneScope's documented default). CCA works on orthonormal bases of
the centred data from a rank-truncated SVD (no covariance matrices), NBS uses matrix square
roots of the n x n Gram matrices (by eigen-decomposition) as in its definition, so they check the feature-space
derivations in cca.ts and nbs.ts rather than repeat them.
"""
import json
import numpy as np


def gram_linear(x):
    return x.dot(x.T)


def gram_rbf(x, threshold=1.0):
    dot = x.dot(x.T)
    sq = np.diag(dot)
    d = np.maximum(-2 * dot + sq[:, None] + sq[None, :], 0)
    iu = np.triu_indices(len(x), 1)
    upper = d[iu]
    med = np.median(upper[upper > 0])
    return np.exp(-d / (2 * threshold ** 2 * med))


def center_gram(gram, unbiased=False):
    gram = gram.copy()
    if unbiased:
        n = gram.shape[0]
        np.fill_diagonal(gram, 0)
        means = np.sum(gram, 0, dtype=np.float64) / (n - 2)
        means -= np.sum(means) / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        np.fill_diagonal(gram, 0)
    else:
        means = np.mean(gram, 0, dtype=np.float64)
        means -= np.mean(means) / 2
        gram -= means[:, None]
        gram -= means[None, :]
    return gram


def cka(gx, gy, debiased=False):
    gx = center_gram(gx, unbiased=debiased)
    gy = center_gram(gy, unbiased=debiased)
    return gx.ravel().dot(gy.ravel()) / (np.linalg.norm(gx) * np.linalg.norm(gy))


def feature_space_linear_cka(x, y):
    x = x - x.mean(0, keepdims=True)
    y = y - y.mean(0, keepdims=True)
    return np.linalg.norm(x.T.dot(y)) ** 2 / (np.linalg.norm(x.T.dot(x)) * np.linalg.norm(y.T.dot(y)))


def minibatch_cka(x, y, batch):
    n = len(x)
    starts = list(range(0, n, batch))
    if n - starts[-1] < 4:
        starts.pop()
    bounds = list(zip(starts, starts[1:] + [n]))
    xy = xx = yy = 0.0
    for s, e in bounds:
        gx = center_gram(gram_linear(x[s:e]), unbiased=True)
        gy = center_gram(gram_linear(y[s:e]), unbiased=True)
        m = e - s
        # center_gram(unbiased) gives n(n-3) x HSIC_1 up to a constant common to a batch;
        # divide by the same factor PruneScope uses so batches of unequal size weigh alike.
        f = 1.0 / (m * (m - 3))
        xy += gx.ravel().dot(gy.ravel()) * f
        xx += gx.ravel().dot(gx.ravel()) * f
        yy += gy.ravel().dot(gy.ravel()) * f
    return xy / np.sqrt(xx * yy)


def basis(x, tol=1e-10, variance=None):
    xc = x - x.mean(0, keepdims=True)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    lam = s ** 2
    r = int(np.sum(lam > tol * lam[0]))
    if variance is not None:
        c = np.cumsum(lam[:r]) / np.sum(lam[:r])
        r = int(np.searchsorted(c, variance - 1e-15) + 1)
    return u[:, :r], xc


def cca(x, y, variance=None):
    ux, _ = basis(x, variance=variance)
    uy, _ = basis(y, variance=variance)
    return np.clip(np.linalg.svd(ux.T.dot(uy), compute_uv=False), 0, 1)


def pwcca(x, y):
    ux, xc = basis(x)
    uy, _ = basis(y)
    a, rho, _ = np.linalg.svd(ux.T.dot(uy), full_matrices=False)
    k = min(ux.shape[1], uy.shape[1])
    h = ux.dot(a[:, :k])  # unit-norm canonical variates of X
    alpha = np.abs(h.T.dot(x)).sum(1)  # projections of the original (uncentred) activations
    alpha = alpha / alpha.sum()
    return float(np.sum(alpha * np.clip(rho[:k], 0, 1)))


def nbs(x, y):
    xc = x - x.mean(0)
    yc = y - y.mean(0)
    kx = xc.dot(xc.T)
    ky = yc.dot(yc.T)
    # Kx has rank <= p < n: its zero eigenvalues come out as +-1e-15 noise, whose square roots
    # (~3e-8 each) would swamp the comparison, so they are set to exact zeros first.
    w, v = np.linalg.eigh(kx)
    w[w < 1e-12 * w.max()] = 0
    rx = (v * np.sqrt(w)).dot(v.T)
    inner = rx.dot(ky).dot(rx)
    w = np.linalg.eigvalsh((inner + inner.T) / 2)
    w[w < 1e-12 * w.max()] = 0
    return float(np.sum(np.sqrt(w)) / np.sqrt(np.trace(kx) * np.trace(ky)))


rng = np.random.default_rng(20240611)
n = 40
x = rng.normal(size=(n, 6))
y = np.tanh(x.dot(rng.normal(size=(6, 4)))) + 0.3 * rng.normal(size=(n, 4))
# Rank-deficient: a duplicated direction, a dead (constant) unit and a scaled copy.
xd = np.column_stack([x[:, 0], x[:, 1], x[:, 0] + x[:, 1], np.full(n, 0.25), 3 * x[:, 2], x[:, 3]])
relu = np.maximum(x.dot(rng.normal(size=(6, 8))), 0)


def case(name, a, b):
    return {
        "name": name,
        "x": {"rows": a.shape[0], "cols": a.shape[1], "data": a.ravel().tolist()},
        "y": {"rows": b.shape[0], "cols": b.shape[1], "data": b.ravel().tolist()},
        "linearCKA": float(feature_space_linear_cka(a, b)),
        "linearCKAGram": float(cka(gram_linear(a), gram_linear(b))),
        "debiasedCKA": float(cka(gram_linear(a), gram_linear(b), debiased=True)),
        "rbfCKA": float(cka(gram_rbf(a), gram_rbf(b))),
        "rbfCKAThreshold05": float(cka(gram_rbf(a, 0.5), gram_rbf(b, 0.5))),
        "rbfCKADebiased": float(cka(gram_rbf(a), gram_rbf(b), debiased=True)),
        "minibatchCKA10": float(minibatch_cka(a, b, 10)),
        "minibatchCKA7": float(minibatch_cka(a, b, 7)),
        "canonicalCorrelations": cca(a, b).tolist(),
        "meanCCA": float(np.mean(cca(a, b))),
        "svcca": float(np.mean(cca(a, b, variance=0.99))),
        "svcca90": float(np.mean(cca(a, b, variance=0.9))),
        "pwcca": pwcca(a, b),
        "nbs": nbs(a, b),
    }


print(json.dumps({"cases": [case("gaussian-vs-tanh", x, y), case("rank-deficient-vs-tanh", xd, y), case("relu-vs-gaussian", relu, x)]}, indent=1))
