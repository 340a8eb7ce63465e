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


def seeds_needed(s, half_width):
    """Reference: the smallest number of seeds n ≥ 2 whose 95% interval (mnist-ci) has a
    half-width t_{0.975, n-1} · s / √n of at most ``half_width``, if the sample standard
    deviation stays s (the cases need at most 11 seeds, the end of T975)."""
    for n in range(2, max(T975) + 2):
        if T975[n - 1] * s / math.sqrt(n) <= half_width:
            return n
    raise ValueError("more than 11 seeds needed")


def _seeds(s, half_width, note=""):
    return Case(f"s = {s}, half_width = {half_width}{note}", (s, half_width))


register(Exercise(
    label="ex-mnist-seeds",
    function_name="seeds_needed",
    reference=seeds_needed,
    cases=(
        _seeds(0.4, 0.8),
        _seeds(0.1, 0.13),
        _seeds(0.05, 0.05),
        _seeds(0.2, 0.6),
        _seeds(1.0, 10.0, " (two seeds suffice)"),
        _seeds(0.3, 0.24),
        _seeds(2.0, 1.36, " (eleven seeds)"),
    ),
    hint="try n = 2, 3, … and return the first n with T975[n - 1] · s / √n ≤ half_width: "
         "the quantile has n − 1 degrees of freedom, not n, and shrinks too as n grows; "
         "it is not the normal 1.96.",
))
