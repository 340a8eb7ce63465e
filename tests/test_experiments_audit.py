"""The audit of the result cache: every cached run still matches the code and data.

For every file under ``book/results/<experiment>/`` this test checks that

* the code hashes stored with the run (optimizer, model, data split) equal those of
  the current code, i.e. the run is not stale, and
* its fingerprint -- the float32 training losses of its first few updates -- is
  recomputed on this CPU, from the recorded config and seed with the current
  code and data (and, for a CPU run, its recorded thread count), and agrees to
  within ``audit.RTOL`` = 3e-4 relative, or ``audit.RTOL_UNSTABLE`` = 3e-2 for the
  entries after the stored loss has exploded past ``audit.BLOWUP`` = 10 times its
  first value.

Why these tolerances: the fingerprint is computed in float32 without autocast or
TF32, from batches and augmentation drawn by a CPU generator, so a recomputation
differs from the stored value only by the order in which the kernels sum (another
CPU's SIMD width or BLAS blocking, another thread count, or the cuDNN/cuBLAS
kernels of a GPU run), about 1e-7 relative per operation.  In stable training this
grows only a little over a fingerprint (measured on all 48 MNIST runs with 1 vs 2
threads: at most 3e-5, AMSGrad at α = 0.1); a change that matters (initial weights,
split, batch, augmentation, learning rate, update rule) moves the losses by 1e-3 or
more from the first update on, so 3e-4 lies between the two.
A run that explodes (ADOPT at α = 1 reaches 60 times its first loss at the third
minibatch) amplifies rounding about tenfold per update, up to 2e-3 after twelve
minibatches (measured, 1 vs 2 threads); there 3e-2 still catches a real change,
e.g. ADOPT's clip shifted by one step changes those losses by 10% to 300%
(measured).  See :mod:`optimlab.experiments.audit`.

All cached runs together take well under three minutes here (measured: about 15 s
for the 48 MNIST runs and the four smoke runs; each ResNet-18 run adds three
updates of one batch).
"""

from __future__ import annotations

import pytest

from optimlab.experiments import audit

FILES = audit.cached_files()


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_cached_run_matches_the_current_code(path):
    result = audit.audit_file(path)
    assert result.ok, (f"{path} ({result.label}): {result.reason}; recompute it with "
                       f"`python -m optimlab.experiments run {path.parent.name}` after "
                       f"deleting the file")
