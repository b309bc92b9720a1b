"""The unfused form of the library's cells, for the benchmark only.

Each gate gets its own two matmuls (input and hidden) at every step, as the equations are
usually first written; nothing is hoisted out of the time loop. The library's cells do one
matmul of the whole input sequence for all gates, and one hidden matmul per step for all
gates. Everything else (the elementwise math) is the same, so the difference in time is
what fusing buys. tests/test_benchmarks.py checks these gradients equal the library's.
"""

from __future__ import annotations

import numpy as np

from rnnbook.functional import sigmoid


def _blocks(params: dict, gates: int) -> tuple[list, list, list, list]:
    """Per-gate views of the fused PyTorch-layout parameters."""
    split = [np.split(params[k], gates, axis=0) for k in ("weight_ih", "weight_hh")]
    biases = [np.split(params[k], gates) for k in ("bias_ih", "bias_hh")]
    return split[0], split[1], biases[0], biases[1]


def _grads(params: dict) -> dict:
    return {k: np.zeros_like(v) for k, v in params.items()}


def _accumulate(grads, gates, k, da, x_t, h_prev, W_ih, W_hh, hidden_part=None):
    """Gradients of gate k's two matmuls at one step; returns (dx_t, dh_prev) contributions."""
    H = W_ih[k].shape[0]
    rows = slice(k * H, (k + 1) * H)
    d_hidden = da if hidden_part is None else hidden_part
    grads["weight_ih"][rows] += da.T @ x_t
    grads["bias_ih"][rows] += da.sum(axis=0)
    grads["weight_hh"][rows] += d_hidden.T @ h_prev
    grads["bias_hh"][rows] += d_hidden.sum(axis=0)
    return da @ W_ih[k], d_hidden @ W_hh[k]


def lstm(params: dict, x: np.ndarray, d_out: np.ndarray) -> dict:
    """Forward and backward of a vanilla LSTM, one matmul per gate per step."""
    W_ih, W_hh, b_ih, b_hh = _blocks(params, 4)
    T, B, _ = x.shape
    H = W_hh[0].shape[1]
    h, c = np.zeros((B, H), x.dtype), np.zeros((B, H), x.dtype)
    cache = []
    for t in range(T):
        a = [x[t] @ W_ih[k].T + b_ih[k] + h @ W_hh[k].T + b_hh[k] for k in range(4)]
        i, f, g, o = sigmoid(a[0]), sigmoid(a[1]), np.tanh(a[2]), sigmoid(a[3])
        c_prev, h_prev = c, h
        c = f * c_prev + i * g
        tc = np.tanh(c)
        h = o * tc
        cache.append((h_prev, c_prev, i, f, g, o, tc))
    grads = _grads(params)
    dx = np.zeros_like(x)
    dh, dc = np.zeros((B, H), x.dtype), np.zeros((B, H), x.dtype)
    for t in reversed(range(T)):
        h_prev, c_prev, i, f, g, o, tc = cache[t]
        dh = dh + d_out[t]
        do = dh * tc
        dc = dc + dh * o * (1 - tc * tc)
        da = [
            dc * g * i * (1 - i),
            dc * c_prev * f * (1 - f),
            dc * i * (1 - g * g),
            do * o * (1 - o),
        ]
        dh = np.zeros_like(dh)
        for k in range(4):
            dx_k, dh_k = _accumulate(grads, 4, k, da[k], x[t], h_prev, W_ih, W_hh)
            dx[t] += dx_k
            dh += dh_k
        dc = dc * f
    grads["x"] = dx
    return grads


def gru(params: dict, x: np.ndarray, d_out: np.ndarray) -> dict:
    """Forward and backward of a GRU (reset after, PyTorch), one matmul per gate per step."""
    W_ih, W_hh, b_ih, b_hh = _blocks(params, 3)
    T, B, _ = x.shape
    H = W_hh[0].shape[1]
    h = np.zeros((B, H), x.dtype)
    cache = []
    for t in range(T):
        r = sigmoid(x[t] @ W_ih[0].T + b_ih[0] + h @ W_hh[0].T + b_hh[0])
        z = sigmoid(x[t] @ W_ih[1].T + b_ih[1] + h @ W_hh[1].T + b_hh[1])
        hn = h @ W_hh[2].T + b_hh[2]
        n = np.tanh(x[t] @ W_ih[2].T + b_ih[2] + r * hn)
        cache.append((h, r, z, n, hn))
        h = z * h + (1 - z) * n
    grads = _grads(params)
    dx = np.zeros_like(x)
    dh = np.zeros((B, H), x.dtype)
    for t in reversed(range(T)):
        h_prev, r, z, n, hn = cache[t]
        dh = dh + d_out[t]
        dn = dh * (1 - z) * (1 - n * n)
        dz = dh * (h_prev - n) * z * (1 - z)
        dr = dn * hn * r * (1 - r)
        dh = dh * z
        for k, da, hidden in ((0, dr, None), (1, dz, None), (2, dn, dn * r)):
            dx_k, dh_k = _accumulate(grads, 3, k, da, x[t], h_prev, W_ih, W_hh, hidden)
            dx[t] += dx_k
            dh += dh_k
    grads["x"] = dx
    return grads


def rnn(params: dict, x: np.ndarray, d_out: np.ndarray) -> dict:
    """Forward and backward of a tanh RNN with the input matmul inside the time loop."""
    W_ih, W_hh, b_ih, b_hh = _blocks(params, 1)
    T, B, _ = x.shape
    H = W_hh[0].shape[1]
    h = np.zeros((B, H), x.dtype)
    hs = []
    for t in range(T):
        hs.append(h)
        h = np.tanh(x[t] @ W_ih[0].T + b_ih[0] + h @ W_hh[0].T + b_hh[0])
        hs[-1] = (hs[-1], h)
    grads = _grads(params)
    dx = np.zeros_like(x)
    dh = np.zeros((B, H), x.dtype)
    for t in reversed(range(T)):
        h_prev, h_t = hs[t]
        da = (dh + d_out[t]) * (1 - h_t * h_t)
        dx[t], dh = _accumulate(grads, 1, 0, da, x[t], h_prev, W_ih, W_hh)
    grads["x"] = dx
    return grads
