"""optimlab.experiments: config hashing, the runner, the cache, staleness,
run_or_load, checkpoints and resumption, the audit's comparison, and the CLI.

Every run here is a few updates of the MLP on a few dozen MNIST images.
"""

from __future__ import annotations

import json
import math

import pytest
from tiny_runs import tiny
import torch

from optimlab.experiments import (Config, MissingResultError, StaleResultError, audit,
                                  cache, checkpoint, cli, grids, records, runner)


@pytest.fixture(scope="module")
def tiny_result():
    return runner.run(tiny())


# --- config -------------------------------------------------------------------------

def test_config_key_is_stable_and_sensitive():
    a = tiny(hyperparameters={"weight_decay": 1e-4, "betas": (0.9, 0.99)})
    b = tiny(hyperparameters={"betas": [0.9, 0.99], "weight_decay": 1e-4})
    assert a == b and a.key() == b.key() and hash(a) == hash(b)
    assert a.key() != a.replace(lr=0.02).key() != a.replace(seed=1).key()
    assert Config.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    # pinned: a change of the hashing scheme would orphan every cached file
    assert tiny().key() == "c6e3f91b1c5a7e4b"


def test_config_derived_lengths():
    config = tiny()
    assert (config.steps_per_epoch, config.total_steps, config.total_epochs) == (4, 8, 2)
    assert config.eval_steps == [0, 4, 8]
    mnist = grids.grid("mnist")
    assert len(mnist) == 48 and len({c.key() for c in mnist}) == 48
    assert mnist[0].total_steps == 10_000 and mnist[0].total_epochs == 10
    assert mnist[0].eval_steps[:3] == [0, 500, 1000] and mnist[0].eval_steps[-1] == 10_000


@pytest.mark.parametrize("changes, bad", [
    ({"lr": 0.0}, "lr"), ({"lr": math.nan}, "lr"), ({"schedule": "linear"}, "schedule"),
    ({"steps": 5}, "exactly one of steps and epochs"), ({"optimizer": "Adamax"}, "optimizer"),
    ({"model": "vgg"}, "model"), ({"dataset": "svhn"}, "dataset"),
    ({"precision": "fp16"}, "precision"), ({"device": "tpu"}, "device"),
    ({"fingerprint_steps": 9}, "fingerprint_steps"), ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 100}, "larger than"), ({"experiment": "a/b"}, "experiment"),
    ({"hyperparameters": {"lr": 1}}, "hyperparameters"), ({"seed": -1}, "seed"),
])
def test_config_rejects_bad_fields(changes, bad):
    with pytest.raises(ValueError, match=bad):
        tiny(**changes)


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="momentum"):
        Config.from_dict({**tiny().to_dict(), "momentum": 0.9})


# --- runner -------------------------------------------------------------------------

def test_inverse_sqrt_schedule_is_alpha_over_sqrt_t():
    config = tiny(lr=0.1)
    assert [runner.lr_at(config, t) for t in (1, 4, 100)] == pytest.approx([0.1, 0.05, 0.01])
    assert runner.lr_at(tiny(schedule="constant"), 50) == 0.01


def test_run_logs_every_update_and_evaluation(tiny_result):
    result = tiny_result
    assert len(result["train_loss"]) == 8
    assert result["evals"]["step"] == [0, 4, 8]
    assert all(0 <= a <= 1 for a in result["evals"]["val_accuracy"])
    assert result["train_loss"][0] == pytest.approx(math.log(10), rel=0.1)
    assert 0 <= result["test"]["accuracy"] <= 1 and not result["diverged"]


def test_fingerprint_is_the_first_losses_of_a_cpu_run(tiny_result):
    assert tiny_result["fingerprint"] == tiny_result["train_loss"][:3]
    assert runner.fingerprint(tiny()) == tiny_result["fingerprint"]
    assert runner.fingerprint(tiny(seed=1)) != tiny_result["fingerprint"]
    with pytest.raises(ValueError, match="steps"):
        runner.fingerprint(tiny(), steps=0)


def test_runs_are_deterministic(tiny_result):
    again = runner.run(tiny())
    assert again["train_loss"] == tiny_result["train_loss"]
    assert again["evals"]["val_loss"] == tiny_result["evals"]["val_loss"]


def test_float32_list_rounds_and_maps_non_finite_to_none():
    values = runner.float32_list([1 / 3, math.nan, math.inf, 2.0])
    assert values == [0.33333334, None, None, 2.0]


# --- cache --------------------------------------------------------------------------

def test_cache_round_trip_with_provenance(tmp_path, tiny_result):
    config = tiny()
    path = cache.save(config, tiny_result, command="pytest", root=tmp_path)
    assert path == tmp_path / "test" / f"{config.key()}.json"
    record = cache.load(config, tmp_path)
    assert record["train_loss"] == tiny_result["train_loss"]
    assert record["config"] == config.to_dict() and record["seed"] == 0
    provenance = record["provenance"]
    assert provenance["command"] == "pytest" and provenance["torch"] == torch.__version__
    assert set(provenance["code_hash"]) == {"optimizer", "model", "data"}
    for key in ("optimlab", "torchvision", "device_name", "finished_utc"):
        assert provenance[key]
    assert path.read_bytes()[:1] == b"{"  # plain JSON, nothing to unpickle
    assert cache.load(tiny(seed=5), tmp_path) is None
    assert [r["key"] for r in cache.load_experiment("test", tmp_path)] == [config.key()]


def _rewrite(path, change):
    """Change a saved record and seal it again (as a run of other code would be)."""
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(records.seal(record)))


def test_a_changed_code_hash_alone_keeps_the_result_current(tmp_path, tiny_result):
    config = tiny()
    path = cache.save(config, tiny_result, command="pytest", root=tmp_path)
    _rewrite(path, lambda r: r["provenance"]["code_hash"].update(optimizer="0" * 16))
    assert cache.describe(config, tmp_path) == \
        "cached (optimizer code changed, fingerprint reproduced)"
    assert cache.run_or_load(config, root=tmp_path)["train_loss"] == tiny_result["train_loss"]


def test_a_result_the_code_no_longer_reproduces_is_stale(tmp_path, tiny_result):
    config = tiny()
    path = cache.save(config, tiny_result, command="pytest", root=tmp_path)

    def other_code(record):
        record["provenance"]["code_hash"]["optimizer"] = "0" * 16
        record["fingerprint"][1] *= 1.01
    _rewrite(path, other_code)
    with pytest.raises(StaleResultError, match="optimizer code changed") as error:
        cache.run_or_load(config, root=tmp_path)
    assert "Re-run it with" in str(error.value) and config.label in str(error.value)
    assert cache.describe(config, tmp_path).startswith("stale (optimizer code changed "
                                                       "and the fingerprint differs")
    assert cache.load(config, tmp_path, allow_stale=True)["key"] == config.key()
    with pytest.raises(StaleResultError):
        cache.load_experiment("test", tmp_path)


def test_the_audit_remembers_what_it_reproduced_and_a_chapter_trusts_only_that(
        tmp_path, tiny_result, monkeypatch):
    """After a code change that moves no number, ``audit`` stores which records it
    reproduced under which code hashes; loading them then recomputes nothing, but
    any other code (or a record the audit did not reproduce) is recomputed."""
    from optimlab.experiments import reproduction

    config = tiny()
    path = cache.save(config, tiny_result, command="pytest", root=tmp_path)
    _rewrite(path, lambda r: r["provenance"]["code_hash"].update(optimizer="0" * 16))
    assert cli.main(["--results", str(tmp_path), "audit", "--replay", "none"]) == 0
    stored = reproduction.read_reproduced(tmp_path)
    digest = records.digest(records.read(path))
    assert list(stored) == [digest]
    assert stored[digest]["code_hash"]["optimizer"] != "0" * 16

    recomputed = []
    real = reproduction.recompute_fingerprint
    monkeypatch.setattr(reproduction, "recompute_fingerprint",
                        lambda record: recomputed.append(1) or real(record))
    monkeypatch.setattr(reproduction, "_VERDICTS", {})
    assert cache.load(config, tmp_path)["key"] == config.key()
    assert [r["key"] for r in cache.load_experiment("test", tmp_path)] == [config.key()]
    assert recomputed == []                                  # trusted: same hashes
    assert cache.describe(config, tmp_path).endswith("fingerprint reproduced)")

    monkeypatch.setattr(reproduction, "_VERDICTS", {})
    stored[digest]["code_hash"]["model"] = "1" * 16          # reproduced under other code
    reproduction.write_reproduced(tmp_path, stored)
    assert cache.load(config, tmp_path)["key"] == config.key()
    assert recomputed == [1]

    monkeypatch.setattr(reproduction, "_VERDICTS", {})       # a changed number is stale
    _rewrite(path, lambda r: r["fingerprint"].__setitem__(1, r["fingerprint"][1] * 1.01))
    assert cli.main(["--results", str(tmp_path), "audit", "--replay", "none"]) == 1
    assert reproduction.read_reproduced(tmp_path) == {}
    (tmp_path / reproduction.REPRODUCED_FILE).write_text("{not json")
    with pytest.raises(StaleResultError):                    # unreadable: recomputed
        cache.load(config, tmp_path)


def test_run_or_load_names_the_command_when_the_run_is_expensive(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.RUN_ENV_VAR, raising=False)
    config = grids.grid("mnist")[5]
    with pytest.raises(MissingResultError) as error:
        cache.run_or_load(config, root=tmp_path)
    assert "python -m optimlab.experiments run mnist" in str(error.value)
    assert cache.RUN_ENV_VAR in str(error.value)
    smoke = grids.grid("cifar10-smoke")[0]
    assert "run cifar10-smoke" in cache.command_for(smoke)
    assert "--epochs 7" in cache.command_for(grids.grid("cifar10", epochs=7)[0])


def test_run_or_load_runs_cheap_configs_without_saving_and_saves_when_asked(
        tmp_path, monkeypatch, tiny_result):
    monkeypatch.delenv(cache.RUN_ENV_VAR, raising=False)
    config = tiny()
    assert cache.is_cheap(config) and not cache.is_cheap(grids.grid("mnist")[0])
    record = cache.run_or_load(config, root=tmp_path)
    assert record["train_loss"] == tiny_result["train_loss"]
    assert not cache.path_for(config, tmp_path).exists()
    assert record["provenance"]["command"].startswith("run_or_load (live")
    with pytest.raises(MissingResultError):
        cache.run_or_load(config, run=False, root=tmp_path)
    monkeypatch.setenv(cache.RUN_ENV_VAR, "1")
    record = cache.run_or_load(config, root=tmp_path)
    assert cache.path_for(config, tmp_path).is_file() and "provenance" in record


# --- checkpoints and resumption -----------------------------------------------------------

class Interrupt(Exception):
    pass


@pytest.mark.parametrize("optimizer", ["ADOPT", "AdaShift", "SGD"])
def test_an_interrupted_run_resumes_to_the_same_numbers(tmp_path, optimizer):
    hyper = {"momentum": 0.9} if optimizer == "SGD" else {"weight_decay": 1e-4}
    config = tiny(optimizer=optimizer, epochs=3, hyperparameters=hyper)
    reference = runner.run(config)

    def stop_after_first_epoch(epoch, result):
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        runner.run(config, checkpoint_dir=tmp_path, on_epoch=stop_after_first_epoch)
    stem = checkpoint.path_for(tmp_path, config)
    assert checkpoint.exists(stem) and list(stem.parent.iterdir()) == [stem.with_suffix(".npz")]
    resumed = runner.run(config, checkpoint_dir=tmp_path, resume=True)
    assert resumed["train_loss"] == reference["train_loss"]
    assert resumed["evals"]["val_loss"] == reference["evals"]["val_loss"]
    assert resumed["test"] == reference["test"]
    assert checkpoint.exists(stem)  # kept until the result is stored
    cache.save_run(config, resumed, "pytest", root=tmp_path / "results",
                   checkpoint_dir=tmp_path)
    assert not checkpoint.exists(stem)  # removed once the result is stored


def test_a_checkpoint_of_another_config_is_refused(tmp_path):
    config = tiny(epochs=3)
    model, optimizer = runner.build(config, torch.device("cpu"))
    stem = checkpoint.path_for(tmp_path, config)
    checkpoint.save(stem, config, model, optimizer, {"step": 4})
    other = config.replace(lr=0.5)
    with pytest.raises(checkpoint.CheckpointError, match="belongs to config"):
        checkpoint.load(stem, other, model, optimizer)
    assert checkpoint.load(tmp_path / "absent", config, model, optimizer) is None


# --- audit --------------------------------------------------------------------------

def test_audit_comparison_tolerance():
    assert audit.compare([2.0, 1.5], [2.0, 1.5 * (1 + 1e-6)])[0]
    assert not audit.compare([2.0, 1.5], [2.0, 1.5 * (1 + 1e-3)])[0]
    assert audit.compare([None, 2.0], [None, 2.0])[0]
    assert not audit.compare([None, 2.0], [3.0, 2.0])[0]
    assert not audit.compare([1.0], [1.0, 2.0])[0]
    # after the loss has exploded past BLOWUP times its first value, 3e-2 is allowed
    assert audit.compare([2.0, 150.0, 90.0], [2.0, 150.0 * (1 + 1e-2), 90.0 * (1 - 2e-2)])[0]
    assert not audit.compare([2.0, 150.0, 90.0], [2.0, 150.0, 90.0 * 1.1])[0]
    assert not audit.compare([2.0, 3.0, 150.0], [2.0, 3.0 * (1 + 2e-3), 150.0])[0]


def test_audit_catches_a_file_that_no_longer_matches(tmp_path, tiny_result):
    config = tiny()
    path = cache.save(config, tiny_result, command="pytest", root=tmp_path)
    assert audit.audit_file(path).ok
    _rewrite(path, lambda r: r["fingerprint"].__setitem__(2, r["fingerprint"][2] * 1.01))
    result = audit.audit_file(path)
    assert not result.ok and "mismatch" in result.reason


# --- command line ------------------------------------------------------------------------

@pytest.fixture
def tiny_grid(monkeypatch):
    configs = [tiny(optimizer=name, hyperparameters={}) for name in ("Adam", "SGD")]
    monkeypatch.setitem(grids.GRIDS, "tiny", lambda: configs)
    return configs


def test_cli_run_list_audit(tmp_path, capsys, tiny_grid):
    root = str(tmp_path)
    assert cli.main(["--results", root, "run", "tiny", "--threads", "1"]) == 0
    assert all(cache.path_for(c, tmp_path).is_file() for c in tiny_grid)
    record = cache.load(tiny_grid[0], tmp_path)
    assert record["provenance"]["command"] == \
        f"python -m optimlab.experiments --results {root} run tiny --threads 1"
    capsys.readouterr()
    assert cli.main(["--results", root, "run", "tiny"]) == 0  # resumable: nothing to do
    assert capsys.readouterr().out.count("cached, skipped") == 2
    assert cli.main(["--results", root, "list", "tiny"]) == 0
    assert "2 cached" in capsys.readouterr().out
    assert cli.main(["--results", root, "audit"]) == 0
    assert "audited 2 cached run(s) and replayed 1" in capsys.readouterr().out
    path = cache.path_for(tiny_grid[1], tmp_path)
    _rewrite(path, lambda r: r["fingerprint"].__setitem__(1, r["fingerprint"][1] + 0.1))
    assert cli.main(["--results", root, "audit", "test", "--replay", "none"]) == 1
    assert "FAIL fingerprint" in capsys.readouterr().out


def test_cli_rejects_resume_without_a_checkpoint_dir(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "mnist", "--resume"])
    assert "--checkpoint-dir" in capsys.readouterr().err


# --- summaries ----------------------------------------------------------------------------

def test_mean_ci95_is_the_student_t_interval():
    from optimlab.experiments import summary

    mean, half = summary.mean_ci95([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0]])
    assert mean.tolist() == [2.0, 10.0]
    assert half[0] == pytest.approx(4.302653 / math.sqrt(3)) and half[1] == 0
    assert summary.mean_ci95([1.0, 3.0])[1] == pytest.approx(12.706205)
    with pytest.raises(ValueError, match="2 to 11 values"):
        summary.mean_ci95([1.0])


def test_smooth_is_a_trailing_moving_average():
    from optimlab.experiments import summary

    assert summary.smooth([1.0, 3.0, 5.0, 7.0], 2).tolist() == [1.0, 2.0, 4.0, 6.0]
    assert summary.smooth([[1.0, 2.0], [3.0, 5.0]], 5).tolist() == [[1.0, 1.5], [3.0, 4.0]]
    with pytest.raises(ValueError, match="window"):
        summary.smooth([1.0], 0)


def test_values_and_curves_map_null_to_nan():
    from optimlab.experiments import summary

    records = [{"train_loss": [1.0, None], "evals": {"val_accuracy": [0.5]}},
               {"train_loss": [2.0, 3.0], "evals": {"val_accuracy": [0.7]}}]
    stacked = summary.curve(records, "train_loss")
    assert stacked.shape == (2, 2) and math.isnan(stacked[0, 1])
    assert summary.values(records[1], "val_accuracy").tolist() == [0.7]
    with pytest.raises(ValueError, match="different lengths"):
        summary.curve([records[0], {"train_loss": [1.0]}], "train_loss")


def test_cli_shards_split_a_grid_without_overlap(capsys):
    configs = grids.grid("mnist")
    parts = [cli._shard(configs, f"{i}/3") for i in range(3)]
    assert sorted(c.key() for part in parts for c in part) == sorted(c.key() for c in configs)
    for bad in ("3/3", "a/b", "1"):
        with pytest.raises(SystemExit, match="shard"):
            cli._shard(configs, bad)


def test_download_fetches_a_cache_file_from_a_url(tmp_path, tiny_result):
    config = tiny()
    published = tmp_path / "published"
    cache.save(config, tiny_result, command="pytest", root=published)
    local = tmp_path / "local"
    assert cache.download(config, local, base_url=published.as_uri())
    assert cache.load(config, local)["train_loss"] == tiny_result["train_loss"]
    assert not cache.download(tiny(seed=9), local, base_url=published.as_uri())


def test_without_a_checkout_run_or_load_downloads_the_published_file(
        tmp_path, monkeypatch, tiny_result):
    config = tiny()
    published = tmp_path / "published"
    cache.save(config, tiny_result, command="the grid", root=published)
    from optimlab.experiments import reproduction

    (published / reproduction.REPRODUCED_FILE).write_text("{}\n")
    monkeypatch.delenv(cache.RESULTS_ENV_VAR, raising=False)
    monkeypatch.setenv(cache.RESULTS_URL_ENV_VAR, published.as_uri())
    monkeypatch.setattr(cache, "_checkout_results", lambda: tmp_path / "no-checkout")
    monkeypatch.setattr(cache, "results_root", lambda: tmp_path / "downloads")
    record = cache.run_or_load(config, run=False)
    assert record["provenance"]["command"] == "the grid"
    assert (tmp_path / "downloads" / "test" / f"{config.key()}.json").is_file()
    # what the audit reproduced comes too, so that a chapter need not recompute
    assert (tmp_path / "downloads" / reproduction.REPRODUCED_FILE).is_file()
    from optimlab.experiments import charlm

    (published / charlm.TIMING_FILE).write_text(
        json.dumps({"seconds_per_update": {name: 0.2 for name in charlm.OPTIMIZERS}}))
    assert charlm.seconds_per_update() == {name: 0.2 for name in charlm.OPTIMIZERS}
    assert (tmp_path / "downloads" / charlm.TIMING_FILE).is_file()


# --- the CIFAR-10 CPU tier ------------------------------------------------------------------

def _finished(config: Config, final_accuracy: float, diverged: bool = False) -> dict:
    """A result of the right shape for ``config`` (the selection reads only its
    last validation accuracy and whether it diverged)."""
    points = config.eval_steps
    return {"fingerprint": [2.3] * config.fingerprint_steps,
            "train_loss": [None if diverged else 1.0] * config.total_steps,
            "evals": {"step": points, "epoch": [s / config.steps_per_epoch for s in points],
                      "wall_time_s": [0.0] * len(points), "val_loss": [1.0] * len(points),
                      "val_accuracy": [0.1] * (len(points) - 1) + [final_accuracy]},
            "test": None, "wall_time_s": 1.0, "fingerprint_time_s": 0.1,
            "diverged": diverged}


def test_the_cpu_tier_tests_each_optimizer_once_at_the_alpha_its_search_chose(tmp_path):
    search = grids.grid("cifar10-cpu-search")
    assert {c.optimizer for c in search} == set(grids.CIFAR10_OPTIMIZERS)
    assert all(not c.test_at_end and c.seed == 0 and c.model == "resnet20" for c in search)
    with pytest.raises(MissingResultError, match="run cifar10-cpu-search"):
        grids.cifar10_cpu(tmp_path)
    accuracy = {("Adam", 0.01): 0.6, ("Adam", 0.001): 0.6, ("ADOPT", 0.1): 0.7,
                ("SGD", 0.1): 0.5, ("SGD", 1.0): 0.9}
    for config in search:
        diverged = (config.optimizer, config.lr) == ("SGD", 1.0)
        cache.save(config, _finished(config, accuracy.get((config.optimizer, config.lr), 0.2),
                                     diverged), "pytest", root=tmp_path)
    assert grids.chosen_lrs(tmp_path) == {"Adam": 0.001, "ADOPT": 0.1, "SGD": 0.1}
    final = grids.cifar10_cpu(tmp_path)
    assert len(final) == len(grids.CPU_SEEDS) * len(grids.CIFAR10_OPTIMIZERS)
    assert all(c.test_at_end and c.epochs == grids.CPU_EPOCHS for c in final)
    assert {(c.optimizer, c.lr) for c in final} == {("Adam", 0.001), ("ADOPT", 0.1),
                                                    ("SGD", 0.1)}


def test_a_run_without_the_test_split_records_none_and_keeps_old_keys():
    config = tiny(test_at_end=False)
    assert runner.run(config)["test"] is None
    assert "test_at_end" in config.to_dict() and "test_at_end" not in tiny().to_dict()
    with pytest.raises(ValueError, match="test_at_end"):
        tiny(test_at_end=False, test_every_eval=True)
    with pytest.raises(ValueError, match="augment"):
        tiny(augment=1)
