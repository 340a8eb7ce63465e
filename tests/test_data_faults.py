"""Faults in the data root and in ``prepare``: each gets a clear error naming the file.

The ``prepare`` tests use six small stand-in files whose md5s are made the known
ones (``MNIST_FILES`` and ``CIFAR10_NPZ_FILES`` are patched), so no 170 MB copy is
needed; one test runs the real command on ``../shared/data`` as ``make data`` does.
The loader tests write small or test-split-sized (10,000 images) files into
temporary data roots; nothing is ever written into ``../shared/data``.
"""

from __future__ import annotations

import builtins
import gzip
import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from optimlab import data, datafiles

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = [("MNIST/raw", name) for name in data.MNIST_FILES]
FILES += [("cifar10-npz", name) for name in data.CIFAR10_NPZ_FILES]
FILES += [("tinyshakespeare", name) for name in data.TINYSHAKESPEARE_FILES]


# --- prepare, with small stand-ins for the offline files ----------------------------

@pytest.fixture
def stand_ins(monkeypatch):
    """{(folder, name): bytes}, and the known md5s patched to be theirs."""
    contents = {(folder, name): f"stand-in for {name}\n".encode() * 5000
                for folder, name in FILES}
    md5 = {name: hashlib.md5(body).hexdigest() for (_, name), body in contents.items()}
    monkeypatch.setattr(data, "MNIST_FILES", {n: md5[n] for n in data.MNIST_FILES})
    monkeypatch.setattr(data, "CIFAR10_NPZ_FILES", {n: md5[n] for n in data.CIFAR10_NPZ_FILES})
    monkeypatch.setattr(data, "TINYSHAKESPEARE_FILES",
                        {n: md5[n] for n in data.TINYSHAKESPEARE_FILES})
    return contents


def write_files(folder: Path, contents, only=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for (sub, name), body in contents.items():
        if only is None or name in only:
            (folder / sub).mkdir(parents=True, exist_ok=True)
            (folder / sub / name).write_bytes(body)
    return folder


def leftovers(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.endswith(".partial")]


def prepare_fails(source, root) -> tuple[str, data.PrepareReport]:
    with pytest.raises(data.PrepareError) as error:
        data.prepare_data_root(source, root)
    return str(error.value), error.value.report


def test_complete_source_is_copied_then_found_in_place(stand_ins, tmp_path, capsys):
    source = write_files(tmp_path / "source", stand_ins)
    arguments = ["prepare", "--source", str(source), "--root", str(tmp_path / "root")]
    assert data.main(arguments) == 0
    assert f"{len(FILES)} file(s) copied, 0 already there, 0 missing" in capsys.readouterr().out
    for (sub, name), body in stand_ins.items():
        assert (tmp_path / "root" / sub / name).read_bytes() == body
    assert data.main(arguments) == 0
    assert f"0 file(s) copied, {len(FILES)} already there" in capsys.readouterr().out
    assert leftovers(tmp_path / "root") == []


@pytest.mark.parametrize("make_source, says", [
    (lambda tmp: tmp / "absent", "does not exist"),
    (lambda tmp: tmp / "a-file", "is not a folder"),
])
def test_a_source_that_is_not_a_folder_fails(stand_ins, tmp_path, capsys, make_source, says):
    (tmp_path / "a-file").write_text("not a folder")
    source = make_source(tmp_path)
    assert data.main(["prepare", "--source", str(source), "--root", str(tmp_path / "r")]) == 1
    assert f"{source} {says}" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("present", [
    ["train.npz"], ["t10k-labels-idx1-ubyte.gz", "test.npz"], [],
    ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
     "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "test.npz"],
])
def test_every_missing_file_is_named_and_the_others_are_copied(stand_ins, tmp_path, capsys,
                                                              present):
    source = write_files(tmp_path / "source", stand_ins, only=present)
    arguments = ["prepare", "--source", str(source), "--root", str(tmp_path / "root")]
    assert data.main(arguments) == 1
    message = capsys.readouterr().err
    missing = [source / sub / name for sub, name in FILES if name not in present]
    for path in missing:
        assert str(path) in message
    assert f"{len(present)} file(s) copied" in message
    assert f"{len(missing)} missing from {source}" in message
    _, report = prepare_fails(source, tmp_path / "root")
    assert report.missing == missing
    assert sorted(p.name for p in report.present) == sorted(present)


def test_what_is_already_there_completes_a_partial_source(stand_ins, tmp_path):
    there = ["train.npz", "test.npz", *data.TINYSHAKESPEARE_FILES]
    root = write_files(tmp_path / "root", stand_ins, only=there)
    source = write_files(tmp_path / "source", stand_ins, only=list(data.MNIST_FILES))
    report = data.prepare_data_root(source, root)
    assert sorted(p.name for p in report.present) == sorted(there)
    assert sorted(p.name for p in report.copied) == sorted(data.MNIST_FILES)


def test_a_source_file_with_a_wrong_md5_is_never_put_in_place(stand_ins, tmp_path):
    source = write_files(tmp_path / "source", stand_ins)
    bad = source / "cifar10-npz" / "train.npz"
    bad.write_bytes(bad.read_bytes()[:1000])  # truncated
    message, report = prepare_fails(source, tmp_path / "root")
    assert f"{bad} has the wrong md5" in message
    assert not (tmp_path / "root" / "cifar10-npz" / "train.npz").exists()
    assert len(report.copied) == len(FILES) - 1 and leftovers(tmp_path / "root") == []


@pytest.mark.parametrize("damage", [b"", b"corrupt", None])
def test_a_damaged_copy_in_the_root_is_reported_and_replaced(stand_ins, tmp_path, damage):
    source = write_files(tmp_path / "source", stand_ins)
    root = write_files(tmp_path / "root", stand_ins)
    target = root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    good = target.read_bytes()
    target.write_bytes(good[:-1] if damage is None else damage)
    report = data.prepare_data_root(source, root)
    assert report.copied == [target] and len(report.present) == len(FILES) - 1
    assert len(report.replaced) == 1 and f"{target} has the wrong md5" in report.replaced[0]
    assert target.read_bytes() == good
    assert "replaced, the copy there being damaged" in report.summary()


def test_a_damaged_copy_without_a_source_to_replace_it_fails(stand_ins, tmp_path):
    source = write_files(tmp_path / "source", stand_ins, only=["train.npz"])
    root = write_files(tmp_path / "root", stand_ins)
    target = root / "cifar10-npz" / "test.npz"
    target.write_bytes(b"damaged")
    message, _ = prepare_fails(source, root)
    assert f"{target} has the wrong md5" in message
    assert f"no {source / 'cifar10-npz' / 'test.npz'} to replace it" in message


def test_a_folder_in_place_of_a_destination_file_is_named(stand_ins, tmp_path):
    source = write_files(tmp_path / "source", stand_ins)
    (tmp_path / "root" / "cifar10-npz" / "test.npz").mkdir(parents=True)
    message, report = prepare_fails(source, tmp_path / "root")
    assert f"{tmp_path / 'root' / 'cifar10-npz' / 'test.npz'} must be a file" in message
    assert len(report.copied) == len(FILES) - 1


def test_a_folder_in_place_of_a_source_file_is_named(stand_ins, tmp_path):
    source = write_files(tmp_path / "source", stand_ins, only=list(data.MNIST_FILES))
    (source / "cifar10-npz" / "train.npz").mkdir(parents=True)
    message, _ = prepare_fails(source, tmp_path / "root")
    assert f"{source / 'cifar10-npz' / 'train.npz'} must be a file, but it is a folder" \
        in message


def test_an_unreadable_source_file_is_named(stand_ins, tmp_path, monkeypatch):
    source = write_files(tmp_path / "source", stand_ins)
    locked = source / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    refuse_to_open(monkeypatch, datafiles, locked)
    message, report = prepare_fails(source, tmp_path / "root")
    assert f"{locked} cannot be read: Permission denied" in message
    assert len(report.copied) == len(FILES) - 1


@pytest.mark.parametrize("in_the_way", ["", "MNIST", "MNIST/raw", "cifar10-npz"])
def test_a_destination_that_cannot_be_written_is_named(stand_ins, tmp_path, capsys,
                                                       in_the_way):
    source = write_files(tmp_path / "source", stand_ins)
    blocker = tmp_path / "root" / in_the_way
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where a folder belongs")
    arguments = ["prepare", "--source", str(source), "--root", str(tmp_path / "root")]
    assert data.main(arguments) == 1
    assert str(blocker) in capsys.readouterr().err


def test_a_destination_without_write_permission_is_named(stand_ins, tmp_path, monkeypatch):
    source = write_files(tmp_path / "source", stand_ins)

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(datafiles.tempfile, "mkstemp", read_only)
    message, report = prepare_fails(source, tmp_path / "root")
    assert report.copied == [] and len(report.failed) == len(FILES)
    assert f"cannot write into {tmp_path / 'root' / 'cifar10-npz'}: Permission denied" \
        in message


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, OSError(28, "No space left")])
@pytest.mark.parametrize("old", [None, b"damaged old copy"])
def test_an_interrupted_copy_leaves_nothing_under_the_final_name(stand_ins, tmp_path,
                                                                 monkeypatch, interrupt, old):
    source = write_files(tmp_path / "source", stand_ins)
    target = tmp_path / "root" / "cifar10-npz" / "train.npz"
    if old is not None:
        target.parent.mkdir(parents=True)
        target.write_bytes(old)

    class CutOffReader:  # hands out 1000 bytes, then is interrupted
        def __init__(self, handle):
            self.handle, self.delivered = handle, 0

        def read(self, size=-1):
            if size and self.delivered:
                raise interrupt
            block = self.handle.read(min(size, 1000) if size else 0)
            self.delivered += len(block)
            return block

        def __enter__(self):
            return self

        def __exit__(self, *exception):
            self.handle.close()

    def interrupted_open(file, *args, **kwargs):
        handle = builtins.open(file, *args, **kwargs)
        return CutOffReader(handle) if Path(file) == source / "cifar10-npz" / "train.npz" \
            else handle

    monkeypatch.setattr(datafiles, "open", interrupted_open, raising=False)
    with pytest.raises((KeyboardInterrupt, data.PrepareError)):
        data.prepare_data_root(source, tmp_path / "root")
    assert (target.read_bytes() == old) if old is not None else not target.exists()
    assert leftovers(tmp_path / "root") == []
    monkeypatch.delattr(datafiles, "open")  # the next run completes the copy
    data.prepare_data_root(source, tmp_path / "root")
    assert target.read_bytes() == stand_ins[("cifar10-npz", "train.npz")]


def test_each_copy_goes_through_its_own_temporary_name_beside_the_target(stand_ins, tmp_path,
                                                                         monkeypatch):
    source = write_files(tmp_path / "source", stand_ins)
    renames, real_replace = [], os.replace
    monkeypatch.setattr(datafiles.os, "replace",
                        lambda a, b: (renames.append((Path(a), Path(b))), real_replace(a, b)))
    data.prepare_data_root(source, tmp_path / "root")
    assert len(renames) == len({temporary for temporary, _ in renames}) == len(FILES)
    for temporary, target in renames:
        assert temporary.parent == target.parent and temporary.name != target.name


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/data here")
def test_make_data_command_succeeds_on_the_complete_offline_copy(tmp_path):
    environment = dict(os.environ, OPTIMLAB_DATA=str(tmp_path / "root"))
    command = [sys.executable, "-m", "optimlab.data", "prepare", "--source", str(SHARED)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{len(FILES)} file(s) copied, 0 already there, 0 missing" in result.stdout
    assert leftovers(tmp_path / "root") == []


# --- the data root itself ----------------------------------------------------------------

LOADERS = [
    pytest.param(lambda: data.load_mnist(download=False), id="load_mnist"),
    pytest.param(lambda: data.load_cifar10(download=False), id="load_cifar10"),
    pytest.param(lambda: data.prepare_data_root(SHARED), id="prepare_data_root"),
]


@pytest.mark.parametrize("load", LOADERS)
def test_a_data_root_variable_pointing_at_a_file_is_named(tmp_path, monkeypatch, load):
    (tmp_path / "data").write_text("not a folder")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "data"))
    with pytest.raises(data.DataFileError) as error:
        load()
    assert f"data root {tmp_path / 'data'} (from $OPTIMLAB_DATA) is not a folder" \
        in str(error.value)


def test_command_line_with_a_data_root_variable_pointing_at_a_file(tmp_path, monkeypatch,
                                                                    capsys):
    (tmp_path / "data").write_text("not a folder")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "data"))
    assert data.main(["prepare", "--source", str(tmp_path)]) == 1
    assert f"{tmp_path / 'data'} (from $OPTIMLAB_DATA) is not a folder" \
        in capsys.readouterr().err


@pytest.mark.parametrize("load", [data.load_mnist, data.load_cifar10])
@pytest.mark.parametrize("arguments, says", [
    ({"root": ""}, "root must be a non-empty path"),
    ({"root": 5}, "root must be a non-empty path"),
    ({"root": ["/tmp"]}, "root must be a non-empty path"),
    ({"train": "test"}, "train must be True or False, got 'test'"),
    ({"train": 0}, "train must be True or False, got 0"),
    ({"train": None}, "train must be True or False, got None"),
    ({"download": "no"}, "download must be True or False, got 'no'"),
])
def test_bad_loader_arguments_are_named(load, arguments, says):
    with pytest.raises(ValueError, match=says):
        load(**arguments)


# --- CIFAR-10's npz arrays ---------------------------------------------------------------

def cifar_test_arrays() -> dict[str, np.ndarray]:
    """A valid stand-in for test.npz: 10,000 images, 1,000 of each class."""
    return {"x": np.zeros((10000, 32, 32, 3), np.uint8),
            "y": np.repeat(np.arange(10, dtype=np.int64), 1000)}


def write_npz(root: Path, compressed=False, **arrays) -> Path:
    path = root / "cifar10-npz" / "test.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        (np.savez_compressed if compressed else np.savez)(file, **arrays)
    return path


def test_a_valid_npz_loads(tmp_path):
    arrays = cifar_test_arrays()
    arrays["x"][:, 0, 0, 0] = np.arange(10000) % 256
    write_npz(tmp_path, **arrays)
    loaded = data.load_cifar10(train=False, root=tmp_path, download=False)
    assert torch.equal(loaded.images, torch.from_numpy(arrays["x"]))
    assert torch.equal(loaded.labels, torch.from_numpy(arrays["y"]))


def changed(**changes):
    return lambda: {**cifar_test_arrays(), **changes}


def without(key):
    return lambda: {k: v for k, v in cifar_test_arrays().items() if k != key}


def relabelled(index, label):
    def arrays():
        values = cifar_test_arrays()
        values["y"][index] = label
        return values
    return arrays


@pytest.mark.parametrize("make_arrays, says", [
    (changed(x=np.zeros((10000, 32, 32), np.uint8)), "images of shape (10000, 32, 32)"),
    (changed(x=np.zeros((10000, 3, 32, 32), np.uint8)), "images of shape (10000, 3, 32, 32)"),
    (changed(x=np.zeros((9999, 32, 32, 3), np.uint8)), "images of shape (9999, 32, 32, 3)"),
    (changed(x=np.zeros((10000, 32, 32, 3), np.int8)), "int8 images"),
    (changed(x=np.zeros((10000, 32, 32, 3), bool)), "bool images"),
    (changed(x=np.zeros((10, 32, 32, 3), np.float32)), "float32 images"),
    (changed(y=np.zeros(10000, np.float64)), "float64 labels"),
    (changed(y=np.array(["cat"] * 10000)), "<U3 labels"),
    (changed(y=np.zeros((10000, 1), np.int64)), "labels of shape (10000, 1)"),
    (changed(y=np.zeros(9000, np.int64)), "labels of shape (9000,)"),
    (relabelled(0, 10), "labels from 0 to 10, expected 0 to 9"),
    (relabelled(5, -1), "labels from -1 to 9, expected 0 to 9"),
    (relabelled(0, 9), "[999, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1001]"),
    (changed(y=np.zeros(10000, np.int64)), "[10000, 0, 0, 0"),
    (without("y"), "lacks the array(s) y"),
    (without("x"), "lacks the array(s) x"),
    (lambda: {"images": np.zeros(3), "labels": np.zeros(3)}, "lacks the array(s) x, y"),
    (lambda: {"x": np.array([object()]), "y": np.zeros(1)}, "cannot be read as an npz"),
])
def test_wrong_arrays_are_named(tmp_path, make_arrays, says):
    path = write_npz(tmp_path, **make_arrays())
    with pytest.raises(data.DataFileError) as error:
        data.load_cifar10(train=False, root=tmp_path, download=False)
    assert str(path) in str(error.value) and says in str(error.value), str(error.value)


def truncated(fraction):
    return lambda good: good[:int(len(good) * fraction)]


def flipped(position):
    def flip(good):
        body = bytearray(good)
        body[int(len(body) * position)] ^= 0xFF
        return bytes(body)
    return flip


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
@pytest.mark.parametrize("damage", [
    truncated(0.5), truncated(0.999), truncated(0.01), lambda good: b"",
    lambda good: good[:30], flipped(0.5), flipped(0.001), flipped(0.9999),
    lambda good: b"PK\x03\x04" + os.urandom(5000), lambda good: os.urandom(5000),
    lambda good: good + good,
], ids=["half", "last-byte", "first-1%", "empty", "30-bytes", "flip-middle", "flip-start",
        "flip-end", "zip-magic-then-noise", "noise", "doubled"])
def test_a_damaged_npz_names_the_file(tmp_path, compressed, damage):
    path = write_npz(tmp_path, compressed=compressed, **cifar_test_arrays())
    path.write_bytes(damage(path.read_bytes()))
    try:
        loaded = data.load_cifar10(train=False, root=tmp_path, download=False)
    except data.DataFileError as error:
        assert str(path) in str(error), str(error)
    else:  # damage the zip format cannot see must still give the right arrays
        assert torch.equal(loaded.labels, torch.from_numpy(cifar_test_arrays()["y"]))
        assert torch.equal(loaded.images, torch.from_numpy(cifar_test_arrays()["x"]))


def test_an_npy_file_in_place_of_the_npz_is_named(tmp_path):
    path = tmp_path / "cifar10-npz" / "test.npz"
    path.parent.mkdir()
    with open(path, "wb") as file:
        np.save(file, np.zeros((10000, 32, 32, 3), np.uint8))
    with pytest.raises(data.DataFileError, match="is a single .npy array, not an npz"):
        data.load_cifar10(train=False, root=tmp_path, download=False)


@pytest.mark.parametrize("train", [True, False])
def test_a_folder_in_place_of_the_npz_is_named(tmp_path, train):
    path = tmp_path / "cifar10-npz" / ("train.npz" if train else "test.npz")
    path.mkdir(parents=True)
    with pytest.raises(data.DataFileError, match=f"{path} must be a file, but it is a folder"):
        data.load_cifar10(train=train, root=tmp_path, download=False)


def test_a_file_in_place_of_the_npz_folder_is_named(tmp_path):
    (tmp_path / "cifar10-npz").write_text("")
    with pytest.raises(data.DataFileError, match="cifar10-npz must be a folder"):
        data.load_cifar10(train=False, root=tmp_path, download=False)


def refuse_to_open(monkeypatch, module, locked: Path):
    """Opening ``locked`` through ``module``'s ``open`` fails as without permission
    (the tests run as root, for whom a chmod would change nothing)."""
    def guarded(file, *args, **kwargs):
        if Path(file) == locked:
            raise PermissionError(13, "Permission denied", str(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(module, "open", guarded, raising=False)


def test_an_unreadable_npz_is_named(tmp_path, monkeypatch):
    path = write_npz(tmp_path, **cifar_test_arrays())
    refuse_to_open(monkeypatch, datafiles, path)
    with pytest.raises(data.DataFileError, match=f"{path} cannot be read: Permission denied"):
        data.load_cifar10(train=False, root=tmp_path, download=False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000 all the same")
def test_an_npz_of_mode_000_is_named(tmp_path):
    path = write_npz(tmp_path, **cifar_test_arrays())
    path.chmod(0)
    with pytest.raises(data.DataFileError, match=f"{path} cannot be read"):
        data.load_cifar10(train=False, root=tmp_path, download=False)


# --- MNIST's extracted IDX files -----------------------------------------------------------

TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)  # MNIST's test set


def idx(array: np.ndarray) -> bytes:
    return struct.pack(f">{array.ndim + 1}I", 0x800 + array.ndim, *array.shape) \
        + array.astype(np.uint8).tobytes()


def mnist_root(root: Path, images=None, labels=None) -> Path:
    """A data root with MNIST's extracted test files (the training ones are dummies,
    which torchvision only requires to exist)."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    if images is None:
        images = np.zeros((10000, 28, 28), np.uint8)
        images[:, 0, 0] = np.arange(10000) % 256
    if labels is None:
        labels = np.repeat(np.arange(10), TEST_COUNTS)
    (raw / "t10k-images-idx3-ubyte").write_bytes(idx(images))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(idx(labels))
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"")
    return raw


def test_valid_extracted_files_load(tmp_path):
    mnist_root(tmp_path)
    loaded = data.load_mnist(train=False, root=tmp_path, download=False)
    assert loaded.images.shape == (10000, 28, 28)
    assert loaded.images[:, 0, 0].tolist() == [i % 256 for i in range(10000)]
    assert torch.bincount(loaded.labels).tolist() == list(TEST_COUNTS)


@pytest.mark.parametrize("name", ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
@pytest.mark.parametrize("damage, says", [
    (lambda good: good[:len(good) // 2], "bytes instead of"),
    (lambda good: good[:-1], "bytes instead of"),
    (lambda good: good[:16], "bytes instead of"),
    (lambda good: good[:3], "its header is not"),
    (lambda good: b"", "it is empty"),
    (lambda good: good + b"\0", "bytes instead of"),
    (lambda good: b"\x1f\x8b" + good[2:], "its header is not"),  # a .gz where IDX belongs
    (lambda good: good[:4] + b"\0\0\0\1" + good[8:], "its header is not"),  # wrong count
    (lambda good: good[:2] + b"\x0d" + good[3:], "its header is not"),  # float32 type code
])
def test_a_damaged_extracted_file_is_named(tmp_path, name, damage, says):
    path = mnist_root(tmp_path) / name
    path.write_bytes(damage(path.read_bytes()))
    for download in (False, True):
        with pytest.raises(data.DataFileError) as error:
            data.load_mnist(train=False, root=tmp_path, download=download)
        message = str(error.value)
        assert str(path) in message and says in message and "Delete it" in message, message


def test_the_images_file_in_place_of_the_labels_file_is_named(tmp_path):
    raw = mnist_root(tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte"
    labels.write_bytes((raw / "t10k-images-idx3-ubyte").read_bytes())
    with pytest.raises(data.DataFileError, match=f"{labels} is truncated or damaged: its"):
        data.load_mnist(train=False, root=tmp_path, download=False)


@pytest.mark.parametrize("labels, says", [
    (np.full(10000, 11), "labels from 11 to 11, expected 0 to 9"),
    (np.repeat(np.arange(10), 1000), "[1000, 1000, 1000"),
    (np.zeros(10000), "[10000, 0, 0"),
])
def test_wrong_labels_name_the_labels_file(tmp_path, labels, says):
    raw = mnist_root(tmp_path, labels=labels)
    with pytest.raises(data.DataFileError) as error:
        data.load_mnist(train=False, root=tmp_path, download=False)
    assert str(raw / "t10k-labels-idx1-ubyte") in str(error.value) and says in str(error.value)


def test_a_folder_in_place_of_an_extracted_file_is_named(tmp_path):
    raw = mnist_root(tmp_path)
    (raw / "t10k-images-idx3-ubyte").unlink()
    (raw / "t10k-images-idx3-ubyte").mkdir()
    with pytest.raises(data.DataFileError, match="t10k-images-idx3-ubyte must be a file, but"):
        data.load_mnist(train=False, root=tmp_path, download=False)


@pytest.mark.parametrize("in_the_way", ["MNIST", "MNIST/raw"])
def test_a_file_in_place_of_an_mnist_folder_is_named(tmp_path, in_the_way):
    (tmp_path / in_the_way).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / in_the_way).write_text("")
    with pytest.raises(data.DataFileError, match=f"{tmp_path / in_the_way} must be a folder"):
        data.load_mnist(train=False, root=tmp_path)


def test_an_unreadable_extracted_file_is_named(tmp_path, monkeypatch):
    locked = mnist_root(tmp_path) / "t10k-labels-idx1-ubyte"
    refuse_to_open(monkeypatch, datafiles, locked)
    with pytest.raises(data.DataFileError, match=f"{locked} cannot be read: Permission"):
        data.load_mnist(train=False, root=tmp_path, download=False)


@pytest.mark.parametrize("damage", [b"", b"\x1f\x8b truncated", None])
def test_an_offline_failure_names_a_damaged_archive(tmp_path, monkeypatch, damage):
    import torchvision.datasets.mnist as mnist

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    archive = raw / "t10k-labels-idx1-ubyte.gz"
    if damage is None:
        archive.mkdir()
    else:
        archive.write_bytes(damage)

    def offline(url, *args, **kwargs):
        raise RuntimeError(f"no network to fetch {url}")

    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    with pytest.raises(data.DatasetNotFoundError) as error:
        data.load_mnist(train=False, root=tmp_path, download=True)
    message = str(error.value)
    assert "download failed" in message and str(archive) in message, message
    assert ("must be a file" if damage is None else "has the wrong md5") in message


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/data here")
def test_a_good_archive_is_extracted_and_checked(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                 "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (raw / name).write_bytes((SHARED / "MNIST" / "raw" / name).read_bytes())
    loaded = data.load_mnist(train=False, root=tmp_path, download=True)
    with gzip.open(raw / "t10k-labels-idx1-ubyte.gz") as file:
        assert loaded.labels.tolist() == list(file.read()[8:])
