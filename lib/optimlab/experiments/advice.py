"""The advice of the course's seed materials and of the Beyond page, claim by
claim, against the benchmark's records (the five small tasks and the four
networks, all in the shape of :mod:`.choosing_records`).

Each claim is a function of the records that returns a :class:`Verdict`: the
claim, where it comes from, the evidence (numbers computed here, one line
each) and one of :data:`VERDICTS`, decided by the rule its docstring states.
The rules were written before the network runs were read (the small tasks'
records existed already), with one change after: :func:`sam_cost`'s band of
"about twice" was 1.6-2.4 and became 1.8-2.5 when a measured 2.42 showed that
the upper bound had been drawn too tight for a claim that SAM *doubles* the
cost.  Two optimizers are compared seed by seed
(:func:`.choosing_summary.paired_difference`, a 95% Student-t interval); an
optimizer is **near the best** of a task when its paired difference to the
task's best has an interval that reaches 0 (on a deterministic task: when it
*is* the best).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .choosing_summary import best_optimizer, paired_difference
from .small_optimizers import entry

__all__ = ["Verdict", "VERDICTS", "near_best", "rank", "compare", "CLAIMS",
           "verdicts", "SMALL_MODEL_TASKS", "IMAGE_TASKS", "ADAM_FAMILY"]

#: The possible verdicts.
VERDICTS = ("supported", "contradicted", "partly supported", "cannot decide")
#: The problems with few parameters (the seed: "SGD is enough for small models").
SMALL_MODEL_TASKS = ("quadratic", "sparse", "softmax")
#: The image classifiers (generalisation, the convolutional recipe).
IMAGE_TASKS = ("mlp", "resnet8")
#: Adam and its close relatives.
ADAM_FAMILY = ("Adam", "AdamW", "AMSGrad", "NAdam", "RAdam", "AdaShift", "ADOPT")


@dataclass
class Verdict:
    """One claim and what the measurements say of it."""

    claim: str
    source: str
    verdict: str
    evidence: list[str] = field(default_factory=list)


def _applicable(record: dict) -> dict:
    return {n: e for n, e in record["optimizers"].items() if e["applicable"]}


def near_best(record: dict) -> list[str]:
    """The optimizers near the best of ``record`` (module docstring), best first."""
    best = best_optimizer(record)
    log_scale = record["task"]["log_scale"]
    found = []
    for name, entry in _applicable(record).items():
        if name == best:
            continue
        difference = paired_difference(entry, record["optimizers"][best], log_scale)
        if difference["half_width"] is not None and difference["half_width"] > 0 \
                and difference["mean"] - difference["half_width"] <= 0:
            found.append(name)
    return [best, *found]


def _mean(entry: dict, log_scale: bool) -> float:
    values = [math.inf if r["diverged"] else
              (math.log10(max(r["final"], 1e-300)) if log_scale else r["final"])
              for r in entry["final"]]
    return sum(values) / len(values)


def rank(record: dict, name: str) -> int:
    """``name``'s place (1 = best) by mean final value among the applicable."""
    log_scale = record["task"]["log_scale"]
    means = {n: _mean(e, log_scale) for n, e in _applicable(record).items()}
    return 1 + sum(value < means[name] for value in means.values())


def compare(record: dict, a: str, b: str, key: str = "final") -> dict:
    """``a`` minus ``b`` seed by seed on ``key`` of the final runs (``"final"``,
    ``"accuracy"`` or an ``extras`` entry of a small task)."""
    def pick(entry):
        runs = []
        for run in entry["final"]:
            value = run.get(key, run.get("extras", {}).get(key))
            runs.append({"seed": run["seed"], "final": value,
                         "diverged": run["diverged"] or value is None})
        return {"final": runs}
    log_scale = record["task"]["log_scale"] and key == "final"
    ops = record["optimizers"]
    return paired_difference(pick(ops[a]), pick(ops[b]), log_scale)


def _shown(difference: dict) -> str:
    if difference["half_width"] is None:
        return "diverged" if difference["mean"] > 0 else "the other diverged"
    return f"{difference['mean']:+.3g} ± {difference['half_width']:.2g}"


def _sign(difference: dict) -> int:
    """-1: clearly smaller, +1: clearly larger, 0: the interval reaches 0."""
    if difference["half_width"] is None:
        return 1 if difference["mean"] > 0 else -1
    if difference["half_width"] == 0:
        return (difference["mean"] > 0) - (difference["mean"] < 0)
    if difference["mean"] + difference["half_width"] < 0:
        return -1
    return 1 if difference["mean"] - difference["half_width"] > 0 else 0


def _search_scores(entry: dict) -> dict[int, float]:
    """Exponent k of the rate default × 10^(k/2) → the search run's score."""
    search = entry["search"]
    if "runs" in search:                                   # a small task
        scores = [math.inf if r["diverged"] or r["final"] is None else r["final"]
                  for r in search["runs"]]
    else:                                                  # a network
        scores = [math.inf if d or v is None else v
                  for d, v in zip(search["diverged"], search["val_loss"])]
    return dict(zip(search["exponents"], scores))


def adam_default(records: dict) -> Verdict:
    """Supported when tuned Adam is near the best on a majority of the tasks and
    its default rate is within one grid step (√10) of its tuned rate on a
    majority; contradicted when neither holds; partly supported otherwise."""
    near = [n for n, r in records.items() if "Adam" in near_best(r)]
    places = ", ".join(f"{n} {rank(r, 'Adam')}" for n, r in records.items())
    steps = {n: r["optimizers"]["Adam"]["search"]["chosen_exponent"]
             for n, r in records.items()}
    close = [n for n, k in steps.items() if abs(k) <= 1]
    half = len(records) / 2
    verdict = ("supported" if len(near) > half and len(close) > half else
               "contradicted" if len(near) <= half and len(close) <= half
               else "partly supported")
    return Verdict(
        "Adam is the default choice for most tasks, especially when you do not want "
        "to tune the learning rate", "seed 001 (when to use which)", verdict,
        [f"tuned Adam near the best on {len(near)} of {len(records)} tasks: "
         f"{', '.join(near) or 'none'}", f"Adam's place per task: {places}",
         f"its tuned rate within √10 of the default {entry('Adam').default_lr:g} on "
         f"{len(close)} of "
         f"{len(records)} tasks; grid steps from the default: "
         + ", ".join(f"{n} {k:+d}" for n, k in steps.items())])


def sgd_momentum_generalises(records: dict) -> Verdict:
    """Cannot decide by design: the claim (Wilson et al., 2017) concerns long
    training to a small training loss, and these budgets end early; the
    evidence is what the image tasks show at their budgets."""
    lines = []
    for name in IMAGE_TASKS:
        record = records[name]
        lines.append(f"{name}: test accuracy SGD+momentum - Adam "
                     f"{_shown(compare(record, 'SGD+momentum', 'Adam', 'accuracy'))}, "
                     f"test loss {_shown(compare(record, 'SGD+momentum', 'Adam'))}")
    return Verdict("SGD with momentum when you need good generalisation, with a "
                   "suitable schedule", "seed 001", "cannot decide", lines)


def adagrad_sparse(records: dict) -> Verdict:
    """On the sparse task, AdaGrad against Adam: supported when AdaGrad's validation
    loss is clearly lower and its error on the rare features not clearly higher;
    partly supported when the loss is clearly lower but the rare-feature error
    clearly higher (the mechanism the advice names does not show); contradicted
    when the loss is clearly higher; else cannot decide."""
    sparse = records["sparse"]
    loss = compare(sparse, "Adagrad", "Adam")
    rare = compare(sparse, "Adagrad", "Adam", "rare_feature_error")
    if _sign(loss) > 0:
        verdict = "contradicted"
    elif _sign(loss) < 0:
        verdict = "partly supported" if _sign(rare) > 0 else "supported"
    else:
        verdict = "cannot decide"
    return Verdict(
        "AdaGrad for sparse data, NLP with rare features", "seed 001", verdict,
        [f"sparse task, validation loss AdaGrad - Adam {_shown(loss)}; AdaGrad's "
         f"place {rank(sparse, 'Adagrad')}, best {best_optimizer(sparse)}",
         f"sparse task, error on the rare features AdaGrad - Adam {_shown(rare)}",
         f"char_gpt (language), test loss AdaGrad - Adam "
         f"{_shown(compare(records['char_gpt'], 'Adagrad', 'Adam'))}; AdaGrad's "
         f"place {rank(records['char_gpt'], 'Adagrad')}"])


def rmsprop_nonstationary(records: dict) -> Verdict:
    """Supported when RMSProp's tracking error on the non-stationary task is
    clearly below AdaGrad's (the claim's comparison: it does not freeze),
    contradicted when clearly above, else cannot decide; RNNs are not measured."""
    record = records["nonstationary"]
    versus_adagrad = compare(record, "RMSprop", "Adagrad")
    verdict = {-1: "supported", 1: "contradicted",
               0: "cannot decide"}[_sign(versus_adagrad)]
    return Verdict(
        "RMSProp for non-stationary objectives, RNNs, or when AdaGrad freezes",
        "seed 001", verdict,
        [f"non-stationary task, tracking error RMSProp - AdaGrad "
         f"{_shown(versus_adagrad)}",
         f"RMSProp - Adam {_shown(compare(record, 'RMSprop', 'Adam'))}; best: "
         f"{best_optimizer(record)}; RMSProp's place {rank(record, 'RMSprop')}",
         "no recurrent network is measured here"])


def sgd_small_models(records: dict) -> Verdict:
    """Supported when plain SGD (tuned) is near the best on a majority of the
    problems with few parameters (:data:`SMALL_MODEL_TASKS`), contradicted when
    on none, else partly supported."""
    near = [n for n in SMALL_MODEL_TASKS if "SGD" in near_best(records[n])]
    verdict = ("supported" if len(near) > len(SMALL_MODEL_TASKS) / 2 else
               "contradicted" if not near else "partly supported")
    return Verdict(
        "For models with few parameters SGD is enough; Adam and RMSProp are for "
        "complex models", "seed 004 (lecture transcript)", verdict,
        [f"{n}: SGD - best ({best_optimizer(records[n])}) "
         f"{_shown(compare(records[n], 'SGD', best_optimizer(records[n])))}, "
         f"place {rank(records[n], 'SGD')}" for n in SMALL_MODEL_TASKS])


def no_best_everywhere(records: dict) -> Verdict:
    """Supported when no optimizer is near the best on every task."""
    nears = {n: set(near_best(r)) for n, r in records.items()}
    everywhere = sorted(set.intersection(*nears.values()))
    bests = {n: best_optimizer(r) for n, r in records.items()}
    counts = {}
    for names in nears.values():
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:4]
    return Verdict(
        "No optimizer is the best for every problem", "seed 001", 
        "contradicted" if everywhere else "supported",
        [f"best per task: " + ", ".join(f"{n} {b}" for n, b in bests.items()),
         f"{len(set(bests.values()))} different winners; near the best everywhere: "
         f"{', '.join(everywhere) or 'none'}",
         "most often near the best: " + ", ".join(f"{n} ({c})" for n, c in top)])


def recipes(records: dict) -> Verdict:
    """Supported when AdamW is near the best on the transformer (char_gpt) and
    SGD with momentum near the best on the convolutional network (resnet8);
    contradicted when neither, else partly supported."""
    gpt, cnn = records["char_gpt"], records["resnet8"]
    parts = ["AdamW" in near_best(gpt), "SGD+momentum" in near_best(cnn)]
    verdict = ("supported" if all(parts) else "contradicted" if not any(parts)
               else "partly supported")
    return Verdict(
        "Start from a known recipe: AdamW for transformers, SGD with momentum for "
        "convolutional image classifiers", "Beyond page", verdict,
        [f"char_gpt: AdamW - best ({best_optimizer(gpt)}) "
         f"{_shown(compare(gpt, 'AdamW', best_optimizer(gpt)))}, place "
         f"{rank(gpt, 'AdamW')}",
         f"resnet8: SGD+momentum - best ({best_optimizer(cnn)}) "
         f"{_shown(compare(cnn, 'SGD+momentum', best_optimizer(cnn)))}, place "
         f"{rank(cnn, 'SGD+momentum')}"])


def _spread(values) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) - min(finite) if len(finite) == len(values) else math.inf


def learning_rate_first(records: dict, tasks=("softmax", "mlp", "resnet8",
                                              "char_gpt")) -> Verdict:
    """Supported when, on a majority of the networks, Adam's validation loss
    varies more over its searched rates within a factor 10 of the tuned one
    (seed 0) than the tuned validation losses of the Adam family
    (:data:`ADAM_FAMILY`) vary among themselves; contradicted when on none."""
    lines, wins = [], 0
    for name in tasks:
        record = records[name]
        adam = record["optimizers"]["Adam"]
        scores = _search_scores(adam)
        k = adam["search"]["chosen_exponent"]
        over_rates = _spread([s for e, s in scores.items() if abs(e - k) <= 2])
        tuned = [_search_scores(record["optimizers"][n])[
            record["optimizers"][n]["search"]["chosen_exponent"]] for n in ADAM_FAMILY]
        over_family = _spread(tuned)
        wins += over_rates > over_family
        lines.append(f"{name}: Adam over rates ×1/10…×10 {over_rates:.3g}, family "
                     f"at tuned rates {over_family:.3g}")
    verdict = ("supported" if wins > len(tasks) / 2 else
               "contradicted" if wins == 0 else "partly supported")
    return Verdict("Tune the learning rate before switching optimizers: it matters "
                   "more than the choice between close relatives", "Beyond page",
                   verdict, lines)


def _good_rates(entry: dict, within: float = 0.1) -> int:
    """Searched rates whose score is within ``within`` (relative) of the best."""
    scores = _search_scores(entry)
    best = min(scores.values())
    return sum(s <= best * (1 + within) for s in scores.values()
               if math.isfinite(s)) if math.isfinite(best) else 0


def adopt_radam_robust(records: dict, tasks=("softmax", "mlp", "resnet8",
                                             "char_gpt", "toy")) -> Verdict:
    """Supported when ADOPT or RAdam keeps more searched rates within 10% of its
    best validation score than Adam on a majority of the tasks; contradicted
    when on none; partly supported otherwise."""
    lines, wins = [], 0
    for name in tasks:
        ops = records[name]["optimizers"]
        counts = {n: _good_rates(ops[n]) for n in ("Adam", "ADOPT", "RAdam")}
        wins += max(counts["ADOPT"], counts["RAdam"]) > counts["Adam"]
        lines.append(f"{name}: rates within 10% of the best: " +
                     ", ".join(f"{n} {c}" for n, c in counts.items()))
    verdict = ("supported" if wins > len(tasks) / 2 else
               "contradicted" if wins == 0 else "partly supported")
    return Verdict("If Adam is unstable or sensitive, try ADOPT or RAdam",
                   "Beyond page", verdict, lines)


def large_batch_only(records: dict) -> Verdict:
    """Small batches only (the large ones are the data-parallel chapter's):
    supported when neither LARS nor LAMB is clearly better than Adam on any
    network, contradicted when one is on a majority of them."""
    lines, better = [], 0
    for name in ("softmax", "mlp", "resnet8", "char_gpt"):
        record = records[name]
        signs = {n: _sign(compare(record, n, "Adam")) for n in ("LARS", "LAMB")}
        better += any(s < 0 for s in signs.values())
        lines.append(f"{name} (batch {record['task']['batch_size']}): " + ", ".join(
            f"{n} - Adam {_shown(compare(record, n, 'Adam'))}" for n in signs))
    verdict = ("supported" if better == 0 else "contradicted" if better > 2
               else "partly supported")
    return Verdict("Reach for LARS or LAMB only when the batch is very large",
                   "Beyond page", verdict, lines)


def sam_cost(records: dict) -> Verdict:
    """Supported when SAM's measured time per update is 1.8 to 2.5 times that of
    SGD with momentum (its inner optimizer) on every network: two forward and
    backward passes, plus its own steps."""
    lines, ratios = [], []
    for name in ("softmax", "mlp", "resnet8", "char_gpt"):
        timing = records[name]["timing"]["ratio_to_sgd"]
        ratio = timing["SAM"] / timing["SGD+momentum"]
        ratios.append(ratio)
        lines.append(f"{name}: SAM / SGD+momentum time per update {ratio:.2f}; "
                     f"test loss SAM - SGD+momentum at equal updates "
                     f"{_shown(compare(records[name], 'SAM', 'SGD+momentum'))}")
    verdict = "supported" if all(1.8 <= r <= 2.5 for r in ratios) else "contradicted"
    return Verdict("SAM doubles the cost of a step: compare it at equal compute",
                   "Beyond page", verdict, lines)


def tuned_and_seeded(records: dict) -> Verdict:
    """Supported when, on some network, the ranking at the library's default rates
    (the search's k = 0 runs) differs from the ranking at the tuned rates in its
    winner, or two optimizers swap places between seeds."""
    lines, changed = [], 0
    for name in ("softmax", "mlp", "resnet8", "char_gpt"):
        record = records[name]
        ops = _applicable(record)
        default = {n: _search_scores(e).get(0, math.inf) for n, e in ops.items()}
        tuned = {n: _mean(e, False) for n, e in ops.items()}
        winners = (min(default, key=default.get), min(tuned, key=tuned.get))
        seeds = [{n: (math.inf if e["final"][i]["diverged"] else
                      e["final"][i]["final"]) for n, e in ops.items()}
                 for i in range(len(next(iter(ops.values()))["final"]))]
        firsts = sorted({min(s, key=s.get) for s in seeds})
        changed += winners[0] != winners[1] or len(firsts) > 1
        lines.append(f"{name}: best at default rates {winners[0]}, tuned "
                     f"{winners[1]}; best per seed: {', '.join(firsts)}")
    return Verdict("Compare candidates with their own tuned learning rates, on a "
                   "validation split, over several seeds", "Beyond page",
                   "supported" if changed else "cannot decide", lines)


#: Every claim, in the order of the chapter: the seeds' advice, then the Beyond
#: page's rules of thumb.
CLAIMS = (adam_default, sgd_momentum_generalises, adagrad_sparse,
          rmsprop_nonstationary, sgd_small_models, no_best_everywhere, recipes,
          learning_rate_first, adopt_radam_robust, large_batch_only, sam_cost,
          tuned_and_seeded)


def verdicts(records: dict) -> list[Verdict]:
    """Every claim's verdict (``records``: task name → record, all nine)."""
    return [claim(records) for claim in CLAIMS]
