"""The audit of the result cache: every cached run is intact and still produced by the
current code and data.

For every file under ``book/results/<experiment>/`` (of a folder in
``audit.SAMPLED_IN_TESTS``, a sample that each commit draws anew; ``python -m
optimlab.experiments audit`` checks them all) this test checks that

* the record is intact: every field of the right type and length for its config
  (a fingerprint as long as the config says, one loss per update), and its digest
  matches, so no number a chapter reads was changed after the run wrote it;
* its fingerprint -- the float32 training losses of its first few updates -- is
  recomputed on this CPU, from the recorded config and seed with the current code
  and data (and, for a CPU run, its recorded thread count), and agrees to within
  ``audit.RTOL`` = 3e-4 relative, or ``audit.RTOL_UNSTABLE`` = 3e-2 for the entries
  after the stored loss has exploded past ``audit.BLOWUP`` = 10 times its first
  value (why these tolerances: :mod:`optimlab.experiments.reproduction`).

Then one whole CPU run is trained again and every logged number compared
(:func:`optimlab.experiments.audit.replay_file`): the run is chosen by the commit
under test among those that took at most ``audit.REPLAY_BUDGET_S`` seconds, so
each commit replays another one.  On this machine kind a replay is bitwise equal
(measured); the tolerances ``REPLAY_RTOL`` and ``REPLAY_ACCURACY`` allow another CPU.
"""

from __future__ import annotations

import pytest

from optimlab.experiments import audit

FILES = audit.sample_for_tests(audit.cached_files())


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_cached_run_matches_the_current_code(path):
    result = audit.audit_file(path)
    assert result.ok, (f"{path} ({result.label}): {result.reason}; recompute it with "
                       f"`python -m optimlab.experiments run {path.parent.name}` after "
                       f"deleting the file")


def test_one_whole_cached_run_replays_to_every_logged_number():
    chosen = audit.choose_replay(FILES)
    assert chosen is not None, "no CPU run short enough to replay is cached"
    result = audit.replay_file(chosen)
    assert result.ok, f"{chosen} ({result.label}): {result.reason}"
