"""The experiment runner under torchrun (DDP, 2 CPU ranks with gloo), its sharding,
the image-folder data of the ImageNet experiment, and the data-parallel demo.

Three torchrun jobs: a 2-rank run of the ``mnist-smoke`` config that the test kills
by SIGKILL of rank 1 after its first checkpoint; that run resumed with 2 ranks
(and, in this process, with 1); the ``imagenet`` config on a tiny generated image
folder, whose result cannot be stored and is resumed from its checkpoint here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from optimlab.data import DatasetNotFoundError
from optimlab.datafiles import DataFileError
from optimlab.experiments import (cache, checkpoint, cli, grids, imagefolder,
                                  large_batch, records, reproduction, runner)
from optimlab.experiments.distributed import SharingError, World

_LAUNCHER = Path(sys.executable).with_name("torchrun")
TORCHRUN = [*([str(_LAUNCHER)] if _LAUNCHER.is_file()
              else [sys.executable, "-m", "torch.distributed.run"]),
            "--standalone", "--nproc-per-node", "2", "-m", "optimlab.experiments"]
#: Seconds added to a checkpoint's elapsed time: a record that carries them resumed.
MARK_S = 10_000.0


def _torchrun(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen([*TORCHRUN, *arguments], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def _rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of the worker of ``rank`` that the torchrun process ``launcher``
    started (its environment holds RANK=rank); None before it is started."""
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environment = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == launcher and f"RANK={rank}".encode() in environment:
            return int(entry.name)
    return None


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One thread in this process, as in each rank (and robust on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def smoke():
    return grids.grid("mnist-smoke")[0]


@pytest.fixture(scope="module")
def reference(smoke):
    """The single-process run of the mnist-smoke config."""
    return runner.run(smoke)


def _assert_same_run(record, reference):
    """The same run, summed in another order: every logged loss within the audit's
    fingerprint tolerance (reproduction.RTOL = 3e-4 relative; measured at most
    5e-7), every accuracy and the fingerprint equal."""
    evals, expected = record["evals"], reference["evals"]
    pairs = [("train_loss", record["train_loss"], reference["train_loss"]),
             ("val_loss", evals["val_loss"], expected["val_loss"]),
             ("test loss", [record["test"]["loss"]], [reference["test"]["loss"]])]
    for name, logged, again in pairs:
        ok, difference = reproduction.compare(logged, again)
        assert ok, f"{name}: largest relative difference {difference:.1e}"
    assert evals["val_accuracy"] == expected["val_accuracy"]
    assert record["test"]["accuracy"] == reference["test"]["accuracy"]
    assert record["fingerprint"] == reference["fingerprint"]


@pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="reads /proc")
def test_a_killed_rank_fails_the_run_cleanly_and_it_resumes_with_2_or_1_ranks(
        tmp_path, smoke, reference):
    stem = checkpoint.path_for(tmp_path / "checkpoints", smoke)
    job = _torchrun("--results", str(tmp_path / "results"), "run", "mnist-smoke",
                    "--threads", "1",
                    "--checkpoint-dir", str(tmp_path / "checkpoints"))
    deadline, victim = time.monotonic() + 120, None
    while not checkpoint.exists(stem):
        assert job.poll() is None, f"the run ended before its first checkpoint:\n" \
                                   f"{_finish(job)[1]}"
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        victim = victim or _rank_pid(job.pid, 1)
        time.sleep(0.002)
    victim = victim or _rank_pid(job.pid, 1)
    assert victim, "rank 1 not found"
    os.kill(victim, signal.SIGKILL)
    returncode, output = _finish(job)
    assert returncode != 0 and "SIGKILL" in output and str(victim) in output, output
    assert not cache.path_for(smoke, tmp_path / "results").exists()

    model, optimizer = runner.build(smoke)
    progress = checkpoint.load(stem, smoke, model, optimizer)   # whole and loadable
    assert 1 <= progress["epoch"] < smoke.epochs, "killed after the last epoch"
    assert len(progress["train_loss"]) == progress["epoch"] * smoke.steps_per_epoch
    progress["elapsed"] += MARK_S
    checkpoint.save(stem, smoke, model, optimizer, progress)
    other = checkpoint.path_for(tmp_path / "other", smoke)
    other.parent.mkdir(parents=True)
    shutil.copy(checkpoint.file_for(stem), checkpoint.file_for(other))

    resumed = _torchrun("--results", str(tmp_path / "results"), "run", "mnist-smoke",
                        "--threads", "1", "--checkpoint-dir",
                        str(tmp_path / "checkpoints"), "--resume")
    returncode, output = _finish(resumed)
    assert returncode == 0, output
    record = cache.load(smoke, tmp_path / "results")
    assert record["wall_time_s"] >= MARK_S  # it went on from the checkpoint
    assert record["distributed"] == {"ranks_per_epoch": [2] * smoke.epochs,
                                     "batchnorm": "none"}
    assert record["provenance"]["command"].startswith("torchrun --nnodes 1 "
                                                      "--nproc-per-node 2 ")
    assert not checkpoint.exists(stem)  # removed once the result was stored
    _assert_same_run(record, reference)

    assert cli.main(["--results", str(tmp_path / "one"), "run", "mnist-smoke",
                     "--checkpoint-dir", str(tmp_path / "other"), "--resume"]) == 0
    alone = cache.load(smoke, tmp_path / "one")
    assert alone["wall_time_s"] >= MARK_S
    shared = progress["epoch"]
    assert alone["distributed"]["ranks_per_epoch"] == [2] * shared + [1] * (
        smoke.epochs - shared)
    _assert_same_run(alone, reference)


class _Stop(Exception):
    pass


def test_a_checkpoint_from_before_shared_runs_resumes(tmp_path, smoke, reference):
    """Checkpoints written before this runner knew ranks lack ``ranks_per_epoch``:
    their epochs had one rank."""
    def stop_after_two_epochs(epoch, result):
        if epoch == 2:
            raise _Stop

    with pytest.raises(_Stop):
        runner.run(smoke, checkpoint_dir=tmp_path, on_epoch=stop_after_two_epochs)
    stem = checkpoint.path_for(tmp_path, smoke)
    model, optimizer = runner.build(smoke)
    progress = checkpoint.load(stem, smoke, model, optimizer)
    assert progress.pop("ranks_per_epoch") == [1, 1]
    checkpoint.save(stem, smoke, model, optimizer, progress)
    resumed = runner.run(smoke, checkpoint_dir=tmp_path, resume=True)
    assert resumed["train_loss"] == reference["train_loss"]
    assert "distributed" not in resumed


# --- the tiny image folder --------------------------------------------------------

CLASSES = ("ant", "bee", "cat")


def _image_folder(root: Path, per_class: dict[str, int]) -> Path:
    """JPEG images of a few sizes, each class a colour plus noise."""
    from PIL import Image

    generator = np.random.default_rng(0)
    for part, count in per_class.items():
        for label, name in enumerate(CLASSES):
            folder = root / part / name
            folder.mkdir(parents=True)
            for i in range(count):
                height, width = (40, 48) if i % 2 else (36, 36)
                pixels = generator.integers(0, 80, (height, width, 3)) + 60 * label
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.JPEG")
    return root


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return _image_folder(tmp_path_factory.mktemp("imagenet"), {"train": 8, "val": 2})


@pytest.fixture
def use_folder(tiny_folder, monkeypatch):
    monkeypatch.setenv(imagefolder.FOLDER_ENV_VAR, str(tiny_folder))
    return tiny_folder


TINY_OPTIONS = {"epochs": 1, "device": "cpu", "train_images": 24, "image_size": 32,
                "batch_size": 8}
TINY_IMAGENET = tuple(item for name, value in TINY_OPTIONS.items()
                      for item in ("--" + name.replace("_", "-"), str(value)))


def test_the_imagenet_config_runs_on_a_tiny_image_folder_under_torchrun(
        tmp_path, use_folder):
    """Two CPU ranks train it for one epoch into a results folder that cannot be
    written: the run is kept in its checkpoint, whose last evaluation (each rank
    half of val/, with rank 0's BatchNorm statistics) is that of the checkpointed
    model in one process; --resume then stores it without training again."""
    config = grids.grid("imagenet", **TINY_OPTIONS)[0]
    assert (config.optimizer, config.model, config.dataset) == ("ADOPT", "resnet50",
                                                               "imagefolder")
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the results folder should be")
    checkpoints = tmp_path / "checkpoints"
    run = ["run", "imagenet", *TINY_IMAGENET, "--shard", "0/2",
           "--checkpoint-dir", str(checkpoints)]
    job = _torchrun("--results", str(blocker / "results"), *run, "--threads", "1")
    returncode, output = _finish(job)
    stem = checkpoint.path_for(checkpoints, config)
    assert returncode != 0 and str(checkpoint.file_for(stem)) in output, output

    model, optimizer = runner.build(config)
    progress = checkpoint.load(stem, config, model, optimizer)
    assert progress["step"] == 3 and progress["ranks_per_epoch"] == [2]
    validation = runner._eval_batches(config, "validation", torch.device("cpu"))
    loss, accuracy = runner._evaluate(model, validation, contextlib.nullcontext())
    ok, difference = reproduction.compare(progress["evals"]["val_loss"][-1:],
                                          runner.float32_list([loss]))
    assert ok, difference
    assert progress["evals"]["val_accuracy"][-1] == accuracy

    assert cli.main(["--results", str(tmp_path / "results"), *run, "--resume"]) == 0
    record = records.read(cache.path_for(config, tmp_path / "results"))
    assert len(record["train_loss"]) == 3
    assert record["train_loss"] == progress["train_loss"]
    assert record["evals"]["step"] == [0, 3] and record["test"] is None
    assert record["distributed"] == {"ranks_per_epoch": [2],
                                     "batchnorm": "over each rank's share"}
    assert not checkpoint.exists(stem)


# --- sharding, in one process -----------------------------------------------------

def test_the_shares_of_the_ranks_make_up_the_global_batch():
    batch = torch.arange(12)
    shares = [World(rank, 3).share(batch) for rank in range(3)]
    assert torch.equal(torch.cat(shares), batch) and all(len(s) == 4 for s in shares)
    assert World().share(batch) is batch
    parts = [World(rank, 3).part(10) for rank in range(3)]
    assert parts == [(0, 3), (3, 6), (6, 10)]
    with pytest.raises(SharingError, match="batch_size=64 cannot be split.*3 ranks"):
        World(0, 3).check_batch(grids.grid("mnist-smoke")[0])


def _epoch(batches, rank=0, ranks=1, seed=5):
    generator = torch.Generator().manual_seed(seed)
    return list(batches.epoch(generator, rank, ranks))


def _folder_batches(part="train", workers=0, augment=True):
    samples, _ = imagefolder.scan(part)
    return imagefolder.FolderBatches(
        samples, image_size=16, batch_size=8, augment=augment,
        drop_last=part == "train", device=torch.device("cpu"), channels_last=False,
        workers=workers)


def test_an_image_folder_epoch_does_not_depend_on_ranks_or_workers(use_folder):
    whole = _epoch(_folder_batches())
    assert len(whole) == 3 and whole[0][0].shape == (8, 3, 16, 16)
    halves = [_epoch(_folder_batches(), rank, 2) for rank in range(2)]
    for k, (x, y) in enumerate(whole):
        assert torch.equal(torch.cat([halves[0][k][0], halves[1][k][0]]), x)
        assert torch.equal(torch.cat([halves[0][k][1], halves[1][k][1]]), y)
    for (x, y), (x2, y2) in zip(whole, _epoch(_folder_batches(workers=2))):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(whole[0][0], _epoch(_folder_batches(), seed=6)[0][0])
    labels = torch.cat([y for _, y in whole]).tolist()
    assert sorted(labels) == [0] * 8 + [1] * 8 + [2] * 8


def test_an_image_folder_is_evaluated_in_order_by_parts(use_folder):
    validation = _folder_batches("validation", augment=False)
    labels = torch.cat([y for _, y in validation.in_order(0, 6)])
    assert labels.tolist() == [0, 0, 1, 1, 2, 2] == validation.labels.tolist()
    parts = [World(rank, 2).part(6) for rank in range(2)]
    shared = [x for start, stop in parts
              for x, _ in validation.in_order(start, stop)]
    whole = [x for x, _ in validation.in_order(0, 6)]
    assert torch.equal(torch.cat(shared), torch.cat(whole))


def test_a_wrong_image_folder_is_named_and_explained(tmp_path, monkeypatch):
    monkeypatch.setenv(imagefolder.FOLDER_ENV_VAR, str(tmp_path / "absent"))
    with pytest.raises(DatasetNotFoundError, match=f"{tmp_path / 'absent'}.*"
                                                   f"{imagefolder.FOLDER_ENV_VAR}"):
        imagefolder.scan("train")
    root = _image_folder(tmp_path / "folder", {"train": 2, "val": 1})
    monkeypatch.setenv(imagefolder.FOLDER_ENV_VAR, str(root))
    with pytest.raises(DataFileError, match="holds 6 images, the config expects 24"):
        imagefolder.scan("train", 24)
    shutil.rmtree(root / "val" / "bee")
    imagefolder._read.cache_clear()
    with pytest.raises(DataFileError, match=r"same class folders.*\['bee'\]"):
        imagefolder.scan("validation")
    with pytest.raises(DatasetNotFoundError, match="folder/test does not exist"):
        imagefolder.scan("test")
    (root / "train" / "ant" / "0.JPEG").write_bytes(b"not an image")
    imagefolder._read.cache_clear()
    samples, _ = imagefolder.scan("train")
    with pytest.raises(DataFileError, match="0.JPEG cannot be read as an image"):
        _folder_batches().images[(0, 0)]


# --- the configs -----------------------------------------------------------------

def test_the_imagenet_grid_has_the_seed_reports_settings():
    configs = grids.grid("imagenet")
    assert [c.optimizer for c in configs] == ["ADOPT", "AdamW"]
    for config in configs:
        assert (config.model, config.dataset, config.train_subset, config.image_size,
                config.batch_size, config.epochs, config.lr, config.schedule) == \
            ("resnet50", "imagefolder", 491_647, 224, 256, 50, 0.1, "inverse-sqrt")
        assert dict(config.hyperparameters)["weight_decay"] == 1e-4
        assert (config.precision, config.device, config.augment) == ("bf16", "cuda",
                                                                      True)
        assert runner.channels_last(config.model, torch.device("cuda"))
    assert dict(configs[0].hyperparameters)["decouple"] is True
    assert configs[0].steps_per_epoch == 491_647 // 256
    assert cache.command_for(configs[0]).startswith("torchrun --standalone "
                                                    "--nproc-per-node 8 -m")
    tiny = grids.grid("imagenet", **TINY_OPTIONS)[0]
    assert " ".join(TINY_IMAGENET) in cache.command_for(tiny)
    with pytest.raises(ValueError, match="the mnist grid takes no options"):
        grids.grid("mnist", batch_size=8)


@pytest.mark.parametrize("changes, message", [
    ({"train_subset": 0}, "train_subset > 0"), ({"eval_subset": 5}, "eval_subset"),
    ({"image_size": 8}, "image_size >= 16"), ({"model": "resnet18"}, "go together"),
])
def test_an_image_folder_config_is_checked(changes, message):
    good = grids.grid("imagenet")[0]
    with pytest.raises(ValueError, match=message):
        good.replace(**changes)
    with pytest.raises(ValueError, match="image_size is for dataset 'imagefolder'"):
        grids.grid("mnist")[0].replace(image_size=32)
    assert "image_size" not in grids.grid("mnist")[0].to_dict()
    assert good.to_dict()["image_size"] == 224


# --- the demonstration of the book's page ------------------------------------------

def test_the_averaged_gradient_is_the_big_batch_gradient_for_a_mean_loss_only():
    gaps = large_batch.shard_gradients(ranks=4, batch_size=128)
    assert gaps.float32 < 1e-5 and gaps.float64 < 1e-13
    assert gaps.summed_loss_ratio == pytest.approx(4.0, rel=1e-5)
    assert gaps.batchnorm > 1e-2


def test_the_scaling_demo_trains_every_rule_and_reports_it(monkeypatch):
    monkeypatch.setattr(large_batch, "FACTORS", (4,))
    rates, update = [], runner._update
    monkeypatch.setattr(runner, "_update",
                        lambda model, optimizer, x, y, lr, autocast: rates.append(lr)
                        or update(model, optimizer, x, y, lr, autocast))
    runs = large_batch.scaling_runs(train_images=1024, eval_images=200)
    assert [(r.optimizer, r.batch_size, r.rule) for r in runs] == [
        ("SGD", 32, "base"), ("SGD", 128, "same η"), ("SGD", 128, "kη"),
        ("SGD", 128, "kη, warm-up"), ("ADOPT", 32, "base"), ("ADOPT", 128, "same η"),
        ("ADOPT", 128, "√k η"), ("ADOPT", 128, "kη")]
    assert [r.steps for r in runs] == [32, 8, 8, 8, 32, 8, 8, 8]
    assert sum(r.steps for r in runs) == len(rates)
    sgd = large_batch.BASE_LRS["SGD"][0]
    warmup = rates[32 + 8 + 8:][:8]  # the fourth run: from η to 4η over 2 updates
    assert runs[3].warmup_steps == 2
    assert warmup == pytest.approx([sgd, 2.5 * sgd] + [4 * sgd] * 6)
    assert rates[32 + 8:][:8] == [4 * sgd] * 8 and rates[:32] == [sgd] * 32
    assert runs[6].lr == pytest.approx(2 * runs[4].lr)
    assert runs[7].lr == 4 * runs[4].lr
    assert all(0 < r.val_accuracy <= 1 and r.val_loss > 0 for r in runs)
    assert {r.validation_images for r in runs} == {200}
    text = large_batch.report((large_batch.shard_gradients(4, 128), runs))
    assert "4 shards of 32" in text and text.count("\n  ADOPT") == 4
