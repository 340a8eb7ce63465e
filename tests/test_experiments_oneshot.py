"""The one-shot GPU tier: a run cut after any epoch is stored as the shorter run it is,
the plan fits the budget, workers past the deadline are stopped, and the records that
come back are checked before the cache takes them."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import time

import pytest
from tiny_runs import tiny

from optimlab.experiments import cache, cli, grids, oneshot, records, runner


def comparable(record_or_result):
    """Everything a chapter reads, without the wall times."""
    evals = {k: v for k, v in record_or_result["evals"].items() if k != "wall_time_s"}
    return (record_or_result["train_loss"], evals, record_or_result["test"],
            record_or_result["fingerprint"])


@pytest.mark.parametrize("change, why", [
    ({"schedule": "cosine"}, "depends on the run's length"),
    ({"epochs": 0, "steps": 8}, "given in steps"),
    ({"eval_every": 2}, "eval_every"),
])
def test_only_runs_whose_first_epochs_are_a_shorter_run_can_be_cut(change, why):
    oneshot.check_truncatable(tiny())
    with pytest.raises(oneshot.TruncationError, match=why):
        oneshot.check_truncatable(tiny(**change))


def test_every_epoch_is_stored_as_the_run_of_that_many_epochs(tmp_path, monkeypatch):
    config = tiny(epochs=3)
    saved = []
    save = cache.save

    def spy(done, result, command, root=None):
        path = save(done, result, command, root=root)
        saved.append(records.read(path))
        return path

    monkeypatch.setattr(cache, "save", spy)
    last = oneshot.run_keeping_epochs(config, tmp_path / "results", tmp_path / "ckpt", "t")
    assert [r["config"]["epochs"] for r in saved] == [1, 2, 3]
    for record in saved:                 # epoch e of the long run == the run of e epochs
        shorter = config.replace(epochs=record["config"]["epochs"])
        assert comparable(record) == comparable(runner.run(shorter))
        assert record["key"] == shorter.key()
    assert list((tmp_path / "results" / "test").iterdir()) == [last]   # only the last kept
    assert "(epoch 3 of 3)" in saved[-1]["provenance"]["command"]


def test_the_plan_fits_the_slowest_run_in_the_budget():
    timings = [{"startup_s": 30.0, "epoch_s": 9.0}, {"startup_s": 20.0, "epoch_s": 10.0}]
    assert oneshot.plan_epochs(timings, 200.0, 100) == 15      # (0.9 * 200 - 30) / 10
    assert oneshot.plan_epochs(timings, 200.0, 12) == 12
    assert oneshot.plan_epochs(timings, 20.0, 100) == 1
    with pytest.raises(ValueError, match="no run was timed"):
        oneshot.plan_epochs([], 200.0, 100)


def test_a_worker_past_the_deadline_is_stopped():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               start_new_session=True)
    started = time.monotonic()
    codes = oneshot._wait([process], time.monotonic() + 1.0)
    assert codes[0] not in (None, 0) and time.monotonic() - started < 15


def test_oneshot_times_plans_runs_and_packs(tmp_path):
    configs = [tiny(epochs=3), tiny(optimizer="Adam", epochs=3)]
    plan = oneshot.oneshot(configs, tmp_path / "out", tmp_path / "work", budget_s=120,
                           timing_s=1.0, command="pytest", say=lambda *a: None)
    assert plan["epochs"] == 3 and plan["exit_codes"] == [0, 0]
    with tarfile.open(tmp_path / "out" / "records.tar") as tar:
        names = tar.getnames()
        stored = [json.load(tar.extractfile(n)) for n in names if n.startswith("results/")]
    assert "plan.json" in names and len(stored) == 2
    assert sorted(r["key"] for r in stored) == sorted(c.key() for c in configs)


@pytest.fixture(scope="module")
def smoke_tar(tmp_path_factory):
    """records.tar holding epoch 1 of the ResNet-18 smoke run of SGD."""
    folder = tmp_path_factory.mktemp("shot")
    config = [c for c in grids.grid("cifar10-smoke") if c.optimizer == "SGD"][0]
    short = config.replace(epochs=1)
    cache.save(short, runner.run(short), "pytest", root=folder / "results")
    return folder, short


def _tar(folder, out):
    with tarfile.open(out, "w") as tar:
        tar.add(folder / "results", arcname="results")
    return out


def test_imported_records_are_checked_then_stored_over_their_first_epochs(smoke_tar,
                                                                          tmp_path):
    folder, short = smoke_tar
    root = tmp_path / "cache"
    stored = oneshot.import_records(_tar(folder, tmp_path / "r.tar"), root,
                                    say=lambda *a: None)
    assert stored == [cache.path_for(short, root)]
    assert cache.load(short, root)["provenance"]["command"] == "pytest"
    assert oneshot._shorter_run_of(stored[0], short.replace(epochs=2))
    assert not oneshot._shorter_run_of(stored[0], short)


def test_a_tampered_or_foreign_record_is_refused_and_nothing_is_stored(smoke_tar, tmp_path):
    folder, short = smoke_tar
    bad = tmp_path / "bad"
    (bad / "results" / short.experiment).mkdir(parents=True)
    record = json.loads(cache.path_for(short, folder / "results").read_text())
    record["test"]["accuracy"] = 0.99
    (bad / "results" / short.experiment / f"{short.key()}.json").write_text(json.dumps(record))
    with pytest.raises(oneshot.ImportRefusedError, match="digest"):
        oneshot.import_records(_tar(bad, tmp_path / "bad.tar"), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
    assert cli.main(["--results", str(tmp_path / "cache"), "import",
                     str(tmp_path / "bad.tar")]) == 2

    foreign = tmp_path / "foreign"
    cache.save(tiny(), runner.run(tiny()), "pytest", root=foreign / "results")
    with pytest.raises(oneshot.ImportRefusedError, match="not a run of the cifar10 grids"):
        oneshot.import_records(_tar(foreign, tmp_path / "f.tar"), tmp_path / "cache")
