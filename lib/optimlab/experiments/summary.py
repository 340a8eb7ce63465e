r"""Summaries of cached runs across seeds: means, 95% intervals, smoothing, selection.

With :math:`n` seeds giving values :math:`x_1, \dots, x_n`, the 95% confidence
interval of their mean is the Student-t interval

.. math:: \bar x \pm t_{0.975,\,n-1}\, \frac{s}{\sqrt n}, \qquad
          s^2 = \frac{1}{n-1} \sum_{i=1}^n (x_i - \bar x)^2,

with the quantile :math:`t_{0.975,\,n-1}` of Student's t distribution with
:math:`n-1` degrees of freedom (:data:`T975`; 4.303 for three seeds).
"""

from __future__ import annotations

import numpy as np

__all__ = ["T975", "mean_ci95", "smooth", "values", "curve", "group_by_setting"]

#: Two-sided 95% quantiles t_{0.975, df} of Student's t distribution, df = 1 ... 10.
T975 = {1: 12.706205, 2: 4.302653, 3: 3.182446, 4: 2.776445, 5: 2.570582,
        6: 2.446912, 7: 2.364624, 8: 2.306004, 9: 2.262157, 10: 2.228139}


def mean_ci95(x, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean over ``axis`` and the half-width of its 95% Student-t interval.

    NaN entries (diverged runs) propagate.  Needs 2 to 11 values along ``axis``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension")
    n = x.shape[axis]
    if n - 1 not in T975:
        raise ValueError(f"x needs 2 to {max(T975) + 1} values along axis {axis}, got {n}")
    mean = x.mean(axis=axis)
    half_width = T975[n - 1] * x.std(axis=axis, ddof=1) / np.sqrt(n)
    return mean, half_width


def smooth(x, window: int) -> np.ndarray:
    """Trailing moving average over the last ``window`` values (fewer at the start)."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    x = np.asarray(x, dtype=np.float64)
    cumulative = np.cumsum(np.insert(x, 0, 0.0, axis=-1), axis=-1)
    ends = np.arange(1, x.shape[-1] + 1)
    starts = np.maximum(ends - window, 0)
    return (cumulative[..., ends] - cumulative[..., starts]) / (ends - starts)


def values(record: dict, key: str) -> np.ndarray:
    """A logged series as floats: ``train_loss`` or an ``evals`` entry; null → NaN."""
    series = record[key] if key in record else record["evals"][key]
    return np.array([np.nan if v is None else v for v in series], dtype=np.float64)


def curve(records: list[dict], key: str) -> np.ndarray:
    """The series ``key`` of several runs stacked into ``[runs, length]``."""
    series = [values(r, key) for r in records]
    if len({len(s) for s in series}) != 1:
        raise ValueError(f"the runs log {key!r} with different lengths")
    return np.stack(series)


def group_by_setting(records: list[dict]) -> dict[tuple[str, float], list[dict]]:
    """Records grouped by (optimizer, lr), each group sorted by seed."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for record in records:
        setting = (record["config"]["optimizer"], record["config"]["lr"])
        groups.setdefault(setting, []).append(record)
    return {k: sorted(v, key=lambda r: r["config"]["seed"]) for k, v in groups.items()}
