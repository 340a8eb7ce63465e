"""No run is ever lost, a damaged cache file is named, the audit checks the whole record,
and a cached run stays current exactly as long as the code reproduces it.

Every run here is a few updates of the MLP on a few dozen MNIST images (the one
ResNet-18 test: two updates on 16 images).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from tiny_runs import tiny

from optimlab.experiments import (Config, audit, cache, checkpoint, cli, files, grids,
                                  provenance, records, runner)
from optimlab.experiments.records import DamagedResultError

LIB = Path(__file__).resolve().parents[1] / "lib"


@pytest.fixture(scope="module")
def tiny_result():
    return runner.run(tiny())


def rewrite(path, change, seal=True):
    """Change a saved record; sealed again, as the run of other code would be."""
    record = json.loads(Path(path).read_text())
    change(record)
    Path(path).write_text(json.dumps(records.seal(record) if seal else record))


# --- a finished run is never lost ----------------------------------------------------------

def unwritable(tmp_path) -> Path:
    """A results folder nobody can create (its parent is a file), even as root."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    return blocker / "results"


@pytest.fixture
def tiny_grid(monkeypatch):
    configs = [tiny(optimizer="Adam", hyperparameters={})]
    monkeypatch.setitem(grids.GRIDS, "tiny", lambda: configs)
    return configs


def test_a_run_that_cannot_be_saved_keeps_its_checkpoint_and_resumes_without_training(
        tmp_path, capsys, tiny_grid, monkeypatch):
    (config,), checkpoints = tiny_grid, tmp_path / "checkpoints"
    bad = unwritable(tmp_path)
    assert cli.main(["--results", str(bad), "run", "tiny", "--checkpoint-dir",
                     str(checkpoints)]) == 2
    error = capsys.readouterr().err
    stem = checkpoint.path_for(checkpoints, config)
    assert checkpoint.exists(stem) and str(checkpoint.file_for(stem)) in error
    assert str(bad) in error and "--resume" in error
    updates = []
    original = runner._update
    monkeypatch.setattr(runner, "_update", lambda *a: updates.append(1) or original(*a))
    good = tmp_path / "results"
    assert cli.main(["--results", str(good), "run", "tiny", "--checkpoint-dir",
                     str(checkpoints), "--resume"]) == 0
    assert len(updates) == config.fingerprint_steps  # the fingerprint only: no training
    assert not checkpoint.exists(stem)
    record, reference = cache.load(config, good), runner.run(config)
    for key in ("train_loss", "evals", "test", "fingerprint"):
        if key == "evals":
            record[key].pop("wall_time_s"), reference[key].pop("wall_time_s")
        assert record[key] == reference[key]


def test_without_a_checkpoint_a_result_that_cannot_be_saved_goes_to_a_rescue_file(
        tmp_path, monkeypatch, tiny_result):
    config, work = tiny(), tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(cache.ResultNotSavedError) as error:
        cache.save_run(config, tiny_result, "pytest", root=unwritable(tmp_path))
    rescued = work / f"optimlab-unsaved-test-{config.key()}.json"
    assert str(rescued) in str(error.value) and "move it to" in str(error.value)
    target = cache.path_for(config, tmp_path / "results")
    target.parent.mkdir(parents=True)
    rescued.rename(target)
    assert cache.load(config, tmp_path / "results")["train_loss"] == tiny_result["train_loss"]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "record.json"
    files.atomic_write_text(target, "old")

    def half_then_fail(file):
        file.write(b"new, but only ha")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        files.atomic_write(target, half_then_fail)
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


def test_a_written_file_has_ordinary_permissions(tmp_path):
    target = files.atomic_write_text(tmp_path / "new.json", "{}")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)
    assert files.atomic_write_text(target, "{}").stat().st_mode & 0o777 == 0o640


def test_concurrent_saves_of_one_record_never_collide(tmp_path, tiny_result):
    config, errors = tiny(), []

    def save_many():
        try:
            for _ in range(60):
                cache.save(config, tiny_result, "pytest", root=tmp_path)
                cache.load(config, tmp_path)  # never half a file
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=save_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and [p.name for p in (tmp_path / "test").iterdir()] == \
        [f"{config.key()}.json"]


def test_an_interrupted_checkpoint_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    config = tiny(epochs=3)
    model, optimizer = runner.build(config)
    stem = checkpoint.path_for(tmp_path, config)
    checkpoint.save(stem, config, model, optimizer, {"step": 4})

    def interrupted(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(stem, config, model, optimizer, {"step": 8})
    monkeypatch.undo()
    assert checkpoint.load(stem, config, model, optimizer) == {"step": 4}
    assert sorted(p.name for p in stem.parent.iterdir()) == [f"{config.key()}.npz"]


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 truncated", b"not a zip at all"])
def test_a_damaged_checkpoint_is_named(tmp_path, damage):
    config = tiny(epochs=3)
    model, optimizer = runner.build(config)
    stem = checkpoint.path_for(tmp_path, config)
    stem.parent.mkdir(parents=True)
    checkpoint.file_for(stem).write_bytes(damage)
    with pytest.raises(checkpoint.CheckpointError, match=str(checkpoint.file_for(stem))):
        checkpoint.load(stem, config, model, optimizer)


# --- damaged cache files -----------------------------------------------------------------------

def _truncate(path):
    path.write_text(path.read_text()[:200])


DAMAGES = {
    "empty": lambda p: p.write_text(""),
    "truncated": _truncate,
    "not JSON": lambda p: p.write_bytes(b"\xff\xfe binary"),
    "a JSON list": lambda p: p.write_text("[1, 2, 3]"),
    "missing field": lambda p: rewrite(p, lambda r: r.pop("test")),
    "missing config field": lambda p: rewrite(p, lambda r: r["config"].pop("lr")),
    "short fingerprint": lambda p: rewrite(p, lambda r: r["fingerprint"].pop()),
    "fingerprint of strings": lambda p: rewrite(
        p, lambda r: r.update(fingerprint=[str(v) for v in r["fingerprint"]])),
    "short train_loss": lambda p: rewrite(p, lambda r: r["train_loss"].pop()),
    "edited last loss": lambda p: rewrite(
        p, lambda r: r["train_loss"].__setitem__(-1, 0.001), seal=False),
    "edited test accuracy": lambda p: rewrite(
        p, lambda r: r["test"].__setitem__("accuracy", 0.99), seal=False),
    "edited validation accuracy": lambda p: rewrite(
        p, lambda r: r["evals"]["val_accuracy"].__setitem__(1, 0.99), seal=False),
    "old format": lambda p: rewrite(p, lambda r: (r.pop("digest"), r.update(format=1)),
                                    seal=False),
    "another run's record": lambda p: rewrite(
        p, lambda r: r.update(key="0" * 16)),
    "another run's file copied over it": lambda p: p.write_text(
        cache.path_for(tiny(seed=1), p.parents[1]).read_text()),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_damaged_cache_file_is_named_and_the_others_still_load(
        tmp_path, tiny_result, damage, capsys, tiny_grid):
    config, other = tiny(), tiny(seed=1)
    path = cache.save(config, tiny_result, "pytest", root=tmp_path)
    cache.save(other, tiny_result | {"fingerprint": runner.fingerprint(other)}, "pytest",
               root=tmp_path)
    DAMAGES[damage](path)
    with pytest.raises(DamagedResultError, match=str(path)):
        cache.load(config, tmp_path)
    with pytest.warns(UserWarning, match=str(path)):
        assert [r["key"] for r in cache.load_experiment("test", tmp_path)] == [other.key()]
    assert cache.describe(config, tmp_path).startswith("damaged (")
    results = audit.audit(root=tmp_path)
    assert [r.ok for r in results] == [r.path != path for r in results]
    assert cli.main(["--results", str(tmp_path), "audit", "--replay", "none"]) == 1
    assert f"FAIL fingerprint test/{path.name}" in capsys.readouterr().out


def test_run_sets_a_damaged_file_aside_and_runs_again(tmp_path, capsys, tiny_grid):
    (config,) = tiny_grid
    path = cache.path_for(config, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 2, "key": ')
    assert cli.main(["--results", str(tmp_path), "list", "tiny"]) == 1
    assert "damaged (it is not valid JSON" in capsys.readouterr().out
    assert cli.main(["--results", str(tmp_path), "run", "tiny"]) == 0
    assert "running it again" in capsys.readouterr().out
    kept = [p.name for p in path.parent.iterdir() if ".damaged-" in p.name]
    assert len(kept) == 1 and cache.load(config, tmp_path)["key"] == config.key()


# --- the audit checks the whole record, and nothing to audit is a failure ---------------------

@pytest.mark.parametrize("arguments", [["audit", "no-such-experiment"], ["audit"]])
def test_nothing_to_audit_is_an_error(tmp_path, capsys, arguments):
    (tmp_path / "empty").mkdir()
    assert cli.main(["--results", str(tmp_path / "absent"), *arguments]) == 2
    assert "nothing to audit" in capsys.readouterr().out
    assert cli.main(["--results", str(tmp_path), *arguments]) == 2
    assert "nothing to audit: no " in capsys.readouterr().out


def test_a_replay_reproduces_every_number_and_catches_a_late_change(tmp_path, tiny_result):
    path = cache.save(tiny(), tiny_result, "pytest", root=tmp_path)
    result = audit.replay_file(path)
    assert result.ok and result.kind == "replay" and result.max_relative_difference == 0
    rewrite(path, lambda r: r["train_loss"].__setitem__(-1, r["train_loss"][-1] * 1.05))
    assert audit.audit_file(path).ok  # sealed again: only the replay can see it
    result = audit.replay_file(path)
    assert not result.ok and f"train_loss[{len(tiny_result['train_loss']) - 1}]" in \
        result.reason
    rewrite(path, lambda r: (r.update(train_loss=tiny_result["train_loss"]),
                             r["evals"]["val_accuracy"].__setitem__(-1, 0.5)))
    assert "evals.val_accuracy" in audit.replay_file(path).reason


def test_the_replayed_run_rotates_with_the_commit_and_stays_in_budget(tmp_path, tiny_result):
    paths = [cache.save(tiny(seed=s), tiny_result, "pytest", root=tmp_path)
             for s in range(4)]
    rewrite(paths[3], lambda r: r.update(wall_time_s=audit.REPLAY_BUDGET_S + 1))
    chosen = {audit.choose_replay(paths, salt=f"commit {i}") for i in range(40)}
    assert chosen == set(paths[:3])
    assert audit.choose_replay(paths, "x") == audit.choose_replay(paths, "x")


def test_compare_runs_reports_the_first_disagreement(tiny_result):
    replayed = json.loads(json.dumps(tiny_result))
    assert audit.compare_runs(tiny_result, replayed)[0]
    replayed["test"]["accuracy"] += 2 * audit.REPLAY_ACCURACY
    ok, _, reason = audit.compare_runs(tiny_result, replayed)
    assert not ok and reason.startswith("test.accuracy[0]")
    replayed = json.loads(json.dumps(tiny_result))
    replayed["evals"]["val_loss"][0] = None
    assert audit.compare_runs(tiny_result, replayed)[2].startswith("evals.val_loss[0]")


# --- staleness by behaviour: edits that change no number keep the cache --------------------

EDITS = {
    "a docstring": ("optim/adopt.py", '"""ADOPT: normalise',
                    '"""ADOPT (a docstring edited by the test): normalise'),
    "a planted bug in ADOPT": ("optim/adopt.py", "return step**0.25",
                               "return (step + 1)**0.25"),
    "a planted bug in Adam": ("optim/transforms.py", "return 1 - beta**t",
                              "return 1 - beta**(t + 1)"),
}
EXPECTED = {"a docstring": {"ADOPT": "cached (optimizer", "Adam": "cached", "SGD": "cached"},
            "a planted bug in ADOPT": {"ADOPT": "stale", "Adam": "cached", "SGD": "cached"},
            "a planted bug in Adam": {"ADOPT": "cached (optimizer", "Adam": "stale",
                                      "SGD": "cached (optimizer"}}


@pytest.fixture(scope="module")
def cached_tiny_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    configs = {name: tiny(optimizer=name, hyperparameters={})
               for name in EXPECTED["a docstring"]}
    for config in configs.values():
        cache.save(config, runner.run(config), "pytest", root=root)
    return root, configs


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_staleness_follows_behaviour_not_source(tmp_path, cached_tiny_runs, edit):
    """The package is copied, edited as a developer would, and asked in a fresh process."""
    root, configs = cached_tiny_runs
    relative, old, new = EDITS[edit]
    copy = tmp_path / "lib"
    subprocess.run(["cp", "-r", str(LIB), str(copy)], check=True)
    source = copy / "optimlab" / relative
    assert source.read_text().count(old) == 1, f"{relative} no longer has {old!r}"
    source.write_text(source.read_text().replace(old, new))
    script = ("import json, sys\nfrom optimlab.experiments import Config, cache\n"
              "configs = [Config.from_dict(c) for c in json.loads(sys.argv[1])]\n"
              "print(json.dumps([cache.describe(c, sys.argv[2]) for c in configs]))")
    names = list(configs)
    out = subprocess.run([sys.executable, "-c", script,
                          json.dumps([configs[n].to_dict() for n in names]), str(root)],
                         env={**os.environ, "PYTHONPATH": str(copy)}, capture_output=True,
                         text=True, check=True).stdout
    described = dict(zip(names, json.loads(out.splitlines()[-1])))
    for name, expected in EXPECTED[edit].items():
        exact = expected == "cached"  # code unchanged: nothing recomputed
        assert described[name] == expected if exact else \
            described[name].startswith(expected), (name, described[name])


def test_another_torchvision_resnet_source_keeps_a_resnet_run_current(tmp_path, monkeypatch):
    config = Config(experiment="test", model="resnet18", dataset="cifar10", optimizer="Adam",
                    lr=1e-3, hyperparameters={"compiled": False}, batch_size=8, steps=2,
                    train_subset=16, eval_subset=10, fingerprint_steps=2, augment=True)
    cache.save(config, runner.run(config), "pytest", root=tmp_path)
    import torchvision.models.resnet as resnet

    real = provenance.inspect.getsource
    monkeypatch.setattr(provenance.inspect, "getsource", lambda obj: real(obj) + (
        "\n# torchvision 9.9: reformatted\n" if obj is resnet else ""))
    assert cache.describe(config, tmp_path) == \
        "cached (model code changed, fingerprint reproduced)"
