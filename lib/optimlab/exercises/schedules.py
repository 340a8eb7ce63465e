"""Exercises of the chapter "Learning-rate schedules"."""

from __future__ import annotations

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
