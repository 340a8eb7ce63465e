"""The small-task optimizer benchmark: its tasks, protocol, records and audit.

Every run here has a budget of a few updates (``updates=`` of the tasks), except
the check of the stored records, which recomputes a sample of their runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from optimlab import optim
from optimlab.experiments import (audit, choosing_records, choosing_small,
                                  choosing_summary, cli, small_optimizers,
                                  small_tasks)
from optimlab.experiments.records import DamagedResultError, digest

TINY = 8
entry = small_optimizers.entry


def autograd(function, theta):
    theta = theta.detach().clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(function(theta), theta)
    return gradient


# --- the tasks -----------------------------------------------------------------

def test_the_quadratic_gradient_is_the_exact_one_plus_the_updates_noise():
    problem = small_tasks.task("quadratic", TINY).problem(3)
    generator = torch.Generator().manual_seed(1)
    theta = torch.randn(50, 4, dtype=torch.float64, generator=generator)
    exact = autograd(lambda w: problem.landscape((w - problem.w_star).T).sum(),
                     theta)
    assert torch.allclose(problem.exact_gradient(theta), exact, rtol=1e-12,
                          atol=1e-9)
    noisy = problem.gradient(theta, 5)
    assert torch.equal(noisy, problem.gradient(theta, 5))     # SAM's second call
    assert torch.allclose(noisy - exact, small_tasks.NOISE * problem.noise[4],
                          atol=1e-9)
    assert not torch.equal(noisy, problem.gradient(theta, 6))
    eigenvalues = torch.linalg.eigvalsh(problem.landscape.A)
    assert eigenvalues.min().item() == pytest.approx(1.0)
    assert eigenvalues.max().item() == pytest.approx(1000.0)
    assert problem.evaluate(problem.w_star, 0) == 0.0


def test_the_rosenbrock_gradient_equals_autograd_from_the_chapters_start():
    problem = small_tasks.task("rosenbrock", TINY).problem(0)
    assert problem.initial().tolist() == [-1.5, 2.0]
    for point in ([-1.5, 2.0], [0.3, -0.7], [1.0, 1.0]):
        theta = torch.tensor(point, dtype=torch.float64)
        assert torch.allclose(problem.gradient(theta, 1),
                              autograd(problem.landscape, theta), rtol=1e-13)


def test_the_sparse_minibatch_gradient_equals_autograd_of_its_logistic_loss():
    problem = small_tasks.task("sparse", TINY).problem(2)
    data, batch = problem.data, problem.batches[3]
    theta = torch.linspace(-1, 1, 30, dtype=torch.float64)

    def loss(w, x, y):
        return F.binary_cross_entropy_with_logits(x @ w, y)
    minibatch = autograd(lambda w: loss(w, data["x_train"][batch],
                                        data["y_train"][batch]), theta)
    assert torch.allclose(problem.gradient(theta, 4), minibatch, rtol=1e-12,
                          atol=1e-15)
    assert data["x_train"][:, 0].sum() == 2000 and data["x_train"][:, -1].sum() == 19
    full = autograd(lambda w: loss(w, data["x_train"], data["y_train"]),
                    data["w_star"])
    assert full.norm() < 1e-10                                  # Newton's w*
    assert problem.evaluate(theta, 0) == pytest.approx(
        loss(theta, data["x_val"], data["y_val"]).item())


def test_the_toys_gradients_are_its_draws_and_its_objective_a_window_mean():
    toy = small_tasks.task("toy", 400).problem(0)
    slopes = [toy.gradient(torch.zeros(1), t).item() for t in range(1, 401)]
    assert set(slopes) == {100.0, -10.0}
    theta = torch.tensor([0.25], dtype=torch.float64)
    assert toy.gradient(theta, 7) == autograd(lambda w: (toy.slopes[6] * w).sum(),
                                              theta)
    assert toy.constrained and toy.evaluate(torch.tensor([0.0]), 0) == 1.0
    for point in (-1.0, -0.5, 0.5):                 # θ + 1 averaged over the window
        toy.observe(torch.tensor([point]), 1)
    assert toy.evaluate(torch.tensor([0.9]), 3) == pytest.approx(2 / 3)
    toy.observe(torch.tensor([-0.75]), 4)
    assert toy.evaluate(torch.tensor([0.9]), 4) == pytest.approx(0.25)


def test_the_nonstationary_problem_switches_sign_and_averages_its_error():
    task = small_tasks.task("nonstationary", 2000)
    problem, switches = task.problem(4), task.switches(4)
    assert len(switches) == 4 and switches != task.switches(5)
    assert all(abs(s - 400 * (i + 1)) <= 100 for i, s in enumerate(switches))
    theta = torch.tensor([0.25], dtype=torch.float64)
    for t in (1, 2, 3, switches[0] - 1, switches[0], switches[0] + 1):
        sign = 1.0 if t < switches[0] else -1.0
        slope = sign * (3.0 if t % 3 == 1 else -1.0)        # the cyclic problem
        assert problem.gradient(theta, t).item() == slope
        assert problem.optimum[t - 1].item() == -sign
    problem.observe(torch.tensor([0.5]), 1)
    problem.observe(torch.tensor([-1.0]), 2)
    assert problem.evaluate(theta, 2) == pytest.approx((1.5 + 0.0) / 2)


# --- the optimizer table -------------------------------------------------------

def test_every_optimizer_of_optimlab_optim_has_an_entry(monkeypatch):
    assert small_optimizers.missing_from_table() == []
    names = {e.optimizer for e in small_optimizers.ENTRIES}
    assert names == set(optim.__all__) - {"Optimizer"}
    monkeypatch.setattr(optim, "__all__", [*optim.__all__, "Newcomer"])
    assert small_optimizers.missing_from_table() == ["Newcomer"]
    with pytest.raises(ValueError, match="Newcomer"):
        choosing_small.measure_task(small_tasks.task("toy", TINY))


def test_the_table_counts_hyperparameters_state_bytes_and_gradients():
    count = small_optimizers.hyperparameter_count
    assert count(entry("Adam")) == 5                   # lr, β1, β2, ε, λ
    assert count(entry("Lookahead")) == 5 + 2 and count(entry("SGD")) == 4
    task = small_tasks.task("quadratic", 30)
    state = choosing_small.state_per_parameter
    assert state(task, entry("Adam"), 1e-3) == 16.0    # m and v in float64
    assert state(task, entry("SGD"), 1e-3) == 0.0
    assert state(task, entry("Lookahead"), 1e-3) == 24.0
    assert entry("SAM").gradients_per_update == 2
    lookahead = entry("Lookahead").build([torch.zeros(2, requires_grad=True)], 0.1)
    assert lookahead.optimizer.param_groups[0]["lr"] == 0.1


def test_schedule_free_is_evaluated_at_x_and_projected_with_its_average():
    theta = torch.full((3,), 0.9, dtype=torch.float64, requires_grad=True)
    item = entry("SGDScheduleFree")
    optimizer = item.build([theta], 0.5)
    for _ in range(4):
        theta.grad = torch.tensor([-1.0, 2.0, -3.0], dtype=torch.float64)
        optimizer.step()
    point = item.point(optimizer, theta)
    optimizer.eval()
    assert torch.allclose(point, theta.detach(), rtol=1e-14)  # what eval() gives
    optimizer.train()
    item.project(optimizer, theta)
    assert item.point(optimizer, theta).abs().max() <= 1.0
    assert optimizer.state[theta]["z"].abs().max() <= 1.0
    assert theta.abs().max() <= 1.0


# --- the protocol --------------------------------------------------------------

def fake_run(best_lr):
    """A run whose final value is (log10 lr - log10 best_lr)²."""
    def run(task, item, lr, seed):
        assert seed == choosing_small.SEARCH_SEED
        value = (math.log10(lr) - math.log10(best_lr)) ** 2
        return {"seed": seed, "lr": lr, "final": value, "diverged": False}
    return run


def test_the_search_chooses_the_best_rate_without_widening_inside_the_grid():
    found = choosing_small.search(None, entry("Adam"), fake_run(3.1e-3))
    assert found["chosen_lr"] == pytest.approx(10 ** -2.5)    # Adam's default: 1e-3
    assert found["widened"] == [] and not found["edge_after_limit"]
    assert found["exponents"] == list(choosing_small.GRID_EXPONENTS)


def test_the_search_widens_where_the_best_rate_is_at_an_edge_and_records_it():
    item = entry("Adam")
    high = choosing_small.search(None, item, fake_run(1.0))   # 2 above the grid
    assert [w["side"] for w in high["widened"]] == ["high"] * 3   # and 1 beyond
    assert high["chosen_lr"] == pytest.approx(1.0) and not high["edge_after_limit"]
    low = choosing_small.search(None, item, fake_run(1e-6))   # 2 rates below
    assert [w["side"] for w in low["widened"]] == ["low"] * 3
    assert low["chosen_lr"] == pytest.approx(1e-6)
    far = choosing_small.search(None, item, fake_run(1e9))
    assert len(far["widened"]) == choosing_small.MAX_WIDENING
    assert far["edge_after_limit"]
    assert far["chosen_exponent"] == max(far["exponents"])


def test_a_diverged_run_counts_as_worst():
    def run(task, item, lr, seed):
        diverged = lr > 2e-3
        return {"seed": seed, "lr": lr, "final": None if diverged else 1.0 / lr,
                "diverged": diverged}
    found = choosing_small.search(None, entry("Adam"), run)
    assert found["chosen_lr"] == pytest.approx(1e-3) and found["widened"] == []
    everything = choosing_small.search(
        None, entry("Adam"), lambda task, item, lr, seed: {
            "seed": seed, "lr": lr, "final": None, "diverged": True})
    assert {w["side"] for w in everything["widened"]} == {"low"}

    task = small_tasks.task("quadratic", 200)     # 999^t overflows at t ≈ 103
    exploded = choosing_small.run_one(task, entry("SGD"), 1.0, 0)
    assert exploded["diverged"] and exploded["final"] is None
    assert exploded["curve"][0] is not None and exploded["curve"][-1] is None
    assert choosing_small.score(exploded) == math.inf
    fine = choosing_small.run_one(task, entry("SGD"), 1e-4, 0)
    assert not fine["diverged"] and fine["final"] < fine["curve"][0]
    worse = choosing_summary.paired_difference({"final": [exploded]},
                                               {"final": [fine]})
    assert worse["mean"] == math.inf and worse["half_width"] is None


def test_runs_are_reproducible_and_seeds_change_the_draws():
    task, item = small_tasks.task("toy", 60), entry("ADOPT")
    first = choosing_small.run_one(task, item, 0.05, 1)
    assert first == choosing_small.run_one(task, item, 0.05, 1)
    assert first["curve"] != choosing_small.run_one(task, item, 0.05, 2)["curve"]
    assert len(first["curve"]) == len(task.eval_steps) and task.eval_steps[-1] == 60


def test_paired_differences_and_their_interval():
    assert choosing_summary.t_quantile(4) == pytest.approx(2.7764, abs=1e-4)
    assert choosing_summary.t_quantile(1) == pytest.approx(12.7062, abs=1e-3)

    def finals(values):
        return {"final": [{"seed": s, "final": v, "diverged": False}
                          for s, v in enumerate(values)]}
    difference = choosing_summary.paired_difference(finals([3.0, 4.0, 5.0]),
                                                    finals([1.0, 1.0, 3.0]))
    spread = math.sqrt(((2 - 7 / 3) ** 2 * 2 + (3 - 7 / 3) ** 2) / 2)
    assert difference["mean"] == pytest.approx(7 / 3)
    assert difference["half_width"] == pytest.approx(
        choosing_summary.t_quantile(2) * spread / math.sqrt(3))


# --- records, resumption and the audit ----------------------------------------

@pytest.fixture(scope="module")
def toy_record(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    path = choosing_records.run_task("toy", root, command="pytest",
                                     say=lambda line: None, updates=TINY)
    return root, path


def test_a_record_round_trips_and_names_muon_not_applicable(toy_record):
    root, path = toy_record
    record = choosing_records.read(path)
    assert path == root / "choosing-small" / "toy.json"
    assert record["task"]["updates"] == TINY
    assert record["format"] == choosing_records.FORMAT
    assert set(record["optimizers"]) == {e.name for e in small_optimizers.ENTRIES}
    muon = record["optimizers"]["Muon"]
    assert muon["applicable"] is False and "2-D" in muon["reason"]
    assert "search" not in muon
    assert "Muon" not in record["timing"]["seconds_per_update"]
    adam = record["optimizers"]["Adam"]
    assert len(adam["final"]) == 5
    searched = [run["lr"] for run in adam["search"]["runs"]]
    assert adam["search"]["chosen_lr"] in searched
    assert record["timing"]["ratio_to_sgd"]["SGD"] == 1.0
    quadratic = small_tasks.task("quadratic", TINY)
    assert choosing_small.describe_entry(quadratic, entry("Muon"))["applicable"]
    assert "toy" in choosing_summary.table(record)


def rewrite(path, target, change, reseal):
    record = json.loads(Path(path).read_text())
    change(record)
    if reseal:
        record["digest"] = digest(record)
    Path(target).write_text(json.dumps(record))
    return target


def test_a_tampered_or_truncated_record_is_rejected_naming_the_file(toy_record,
                                                                     tmp_path):
    _, path = toy_record
    folder = tmp_path / "choosing-small"
    folder.mkdir()

    def tamper(record):
        record["optimizers"]["Adam"]["final"][0]["curve"][2] = 0.5
    tampered = rewrite(path, folder / "toy.json", tamper, reseal=False)
    with pytest.raises(DamagedResultError, match=r"toy\.json.*digest does not"):
        choosing_records.read(tampered)
    tampered.write_text(path.read_text()[:500])
    with pytest.raises(DamagedResultError, match=r"toy\.json.*not valid JSON"):
        choosing_records.read(tampered)
    renamed = rewrite(path, folder / "sparse.json", lambda r: None, reseal=False)
    with pytest.raises(DamagedResultError, match="holds the task 'toy'"):
        choosing_records.read(renamed)


def test_the_audit_passes_a_true_record_and_names_a_changed_number(toy_record,
                                                                   tmp_path):
    _, path = toy_record
    assert choosing_records.audit_task(path) == []
    assert choosing_records.audit_task(path, optimizers=["SAM", "Muon"]) == []
    assert choosing_records.audit_task(path, sample=4, salt="x") == []

    def change(record):
        record["optimizers"]["Adam"]["final"][1]["curve"][3] *= 1 + 1e-9
        record["optimizers"]["Lion"]["state_bytes_per_parameter"] = 99.0
        record["timing"]["ratio_to_sgd"]["Adam"] = 123.0       # not audited
    folder = tmp_path / "choosing-small"
    folder.mkdir()
    changed = rewrite(path, folder / "toy.json", change, reseal=True)
    found = choosing_records.audit_task(changed)
    assert len(found) == 2
    assert found[0].startswith("optimizers.Adam.final[1].curve[3]: stored")
    assert found[1].startswith("optimizers.Lion.state_bytes_per_parameter: "
                               "stored 99.0")
    assert choosing_records.audit_task(changed, optimizers=["Adam"]) == [found[0]]
    with pytest.raises(ValueError, match="no optimizer"):
        choosing_records.audit_task(changed, optimizers=["Adamm"])


def test_the_command_line_keeps_a_finished_task_and_reruns_a_damaged_one(
        tmp_path, capsys):
    run = ["--results", str(tmp_path), "small-tasks", "run", "--task",
           "rosenbrock", "--updates", "4"]
    assert cli.main(run) == 0
    path = choosing_records.path_for("rosenbrock", tmp_path)
    first = path.read_text()
    assert cli.main(run) == 0 and "kept" in capsys.readouterr().out
    assert path.read_text() == first
    path.write_text(first[:-200])
    assert cli.main(run) == 0
    assert "damaged" in capsys.readouterr().out
    assert len(list(path.parent.glob("rosenbrock.json.damaged-*"))) == 1
    assert choosing_records.read(path)["task"]["deterministic"]
    assert cli.main(["--results", str(tmp_path), "small-tasks", "audit", "--task",
                     "rosenbrock", "--optimizer", "RAdam"]) == 0
    assert cli.main(["--results", str(tmp_path), "small-tasks", "show", "--task",
                     "rosenbrock"]) == 0
    assert "rosenbrock: f(x, y)" in capsys.readouterr().out
    with pytest.raises(audit.NothingToAuditError, match="small-tasks audit"):
        audit.cached_files(["choosing-small"], tmp_path)
    with pytest.raises(audit.NothingToAuditError, match="no experiment folder"):
        audit.cached_files(root=tmp_path)        # the run-record audit skips it


# --- the stored records --------------------------------------------------------

STORED = [choosing_records.path_for(name) for name in small_tasks.TASKS]


@pytest.mark.parametrize("path", STORED, ids=[p.stem for p in STORED])
def test_a_sample_of_each_stored_record_reproduces(path):
    """Three runs of each stored task, drawn by the commit, recomputed exactly,
    with their optimizers' rate choice, state bytes and description."""
    assert path.is_file(), (f"{path} is missing: run `python -m "
                            f"optimlab.experiments small-tasks run`")
    found = choosing_records.audit_task(path, sample=3, salt=audit.head_commit())
    assert found == [], "\n".join(found)
