"""Tiny Shakespeare (optimlab.text) and the character-level GPT (optimlab.transformer)."""

from __future__ import annotations

import hashlib
import io

import pytest
import torch

from optimlab import text
from optimlab.datafiles import DataFileError
from optimlab.transformer import CharGPT, char_gpt


@pytest.fixture(scope="module")
def splits():
    return text.shakespeare_splits()


def test_the_corpus_is_the_char_rnn_file(splits):
    corpus = text.load_shakespeare()
    assert len(corpus) == text.SHAKESPEARE_CHARACTERS
    assert hashlib.md5(corpus.encode("utf-8")).hexdigest() == text.SHAKESPEARE_MD5
    assert corpus.startswith("First Citizen:")
    assert len(splits.characters) == 65


def test_splits_are_contiguous_in_order_and_decode_back(splits):
    corpus = text.load_shakespeare()
    joined = torch.cat([splits.train, splits.validation, splits.test])
    assert splits.decode(joined) == corpus
    assert (len(splits.train), len(splits.validation)) == (1_003_854, 55_769)
    assert torch.equal(splits.encode("To be"), torch.tensor(
        [splits.characters.index(c) for c in "To be"]))
    with pytest.raises(ValueError, match="outside the corpus"):
        splits.encode("€")


def test_windows_are_next_character_pairs(splits):
    generator = torch.Generator().manual_seed(3)
    inputs, targets = text.random_windows(splits.train, 5, 16, generator)
    assert inputs.shape == targets.shape == (5, 16)
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    corpus = splits.decode(splits.train)
    for row, target in zip(inputs, targets):
        start = corpus.find(splits.decode(row) + splits.decode(target[-1:]))
        assert start >= 0
    x, y = text.evaluation_windows(splits.validation, 64, windows=10)
    assert x.shape == (10, 64) and torch.equal(x.flatten()[1:], y.flatten()[:-1])
    assert torch.equal(x.flatten(), splits.validation[:640])


@pytest.mark.parametrize("call, argument", [
    (lambda ids: text.random_windows(ids, 0, 8, torch.Generator()), "batch"),
    (lambda ids: text.random_windows(ids, 2, 0, torch.Generator()), "context"),
    (lambda ids: text.random_windows(ids[:5], 2, 8, torch.Generator()), "ids"),
    (lambda ids: text.evaluation_windows(ids, 8, windows=0), "windows"),
])
def test_bad_window_arguments_are_named(splits, call, argument):
    with pytest.raises(ValueError, match=argument):
        call(splits.validation)


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()


def test_a_download_is_kept_only_with_the_right_md5(tmp_path, monkeypatch):
    good = text.load_shakespeare().encode("utf-8")
    served = {"body": good[:-1] + b"?"}
    monkeypatch.setattr(text.urllib.request, "urlopen",
                        lambda url, timeout: FakeResponse(served["body"]))
    with pytest.raises(DataFileError, match="md5"):
        text.load_shakespeare(root=tmp_path)
    assert not list((tmp_path / "tinyshakespeare").iterdir())      # nothing left behind
    served["body"] = good
    assert text.load_shakespeare(root=tmp_path) == good.decode("utf-8")
    with pytest.raises(FileNotFoundError, match="download=False"):
        text.load_shakespeare(root=tmp_path / "empty", download=False)


def test_a_damaged_copy_is_named(tmp_path):
    path = tmp_path / "tinyshakespeare" / "input.txt"
    path.parent.mkdir()
    path.write_text("First Citizen: not the whole play")
    with pytest.raises(DataFileError, match="input.txt"):
        text.load_shakespeare(root=tmp_path)


def test_the_gpt_has_the_race_size_and_is_causal():
    torch.manual_seed(0)
    model = char_gpt()
    assert sum(p.numel() for p in model.parameters()) == 818_176
    tokens = torch.randint(65, (2, 64))
    logits = model(tokens)
    assert logits.shape == (2, 64, 65)
    changed = tokens.clone()
    changed[:, 40] = (changed[:, 40] + 1) % 65
    after = model(changed)
    assert torch.allclose(after[:, :40], logits[:, :40], atol=1e-6)   # no look-ahead
    assert not torch.allclose(after[:, 40:], logits[:, 40:])
    initial_loss = torch.nn.functional.cross_entropy(logits.view(-1, 65), tokens.view(-1))
    assert abs(initial_loss.item() - torch.log(torch.tensor(65.0)).item()) < 0.05


def test_the_gpt_refuses_bad_sizes_and_long_inputs():
    with pytest.raises(ValueError, match="multiple of heads"):
        CharGPT(width=30, heads=4)
    with pytest.raises(ValueError, match="layers"):
        CharGPT(layers=0)
    with pytest.raises(ValueError, match="length <= 64"):
        char_gpt()(torch.zeros(1, 65, dtype=torch.int64))


def test_generation_extends_the_prompt():
    torch.manual_seed(0)
    model = char_gpt()
    out = model.generate(torch.tensor([1, 2, 3]), 70, torch.Generator().manual_seed(0))
    assert out.shape == (73,) and torch.equal(out[:3], torch.tensor([1, 2, 3]))
    assert int(out.max()) < 65


def test_window_batches_for_the_runner(splits):
    train = text.WindowBatches(splits.train, 64, 32, random=True)
    assert len(train) == len(splits.train) // 64 // 32
    first = list(train.epoch(torch.Generator().manual_seed(5)))
    again = list(train.epoch(torch.Generator().manual_seed(5)))
    assert len(first) == len(train)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    x, y = first[0]
    assert x.shape == y.shape == (32, 64) and torch.equal(x[:, 1:], y[:, :-1])
    validation = text.WindowBatches(splits.validation, 64, 100, random=False)
    inputs, targets = validation.batch(torch.arange(3))
    assert torch.equal(inputs.flatten(), splits.validation[:192])
    assert torch.equal(targets.flatten(), splits.validation[1:193])
    with pytest.raises(ValueError, match="no epochs"):
        next(validation.epoch(torch.Generator()))
    with pytest.raises(ValueError, match="batch_size"):
        text.WindowBatches(splits.validation, 64, 0, random=False)


def test_the_runner_trains_the_gpt_on_shakespeare_and_evaluates_every_character():
    from optimlab.experiments import runner
    from optimlab.experiments.config import Config

    config = Config(experiment="charlm-test", model="char_gpt", dataset="shakespeare",
                    optimizer="AdamW", lr=3e-3, batch_size=8, steps=6, eval_every=3,
                    train_subset=64, eval_subset=4, fingerprint_steps=2)
    result = runner.run(config)
    assert len(result["train_loss"]) == 6 and result["evals"]["step"] == [0, 3, 6]
    losses = result["evals"]["val_loss"]
    assert abs(losses[0] - torch.log(torch.tensor(65.0)).item()) < 0.1   # uniform at first
    assert losses[-1] < losses[0]
    model, _ = runner.build(config)
    validation = runner._eval_batches(config, "validation", torch.device("cpu"))
    assert validation.labels.numel() == 4 * 64
    loss, accuracy = runner._evaluate(model, validation, runner.contextlib.nullcontext())
    logits = model(validation.inputs)
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1),
                                                 validation.labels.flatten())
    assert loss == pytest.approx(expected.item(), rel=1e-6)
    assert result["fingerprint"] == runner.fingerprint(config)


def test_a_finished_race_run_stores_the_text_its_averaged_weights_write(monkeypatch):
    """A language-model run tested at the end keeps a sample of the model's text,
    written from Schedule-Free's evaluation point x (not the training point y),
    the same for the same seed; a record of such a run without it is damaged."""
    from optimlab.experiments import cache, records, runner
    from optimlab.experiments.config import Config

    config = Config(experiment="charlm-test", model="char_gpt", dataset="shakespeare",
                    optimizer="AdamWScheduleFree", lr=3e-3, batch_size=8, steps=4,
                    train_subset=64, eval_subset=4, fingerprint_steps=2, test_at_end=True,
                    hyperparameters={"warmup_steps": 2})
    built, build = {}, runner.build

    def build_and_keep(*args, **kwargs):
        built["model"], built["optimizer"] = build(*args, **kwargs)
        return built["model"], built["optimizer"]

    monkeypatch.setattr(runner, "build", build_and_keep)
    result = runner.run(config)
    sample = result["sample"]
    assert sample.startswith(runner.SAMPLE_PROMPT)
    assert len(sample) == len(runner.SAMPLE_PROMPT) + runner.SAMPLE_CHARACTERS
    model, optimizer = built["model"], built["optimizer"]
    optimizer.eval()                                        # the weights x
    assert runner._sample_text(model, config.seed) == sample
    assert runner._sample_text(model, config.seed + 1) != sample
    optimizer.train()                                       # the weights y
    assert runner._sample_text(model, config.seed) != sample
    record = cache.make_record(config, result, "test")
    assert records.validate(record, "record.json") == config
    del record["sample"]
    with pytest.raises(records.DamagedResultError, match="sample is missing"):
        records.validate(record, "record.json")


@pytest.mark.parametrize("fields, message", [
    ({"model": "mlp"}, "go together"),
    ({"augment": True}, "augment"),
])
def test_a_language_config_names_what_does_not_fit(fields, message):
    from optimlab.experiments.config import Config

    settings = dict(experiment="charlm-test", model="char_gpt", dataset="shakespeare",
                    optimizer="AdamW", lr=1e-3, batch_size=8, steps=4)
    with pytest.raises(ValueError, match=message):
        Config(**{**settings, **fields})


def test_muon_runs_hidden_matrices_and_adamw_the_rest_both_on_the_schedule():
    from optimlab.experiments import runner
    from optimlab.experiments.config import Config

    config = Config(experiment="charlm-test", model="char_gpt", dataset="shakespeare",
                    optimizer="Muon", lr=0.02, batch_size=8, steps=4, train_subset=64,
                    eval_subset=4, schedule="cosine", fingerprint_steps=2,
                    hyperparameters={"adamw_lr": 3e-3, "adamw_weight_decay": 0.1})
    model, optimizer = runner.build(config)
    muon, adamw = optimizer.param_groups
    assert all(p.dim() == 2 for p in muon["params"]) and len(muon["params"]) == 16
    assert any(p is model.head.weight for p in adamw["params"])
    assert any(p is model.token_embedding.weight for p in adamw["params"])
    assert adamw["weight_decay"] == 0.1
    x, y = next(runner.train_batches(config).epoch(runner.epoch_generator(config, 0)))
    runner._update(model, optimizer, x, y, 0.01, runner.contextlib.nullcontext())
    assert (muon["lr"], adamw["lr"]) == pytest.approx((0.01, 1.5e-3))


def test_the_race_grids_and_the_choice_of_learning_rate(monkeypatch):
    from optimlab.experiments import cache, charlm, grids

    search = grids.grid("charlm-search")
    assert len(search) == 24 and {c.optimizer for c in search} == set(charlm.OPTIMIZERS)
    assert all(not c.test_at_end and c.steps == charlm.SEARCH_STEPS for c in search)
    assert {c.schedule for c in search if c.optimizer == "AdamWScheduleFree"} == {"constant"}
    losses = {1e-3: 1.9, 3e-3: 1.7, 1e-2: 1.7}          # a tie goes to the smaller rate

    def fake_load(config, root=None):
        diverged = config.optimizer == "Lion" and config.lr == 1e-3
        loss = losses.get(config.lr, 2.0) if config.optimizer != "Lion" else config.lr
        return {"diverged": diverged, "evals": {"val_loss": [9.0, loss]}}

    monkeypatch.setattr(cache, "load", fake_load)
    chosen = charlm.chosen_lrs()
    assert chosen["AdamW"] == 3e-3 and chosen["Lion"] == 1e-4
    final = grids.grid("charlm")
    assert len(final) == 18 and all(c.test_at_end and c.steps == charlm.FINAL_STEPS
                                    for c in final)
    assert {c.seed for c in final} == set(charlm.SEEDS)
    monkeypatch.setattr(cache, "load", lambda config, root=None: None)
    with pytest.raises(cache.MissingResultError, match="charlm-search"):
        charlm.chosen_lrs()


def test_a_muon_run_is_checkpointed_and_resumed_exactly(tmp_path):
    """Muon + AdamW keeps a composite state dict; a run stopped after its first epoch
    and resumed from the checkpoint ends as the run that never stopped."""
    from optimlab.experiments import checkpoint, runner
    from optimlab.experiments.config import Config

    config = Config(experiment="charlm-test", model="char_gpt", dataset="shakespeare",
                    optimizer="Muon", lr=0.02, batch_size=8, epochs=2, train_subset=32,
                    eval_subset=2, fingerprint_steps=2,
                    hyperparameters={"adamw_lr": 3e-3})
    whole = runner.run(config)
    model, optimizer = runner.build(config)
    x, y = next(runner.train_batches(config).epoch(runner.epoch_generator(config, 0)))
    runner._update(model, optimizer, x, y, 0.02, runner.contextlib.nullcontext())
    path = checkpoint.path_for(tmp_path, config)
    checkpoint.save(path, config, model, optimizer, {"step": 1})
    restored_model, restored = runner.build(config)
    assert checkpoint.load(path, config, restored_model, restored) == {"step": 1}
    for part in ("muon", "adamw"):
        saved, loaded = (o.state_dict()[part]["state"] for o in (optimizer, restored))
        assert all(torch.equal(saved[i][k], loaded[i][k]) for i in saved for k in saved[i]
                   if torch.is_tensor(saved[i][k]))

    class Stop(Exception):
        pass

    def stop_after_first_epoch(epoch, result):
        raise Stop

    with pytest.raises(Stop):
        runner.run(config, checkpoint_dir=tmp_path / "run", on_epoch=stop_after_first_epoch)
    resumed = runner.run(config, checkpoint_dir=tmp_path / "run", resume=True)
    assert resumed["train_loss"] == whole["train_loss"]
    assert resumed["evals"]["val_loss"] == whole["evals"]["val_loss"]


def test_a_muon_runs_code_hash_covers_the_adamw_it_uses(monkeypatch):
    from pathlib import Path

    from optimlab.experiments import charlm, provenance

    config = next(c for c in charlm.search() if c.optimizer == "Muon")
    before = provenance.code_hashes(config)["optimizer"]
    read = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: read(self, *a, **k)
                        + ("# edited" if self.name == "adam.py" else ""))
    assert provenance.code_hashes(config)["optimizer"] != before


def test_the_race_reads_its_measured_speeds_and_names_a_missing_or_bad_file(tmp_path):
    import json

    from optimlab.experiments import charlm

    speeds = charlm.seconds_per_update()                   # the committed measurement
    assert set(speeds) == set(charlm.OPTIMIZERS) and all(0 < v < 5 for v in speeds.values())
    with pytest.raises(FileNotFoundError, match="benchmark_race.py --write"):
        charlm.seconds_per_update(tmp_path)
    path = tmp_path / charlm.TIMING_FILE
    path.write_text(json.dumps({"seconds_per_update": {"AdamW": 0.1}}))
    with pytest.raises(ValueError, match="not a timing of every optimizer"):
        charlm.seconds_per_update(tmp_path)
    path.write_text(json.dumps({"seconds_per_update": {n: -1.0 for n in speeds}}))
    with pytest.raises(ValueError, match="must be positive"):
        charlm.seconds_per_update(tmp_path)
    path.write_text(json.dumps({"seconds_per_update": {n: 0.2 for n in speeds}}))
    assert charlm.seconds_per_update(tmp_path) == {n: 0.2 for n in speeds}


def test_a_diverged_language_model_writes_nothing():
    from optimlab.experiments import runner

    torch.manual_seed(0)
    model = char_gpt()
    with torch.no_grad():
        model.head.weight.fill_(float("nan"))
    assert runner._sample_text(model, 0) == ""
    with torch.no_grad():                           # finite weights, infinite logits
        model.head.weight.fill_(3e38)
    assert runner._sample_text(model, 0) == ""
    assert model.training
