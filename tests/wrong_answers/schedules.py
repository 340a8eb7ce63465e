"""Wrong answers to the learning-rate-schedules chapter's exercises."""

import math


def warmup_from_zero(t, warmup, milestones, gamma):
    if t <= warmup:
        return (t - 1) / warmup                     # first update would not move
    return gamma ** sum(m <= t - 1 for m in milestones)


def milestones_one_step_late(t, warmup, milestones, gamma):
    if t <= warmup:
        return t / warmup
    return gamma ** sum(m < t - 1 for m in milestones)


def decay_times_gamma_once(t, warmup, milestones, gamma):
    if t <= warmup:
        return t / warmup
    return gamma if any(m <= t - 1 for m in milestones) else 1.0


def below_cosine_over_t_minus_w(q, warmup, total):
    length = total - warmup                         # the cosine runs over T − W + 1
    return warmup + math.ceil(length * math.acos(2 * q - 1) / math.pi)


def below_last_step_above(q, warmup, total):
    length = total - warmup + 1
    return warmup + math.floor(length * math.acos(2 * q - 1) / math.pi)


def below_without_the_half(q, warmup, total):
    length = total - warmup + 1                     # solved cos x ≤ q, not ½(1+cos x) ≤ q
    return warmup + math.ceil(length * math.acos(q) / math.pi)


def below_counted_from_the_peak(q, warmup, total):
    length = total - warmup + 1                     # forgets to add the warm-up
    return math.ceil(length * math.acos(2 * q - 1) / math.pi)


WRONG = {
    "ex-schedules-warmup-step": [(warmup_from_zero, "first update"),
                                 (milestones_one_step_late, "first update after the first"),
                                 (decay_times_gamma_once, "t = 61")],
    "ex-schedules-first-below": [(below_cosine_over_t_minus_w, "expected 66, got 65"),
                                 (below_last_step_above, "expected 66, got 65"),
                                 (below_without_the_half, "q = 0.5"),
                                 (below_counted_from_the_peak, "the chapter's W and T")],
}
