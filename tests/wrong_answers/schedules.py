"""Wrong answers to the learning-rate-schedules chapter's exercises."""


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


WRONG = {
    "ex-schedules-warmup-step": [(warmup_from_zero, "first update"),
                                 (milestones_one_step_late, "first update after the first"),
                                 (decay_times_gamma_once, "t = 61")],
}
