"""The data root, the offline preparation and the loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from optimlab import data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "somewhere"))
    assert data.data_root() == tmp_path / "somewhere"
    monkeypatch.delenv(data.ENV_VAR)
    default = data.data_root()
    assert default.name == "data" and "optimlab" in default.parts


def test_missing_mnist_names_the_folder_and_the_remedy(tmp_path):
    with pytest.raises(data.DatasetNotFoundError) as error:
        data.load_mnist(root=tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte.gz" in message and data.ENV_VAR in message


def test_failed_download_becomes_one_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets.mnist as mnist

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(mnist.MNIST, "download", offline)
    with pytest.raises(data.DatasetNotFoundError, match="download failed"):
        data.load_mnist(root=tmp_path, download=True)


def test_missing_cifar10_names_the_npz_folder(tmp_path):
    with pytest.raises(data.DatasetNotFoundError) as error:
        data.load_cifar10(root=tmp_path, download=False)
    assert str(tmp_path / "cifar10-npz") in str(error.value)


needs_offline_copy = pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/data here")


@needs_offline_copy
def test_prepare_copies_only_what_is_missing_and_never_writes_the_source(tmp_path):
    before = sorted((p.name, p.stat().st_mtime_ns) for p in SHARED.rglob("*") if p.is_file())
    copied = data.prepare_data_root(SHARED, tmp_path).copied
    assert {p.name for p in copied} == (set(data.MNIST_FILES) | set(data.CIFAR10_NPZ_FILES)
                                        | set(data.TINYSHAKESPEARE_FILES))
    again = data.prepare_data_root(SHARED, tmp_path)  # second run: nothing to do
    assert again.copied == [] and len(again.present) == len(copied)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"corrupt")
    repaired = data.prepare_data_root(SHARED, tmp_path)
    assert [p.name for p in repaired.copied] == ["t10k-labels-idx1-ubyte.gz"]
    after = sorted((p.name, p.stat().st_mtime_ns) for p in SHARED.rglob("*") if p.is_file())
    assert before == after


def test_prepare_refuses_to_use_the_source_as_root(tmp_path):
    with pytest.raises(ValueError, match="must not be the source"):
        data.prepare_data_root(tmp_path, tmp_path)


@pytest.fixture(scope="module")
def prepared_root(tmp_path_factory):
    """The configured data root when it holds the data, else a copy of ../shared/data."""
    root = data.data_root()
    if (root / "MNIST" / "raw").is_dir() and (root / "cifar10-npz").is_dir():
        return root
    if not SHARED.is_dir():
        pytest.skip("neither a prepared data root nor ../shared/data is available")
    root = tmp_path_factory.mktemp("data")
    data.prepare_data_root(SHARED, root)
    return root


def test_mnist_loads_through_torchvision_without_downloading(prepared_root, monkeypatch):
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("MNIST tried to download although the files are present")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    train, test = data.load_mnist(True, prepared_root), data.load_mnist(False, prepared_root)
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the famous first digits
    assert torch.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958,
                                                    1028, 974, 1009]


def test_cifar10_loads_from_the_lossless_arrays(prepared_root):
    train = data.load_cifar10(True, prepared_root)
    assert train.images.shape == (50000, 32, 32, 3) and train.images.dtype == torch.uint8
    assert torch.bincount(train.labels).tolist() == [5000] * 10
    mean = train.images.double().mean(dim=(0, 1, 2)) / 255
    assert torch.allclose(mean, torch.tensor([0.4914, 0.4822, 0.4465], dtype=torch.float64),
                          atol=1e-4)
    assert train.classes[0] == "airplane" and len(train.classes) == 10


def test_command_line_prepare_fails_on_a_source_that_does_not_exist(tmp_path, capsys):
    assert data.main(["prepare", "--source", str(tmp_path / "absent"), "--root",
                      str(tmp_path / "root")]) == 1
    assert f"{tmp_path / 'absent'} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "root").exists()


def test_split_indices_partition_the_set_the_same_way_every_time():
    train, validation = data.split_indices(100, 30, seed=7)
    assert len(train) == 70 and len(validation) == 30
    assert sorted(torch.cat([train, validation]).tolist()) == list(range(100))
    again = data.split_indices(100, 30, seed=7)
    assert torch.equal(train, again[0]) and torch.equal(validation, again[1])
    assert not torch.equal(validation, data.split_indices(100, 30, seed=8)[1])
    # a pinned value: a change of the permutation algorithm would change every split
    assert data.split_indices(10, 3, seed=0)[1].tolist() == \
        np.sort(np.random.Generator(np.random.PCG64(0)).permutation(10)[7:]).tolist()


@pytest.mark.parametrize("n, n_validation, seed, bad", [
    (100, 0, 0, "n_validation"), (100, 100, 0, "n_validation"), (1, 1, 0, "n"),
    (100, 10, -1, "seed"), (100.0, 10, 0, "n"), (100, True, 0, "n_validation"),
])
def test_split_indices_rejects_bad_arguments(n, n_validation, seed, bad):
    with pytest.raises(ValueError, match=bad):
        data.split_indices(n, n_validation, seed)


def test_mnist_and_cifar10_splits_have_the_recorded_sizes(prepared_root):
    mnist = data.mnist_splits(prepared_root)
    assert [len(part.labels) for part in mnist] == [48000, 12000, 10000]
    assert mnist.train.images.shape[1:] == (28, 28)
    cifar = data.cifar10_splits(prepared_root)
    assert [len(part.labels) for part in cifar] == [40000, 10000, 10000]
    # the split is pinned: the validation part always holds the same images
    train_idx, validation_idx = data.split_indices(60000, 12000)
    full = data.load_mnist(True, prepared_root)
    assert torch.equal(mnist.validation.labels, full.labels[validation_idx])
    assert torch.bincount(mnist.validation.labels).min() > 1000  # every class present
