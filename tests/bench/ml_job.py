"""ml_job.py - a small numpy/sklearn job: fit and score a classifier on the digits data set
(sklearn when installed; otherwise the same shape of work in numpy alone, and it says so)."""
import numpy as np

try:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    clf = LogisticRegression(max_iter=300).fit(Xtr, ytr)
    print("sklearn accuracy %.3f" % clf.score(Xte, yte))
except ImportError:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 64))
    w_true = rng.normal(size=(64, 10))
    y = np.argmax(X @ w_true, axis=1)
    W = np.zeros((64, 10))
    for _ in range(200):  # softmax regression by gradient descent
        z = X @ W
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        W -= 0.1 * X.T @ p / len(y)
    print("numpy-only (no sklearn) accuracy %.3f" % np.mean(np.argmax(X @ W, axis=1) == y))
