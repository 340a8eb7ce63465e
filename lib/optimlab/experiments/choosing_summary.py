"""What the small-task records say: per optimizer, final quality with paired
differences and 95% intervals, time-to-target, memory, time and hyperparameters.

Runs of the same seed see the same noise, minibatches or draws whatever the
optimizer, so two optimizers are compared seed by seed: the difference of their
final values on each seed (of their log10 on a task whose values span decades,
``log_scale``), its mean over the seeds and a Student-t 95% interval.  A diverged
run counts as the worst value (+inf): a difference that involves one is infinite
and has no interval.  Everything here is computed from the records, so it needs
no audit of its own.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

__all__ = ["t_quantile", "final_values", "paired_difference", "best_optimizer",
           "rows", "table"]


def t_quantile(df: int, probability: float = 0.975) -> float:
    """The quantile of Student's t with ``df`` degrees of freedom (bisection on
    the CDF, integrated by Simpson's rule; accurate to about 1e-6)."""
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    if not 0.5 <= probability < 1:
        raise ValueError(f"probability must be in [0.5, 1), got {probability}")
    scale = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(
        df * math.pi)

    def cdf(x: float) -> float:
        grid = np.linspace(0.0, x, 4001)
        density = scale * (1 + grid ** 2 / df) ** (-(df + 1) / 2)
        weights = np.ones_like(grid)
        weights[1:-1:2], weights[2:-1:2] = 4, 2
        return 0.5 + float(density @ weights) * (x / 4000) / 3

    low, high = 0.0, 1.0
    while cdf(high) < probability:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if cdf(middle) < probability else (low, middle)
    return (low + high) / 2


def _scaled(value: float | None, log_scale: bool) -> float:
    if value is None:
        return math.inf
    return math.log10(max(value, 1e-300)) if log_scale else value


def final_values(entry: dict, log_scale: bool = False) -> dict[int, float]:
    """Seed → final value of the final runs (log10 if ``log_scale``; +inf if the
    run diverged)."""
    return {run["seed"]: math.inf if run["diverged"] else
            _scaled(run["final"], log_scale) for run in entry["final"]}


def paired_difference(a: dict, b: dict, log_scale: bool = False) -> dict:
    """``a`` minus ``b`` seed by seed: mean, 95% half-width, seeds (a half-width
    of 0 with one seed: a deterministic task; None when a value is infinite)."""
    values_a, values_b = final_values(a, log_scale), final_values(b, log_scale)
    seeds = sorted(set(values_a) & set(values_b))
    differences = [values_a[s] - values_b[s] for s in seeds]
    infinite = [s for s in seeds
                if not (math.isfinite(values_a[s]) and math.isfinite(values_b[s]))]
    if not seeds or infinite:
        worse = any(math.isinf(values_a[s]) for s in seeds)
        return {"mean": math.inf if worse else -math.inf, "half_width": None,
                "seeds": len(seeds)}
    mean = sum(differences) / len(differences)
    if len(differences) == 1:
        return {"mean": mean, "half_width": 0.0, "seeds": 1}
    spread = math.sqrt(sum((d - mean) ** 2 for d in differences) / (len(seeds) - 1))
    return {"mean": mean, "half_width": t_quantile(len(seeds) - 1) * spread
            / math.sqrt(len(seeds)), "seeds": len(seeds)}


def _mean_final(entry: dict, log_scale: bool) -> float:
    values = list(final_values(entry, log_scale).values())
    return sum(values) / len(values)


def best_optimizer(record: dict) -> str:
    """The applicable optimizer with the best mean final value (of log10 on a
    ``log_scale`` task); a diverged seed makes the mean +inf."""
    log_scale = record["task"]["log_scale"]
    scored = {name: _mean_final(entry, log_scale)
              for name, entry in record["optimizers"].items() if entry["applicable"]}
    return min(scored, key=lambda name: (scored[name], name))


def _median_to_target(entry: dict) -> tuple[int, float | None]:
    """(runs that reached the target, median updates-to-target; None when fewer
    than half reached it: the unreached count as later than any)."""
    values = sorted(math.inf if r["updates_to_target"] is None else
                    r["updates_to_target"] for r in entry["final"])
    reached = sum(math.isfinite(v) for v in values)
    middle = float(np.median(values)) if values else math.inf
    return reached, middle if math.isfinite(middle) else None


def _typical_final(entry: dict, log_scale: bool) -> float:
    """The mean final value; on a ``log_scale`` task the geometric mean."""
    mean = _mean_final(entry, log_scale)
    return 10 ** mean if log_scale and math.isfinite(mean) else mean


def rows(record: dict, reference: str = "Adam") -> list[dict]:
    """One row per optimizer of a task's record (the table's numbers)."""
    log_scale = record["task"]["log_scale"]
    timing = record["timing"].get("ratio_to_sgd", {})
    optimizers = record["optimizers"]
    found = []
    for name, entry in optimizers.items():
        row = {"optimizer": name, "applicable": entry["applicable"],
               "hyperparameters": entry["hyperparameter_count"]}
        if not entry["applicable"]:
            found.append({**row, "reason": entry["reason"]})
            continue
        finals = [math.inf if r["diverged"] else r["final"] for r in entry["final"]]
        reached, median = _median_to_target(entry)
        search = entry["search"]
        versus = paired_difference(entry, optimizers[reference], log_scale) \
            if reference in optimizers else None
        found.append({**row, "lr": search["chosen_lr"],
                      "widened": len(search["widened"]),
                      "edge_after_limit": search["edge_after_limit"],
                      "final_typical": _typical_final(entry, log_scale),
                      "final_min": min(finals), "final_max": max(finals),
                      "diverged": sum(r["diverged"] for r in entry["final"]),
                      "reached": reached, "seeds": len(finals),
                      "median_updates_to_target": median, "vs_reference": versus,
                      "state_bytes_per_parameter":
                          entry["state_bytes_per_parameter"],
                      "time_ratio": timing.get(name)})
    return found


def _interval(difference: dict | None) -> str:
    if difference is None:
        return "?"
    if difference["half_width"] is None:
        return "+inf (diverged)" if difference["mean"] > 0 else "-inf"
    return f"{difference['mean']:+.3f} ± {difference['half_width']:.3f}"


def table(record: dict, reference: str = "Adam") -> str:
    """The rows as text, ≤ 84 characters a line: the chosen rate (* still at an
    edge after the widening limit), the typical final value, the paired
    difference to ``reference`` with its 95% interval, the median updates to
    the target and how many seeds reached it, the state bytes per parameter,
    the time of an update relative to SGD and the hyperparameters."""
    spec = record["task"]
    scale = "log10 " if spec["log_scale"] else ""
    typical = "geo. mean" if spec["log_scale"] else "mean"
    head = textwrap.wrap(f"{spec['name']}: {spec['objective']}; {spec['updates']} "
                         f"updates, target {spec['target']:g}; best: "
                         f"{best_optimizer(record)}", 84)
    lines = [*head,
             f"{'optimizer':17s} {'lr':>8s} {typical:>9s} "
             f"{f'Δ{scale}vs {reference}':>17s} {'to target':>9s} {'B/par':>6s} "
             f"{'time':>5s} {'hp':>2s}"]
    for row in rows(record, reference):
        if not row["applicable"]:
            lines.append(f"{row['optimizer']:17s} not applicable: "
                         f"{row['reason'][:48]}…")
            continue
        median = row["median_updates_to_target"]
        target = f"{median:.0f}" if median is not None else "—"
        ratio = f"{row['time_ratio']:.1f}x" if row["time_ratio"] else "?"
        lr = f"{row['lr']:.2g}" + ("*" if row["edge_after_limit"] else "")
        lines.append(f"{row['optimizer']:17s} {lr:>8s} {row['final_typical']:9.3g} "
                     f"{_interval(row['vs_reference']):>17s} "
                     f"{target:>5s} {row['reached']}/{row['seeds']} "
                     f"{row['state_bytes_per_parameter']:6.1f} {ratio:>5s} "
                     f"{row['hyperparameters']:2d}")
    return "\n".join(lines)
