"""Exercises of the chapter "Learning-rate schedules"."""

from __future__ import annotations

import math

from .checking import Case, Exercise, register


def warmup_step(t, warmup, milestones, gamma):
    """Reference: factor η_t/η of a linear warm-up followed by a step decay."""
    if t <= warmup:
        return t / warmup
    return gamma ** sum(m <= t - 1 for m in milestones)


def _case(t, warmup, milestones, gamma, note=""):
    return Case(f"t = {t}, warmup = {warmup}, milestones = {milestones}, "
                f"gamma = {gamma}{note}", (t, warmup, milestones, gamma))


register(Exercise(
    label="ex-schedules-warmup-step",
    function_name="warmup_step",
    reference=warmup_step,
    cases=(
        _case(1, 5, (30, 60, 80), 0.1, " (first update)"),
        _case(3, 5, (30, 60, 80), 0.1),
        _case(5, 5, (30, 60, 80), 0.1, " (last warm-up step)"),
        _case(6, 5, (30, 60, 80), 0.1),
        _case(30, 5, (30, 60, 80), 0.1, " (last update before the first milestone)"),
        _case(31, 5, (30, 60, 80), 0.1, " (first update after the first milestone)"),
        _case(61, 5, (30, 60, 80), 0.1),
        _case(200, 5, (30, 60, 80), 0.1),
        _case(12, 4, (10,), 0.5),
        _case(7, 10, (20, 40), 0.3),
    ),
    hint="during the warm-up (t ≤ warmup) the factor is t/warmup; after it, gamma to "
         "the power of the number of milestones m with m ≤ t − 1 (the scheduler step "
         "s = t − 1, as in StepDecay).",
))


def first_step_below(q, warmup, total):
    """Reference: the first update t > W of warm-up + cosine (η_min = 0) with η_t ≤ qη.

    For t > W the factor is ½(1 + cos(π(t − W)/L)) with L = T − W + 1, and it is ≤ q
    exactly when t − W ≥ L·arccos(2q − 1)/π; the smallest such t is W plus the ceiling.
    """
    length = total - warmup + 1
    return warmup + math.ceil(length * math.acos(2 * q - 1) / math.pi)


def _below(q, warmup, total, note=""):
    return Case(f"q = {q}, warmup = {warmup}, total = {total}{note}", (q, warmup, total))


register(Exercise(
    label="ex-schedules-first-below",
    function_name="first_step_below",
    reference=first_step_below,
    cases=(
        _below(0.5, 10, 120, " (the chapter's W and T)"),
        _below(0.2, 40, 400, " (the warm-up + cosine of the MNIST runs)"),
        _below(0.9, 5, 100),
        _below(0.1, 10, 120),
        _below(0.75, 1, 10),
        _below(0.05, 100, 1000),
        _below(0.01, 3, 30, " (the answer is the last update, t = T)"),
    ),
    hint="after the warm-up the factor is ½(1 + cos(π(t − W)/L)) with L = T − W + 1 "
         "(not T − W); solve ½(1 + cos x) ≤ q for x = π(t − W)/L, i.e. "
         "x ≥ arccos(2q − 1), and return the smallest whole t: W plus the ceiling of "
         "L·arccos(2q − 1)/π.",
))
