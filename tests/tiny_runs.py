"""The tiny training run the experiment tests share: the MLP on 64 MNIST images."""

from __future__ import annotations

from optimlab.experiments import Config


def tiny(**changes) -> Config:
    """ADOPT, 2 epochs of 4 updates of 16 images, 100 evaluation images; ``changes``
    replace any field."""
    fields = dict(experiment="test", model="mlp", dataset="mnist", optimizer="ADOPT",
                  lr=0.01, hyperparameters={"weight_decay": 1e-4}, schedule="inverse-sqrt",
                  batch_size=16, epochs=2, train_subset=64, eval_subset=100,
                  fingerprint_steps=3)
    fields.update(changes)
    return Config(**fields)
