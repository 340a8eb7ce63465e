"""The network tasks of the optimizer benchmark: the runner's wrappers, the
search protocol, the records, the costs, and the verdicts on the advice.

Training runs here are tiny (a few updates on a subset of MNIST); the stored
records are checked by the audit (tests/test_experiments_audit.py).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from optimlab import optim
from optimlab.experiments import (cache, choosing_costs, network_records,
                                  networks, advice, cli,
                                  networks_command, provenance, runner)
from optimlab.experiments.config import Config
from optimlab.experiments.small_optimizers import ENTRIES, entry
from optimlab.exercises import choosing as exercises
from optimlab.exercises import get_exercise
from optimlab.models import softmax_regression

from tiny_runs import tiny


# --- the model and the runner's wrappers -------------------------------------------

def test_softmax_regression_is_one_linear_map_of_the_pixels():
    torch.manual_seed(0)
    model = softmax_regression()
    x = torch.randn(5, 28, 28, 1)
    linear = model[1]
    assert torch.allclose(model(x), x.flatten(1) @ linear.weight.T + linear.bias)
    assert sum(p.numel() for p in model.parameters()) == 7850
    with pytest.raises(ValueError, match="classes must be a positive int"):
        softmax_regression(classes=0)


def _batch(config):
    return next(iter(runner.train_batches(config).epoch(runner.epoch_generator(config, 0))))


def test_a_lookahead_config_steps_lookahead_around_its_inner_optimizer():
    config = tiny(optimizer="Lookahead", lr=0.01, schedule="constant",
                  hyperparameters={"inner": "Adam", "inner_betas": (0.8, 0.99), "k": 2})
    model, optimizer = runner.build(config)
    assert isinstance(optimizer, optim.Lookahead) and optimizer.k == 2
    assert isinstance(optimizer.optimizer, optim.Adam)
    assert tuple(optimizer.optimizer.param_groups[0]["betas"]) == (0.8, 0.99)
    torch.manual_seed(config.seed)
    reference_model = runner.architectures.build("mlp")
    reference = optim.Lookahead(optim.Adam(reference_model.parameters(), lr=0.01,
                                           betas=(0.8, 0.99)), k=2)
    x, y = _batch(config)
    for _ in range(3):
        runner._update(model, optimizer, x, y, 0.01, torch.autocast("cpu", enabled=False))
        reference.zero_grad()
        F.cross_entropy(reference_model(x), y).backward()
        reference.step()
    for ours, theirs in zip(model.parameters(), reference_model.parameters()):
        assert torch.equal(ours, theirs)


def test_sam_takes_its_second_gradient_on_the_same_batch():
    config = tiny(optimizer="SAM", lr=0.05, schedule="constant",
                  hyperparameters={"inner": "SGD", "inner_momentum": 0.9, "rho": 0.1})
    model, optimizer = runner.build(config)
    assert isinstance(optimizer, optim.SAM) and optimizer.rho == 0.1
    torch.manual_seed(config.seed)
    reference_model = runner.architectures.build("mlp")
    reference = optim.SAM(reference_model.parameters(), optim.SGD, rho=0.1, lr=0.05,
                          momentum=0.9)
    x, y = _batch(config)
    for _ in range(2):
        loss = runner._update(model, optimizer, x, y, 0.05,
                              torch.autocast("cpu", enabled=False))

        def closure():
            reference.zero_grad()
            value = F.cross_entropy(reference_model(x), y)
            value.backward()
            return value
        closure()
        reference.step(closure)
    for ours, theirs in zip(model.parameters(), reference_model.parameters()):
        assert torch.equal(ours, theirs)
    assert loss.ndim == 0


@pytest.mark.parametrize("optimizer, hyperparameters, message", [
    ("Lookahead", {}, "must name it as 'inner'"),
    ("SAM", {"inner": "Muon"}, "got inner='Muon'"),
    ("SAM", {"inner": "NoSuchOptimizer"}, "got inner='NoSuchOptimizer'"),
    ("Adam", {"inner": "SGD"}, "'inner' is for the wrappers"),
])
def test_a_wrapper_without_a_valid_inner_optimizer_is_refused(optimizer, hyperparameters,
                                                                message):
    with pytest.raises(ValueError, match=message):
        tiny(optimizer=optimizer, hyperparameters=hyperparameters)


def test_a_wrappers_code_hash_covers_its_inner_optimizer():
    adam = tiny(optimizer="Lookahead", hyperparameters={"inner": "Adam"})
    sgd = tiny(optimizer="Lookahead", hyperparameters={"inner": "SGD"})
    assert provenance.code_hashes(adam)["optimizer"] != \
        provenance.code_hashes(sgd)["optimizer"]


# --- the protocol ------------------------------------------------------------------

def test_muon_applies_only_to_networks_with_a_hidden_matrix():
    muon = entry("Muon")
    assert networks.applicable(networks.TASKS["mlp"], muon) is None
    assert networks.applicable(networks.TASKS["char_gpt"], muon) is None
    for name in ("softmax", "resnet8"):
        reason = networks.applicable(networks.TASKS[name], muon)
        assert "hidden 2-D weights" in reason
    pairs = networks.pairs()
    assert len(pairs) == 4 * len(ENTRIES) - 2


def test_configs_carry_the_tables_options_and_the_schedule():
    task = networks.TASKS["resnet8"]
    shampoo = networks.config(task, entry("Shampoo"), 0.01, 1)
    assert dict(shampoo.hyperparameters) == {"precondition_frequency": 10}
    assert shampoo.schedule == "cosine" and shampoo.eval_steps == [0, 60, 120]
    sam = networks.config(task, entry("SAM"), 0.01, 0)
    assert dict(sam.hyperparameters) == {"inner": "SGD", "inner_momentum": 0.9}
    free = networks.config(task, entry("AdamWScheduleFree"), 0.01, 0)
    assert free.schedule == "constant"
    muon = networks.config(networks.TASKS["mlp"], entry("Muon"),
                                    0.04, 0)
    assert dict(muon.hyperparameters)["adamw_lr"] == pytest.approx(0.002)
    assert networks.rate(entry("Adam"), 1) == 0.00316227766017


def _fake_reader(score):
    """A reader whose record of a seed-0 run at rate lr has validation loss
    score(lr) (None: diverged), and every other run a finite loss."""
    def read(config):
        loss = score(config.lr) if config.seed == 0 else 1.0
        return {"evals": {"val_loss": [2.0, loss]}, "diverged": loss is None}
    return read


def test_the_search_widens_towards_the_better_edge_until_the_limit():
    task, adam = networks.TASKS["softmax"], entry("Adam")
    found = networks.plan(task, adam, _fake_reader(lambda lr: 1.0 / lr))
    search = found["search"]
    limit = networks.MAX_WIDENING
    assert [w["side"] for w in search["widened"]] == ["high"] * limit
    assert search["chosen_exponent"] == 2 + limit and search["edge_after_limit"]
    assert [c.seed for c in found["finals"]] == list(networks.SEEDS)
    assert {c.lr for c in found["finals"]} == {search["chosen_lr"]}


def test_the_search_stops_inside_and_a_diverged_run_scores_worst():
    task, adam = networks.TASKS["softmax"], entry("Adam")
    best = networks.rate(adam, -1)

    def score(lr):
        return None if lr > 0.002 else abs(math.log(lr / best)) + 0.1
    search = networks.plan(task, adam, _fake_reader(score))["search"]
    assert search["chosen_lr"] == best and not search["widened"]
    assert search["diverged"] == [False, False, False, True, True]


def test_a_search_in_progress_lists_the_runs_still_due():
    task, adam = networks.TASKS["softmax"], entry("Adam")
    done = {networks.config(task, adam, networks.rate(adam, 0), 0)}

    def read(config):
        return {"evals": {"val_loss": [2.0, 0.5]}, "diverged": False} \
            if config in done else None
    found = networks.plan(task, adam, read)
    assert found["search"] is None and len(found["missing"]) == 4


# --- running, resuming, costs ------------------------------------------------------

TINY_TASK = networks.NetworkTask("softmax", "softmax", "mnist", 16, 4,
                                          eval_subset=50, description="tiny")


@pytest.fixture
def tiny_task(monkeypatch):
    monkeypatch.setattr(networks, "TASKS", {"softmax": TINY_TASK})
    monkeypatch.setattr(networks, "GRID_EXPONENTS", (-1, 0, 1))
    monkeypatch.setattr(networks, "MAX_WIDENING", 1)
    monkeypatch.setattr(networks, "SEEDS", (0, 1))
    return TINY_TASK


def test_runs_are_stored_as_they_end_and_a_second_call_runs_nothing(tiny_task, tmp_path):
    pairs = [(tiny_task, entry("SGD")), (tiny_task, entry("Lookahead"))]
    lines = []
    done = networks_command.run_pairs(pairs, "test", tmp_path, lines.append)
    assert done == len(list((tmp_path / networks.EXPERIMENT).glob("*.json")))
    assert 2 * 4 <= done <= 2 * 5 and len(lines) == done
    assert networks_command.run_pairs(pairs, "test", tmp_path, lines.append) == 0
    counts = networks_command.describe_pairs(pairs, tmp_path, lines.append)
    assert counts == {"searching": 0, "finals due": 0, "done": 2}


def test_costs_need_a_complete_search_and_name_the_command(tiny_task, tmp_path):
    with pytest.raises(ValueError, match="networks run --task softmax"):
        networks_command.chosen_rates(tiny_task, tmp_path)


def test_state_bytes_per_parameter_are_those_of_the_state_dict():
    task = networks.TASKS["softmax"]
    measure = networks.state_bytes_per_parameter
    assert measure(task, entry("SGD"), 0.1) == 0
    assert measure(task, entry("SGD+momentum"), 0.1) == 4
    assert measure(task, entry("Adam"), 0.001) == 8
    assert measure(task, entry("Lookahead"), 0.001) == 12      # + the slow weights


def test_the_stored_costs_hold_the_state_bytes_measured_now():
    stored = choosing_costs.read()["tasks"]["softmax"]["state_bytes_per_parameter"]
    task = networks.TASKS["softmax"]
    for name in ("Adam", "Adafactor", "Shampoo", "SOAP"):
        again = networks.state_bytes_per_parameter(task, entry(name), 1e-3)
        assert stored[name] == pytest.approx(again, rel=1e-12), name


def test_a_broken_costs_file_is_named_with_the_command_that_writes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="networks costs"):
        choosing_costs.read(tmp_path)
    (tmp_path / choosing_costs.COSTS_FILE).write_text('{"tasks": {"mlp": {}}}')
    with pytest.raises(ValueError, match="is not a costs file"):
        choosing_costs.read(tmp_path)


def test_the_command_line_refuses_a_bad_shard(capsys):
    with pytest.raises(SystemExit, match="--shard i/n needs 0 <= i < n"):
        cli.main(["networks", "run", "--shard", "2/2"])


# --- records, targets, verdicts ----------------------------------------------------

@pytest.mark.parametrize("case", [case.args for case in
                                  get_exercise("ex-choosing-target").cases])
def test_the_library_target_rule_is_the_exercises(case):
    losses, target, window = case
    assert network_records.updates_to_target(losses, target, window) == \
        exercises.updates_to_target(losses, target, window)


def _record(finals, log_scale=False):
    """A record with optimizers name → per-seed final values (None: diverged)."""
    return {"task": {"name": "t", "log_scale": log_scale},
            "optimizers": {name: {"applicable": True, "final": [
                {"seed": s, "final": v, "diverged": v is None}
                for s, v in enumerate(values)]} for name, values in finals.items()}}


@pytest.mark.parametrize("finals", [
    {"A": [1.0, 1.1, 0.9], "B": [1.5, 1.6, 1.4]},
    {"A": [1.0, 1.2, 0.9], "B": [1.1, 1.0, 1.05], "C": [2.0, 2.1, 1.9]},
    {"A": [1.0, None, 1.0], "B": [1.2, 1.1, 1.3]},
    {"A": [1.0, 1.0, 1.0], "B": [1.05, 1.1, 1.15]},
])
def test_near_best_is_the_exercises_rule(finals):
    assert advice.near_best(_record(finals)) == exercises.near_best(finals)


def test_no_best_everywhere_is_contradicted_by_an_optimizer_that_always_ties():
    tie = _record({"A": [1.0, 1.2, 0.9], "B": [1.1, 1.0, 1.05]})
    apart = _record({"A": [1.0, 1.1, 0.9], "B": [1.5, 1.6, 1.4]})
    flipped = _record({"A": [1.5, 1.6, 1.4], "B": [1.0, 1.1, 0.9]})
    assert advice.no_best_everywhere({"x": tie, "y": tie}).verdict == \
        "contradicted"
    assert advice.no_best_everywhere({"x": apart, "y": flipped}).verdict \
        == "supported"


@pytest.fixture(scope="module")
def records():
    return network_records.all_records()


def test_every_claim_gets_a_verdict_from_the_stored_records(records):
    assert list(records) == ["quadratic", "rosenbrock", "toy", "sparse",
                             "nonstationary", "softmax", "mlp", "resnet8", "char_gpt"]
    found = advice.verdicts(records)
    assert len(found) == len(advice.CLAIMS)
    for verdict in found:
        assert verdict.verdict in advice.VERDICTS and verdict.evidence


def test_a_network_record_reads_the_chosen_runs_and_a_target_half_reach(records):
    record = records["mlp"]
    applicable = {n: e for n, e in record["optimizers"].items() if e["applicable"]}
    assert len(applicable) == len(ENTRIES)
    for name, entry_ in applicable.items():
        assert [r["seed"] for r in entry_["final"]] == list(networks.SEEDS)
        config = networks.config(networks.TASKS["mlp"], entry(name),
                                          entry_["search"]["chosen_lr"], 1)
        stored = cache.load(config)
        assert entry_["final"][1]["diverged"] == (stored["test"]["loss"] is None
                                                   or stored["diverged"])
        if not entry_["final"][1]["diverged"]:
            assert entry_["final"][1]["final"] == stored["test"]["loss"]
    reached = [any(r["updates_to_target"] is not None for r in e["final"])
               for e in applicable.values()]
    assert sum(reached) >= len(applicable) / 2
