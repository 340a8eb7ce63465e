"""Exercises of the chapter "An MLP on MNIST"."""

from __future__ import annotations

import math

from ..experiments.summary import T975
from .checking import Case, Exercise, float64, register


def mean_ci95(x):
    """Reference: the mean over seeds (rows of x) and the half-width of its 95%
    Student-t interval, t_{0.975, n-1} · s / √n with the sample standard deviation s."""
    n = x.shape[0]
    return x.mean(0), T975[n - 1] * x.std(0) / math.sqrt(n)


register(Exercise(
    label="ex-mnist-ci95",
    function_name="mean_ci95",
    reference=mean_ci95,
    cases=(
        Case("three seeds of one accuracy, x = [[0.97], [0.98], [0.96]]",
             (float64([[0.97], [0.98], [0.96]]),)),
        Case("three seeds of a curve with 4 points (one point equal in all seeds)",
             (float64([[2.3, 0.9, 0.5, 0.3], [2.3, 1.1, 0.4, 0.2], [2.3, 1.0, 0.6, 0.4]]),)),
        Case("two seeds, x = [[1.0, 5.0], [3.0, 4.0]]", (float64([[1.0, 5.0], [3.0, 4.0]]),)),
        Case("five seeds of one value", (float64([[0.1], [0.4], [0.2], [0.9], [0.5]]),)),
    ),
    hint="with n = x.shape[0] seeds: mean = x.mean(0); half-width = T975[n - 1] · s / √n, "
         "where s = x.std(0) is the SAMPLE standard deviation (divide by n - 1) and T975 "
         "is indexed by the degrees of freedom n - 1.",
))
