"""The mixer, on tiny hand-made Scripts and on the real routine."""

from __future__ import annotations

import numpy as np
import pytest

from voice_coach.mixer import FLOOR_PEAK, render, render_blocks
from voice_coach.script import CHIME, SPEECH, Cue, Script

RATE = 1000


def tiny_script():
    cues = (
        Cue(100, 110, SPEECH, "a", "title"),
        Cue(200, 205, CHIME, "ding", "hold-start"),
    )
    return Script(sample_rate=RATE, length_samples=300, cues=cues, holds=(), steps=())


CLIPS = {
    (SPEECH, "a"): np.full(10, 0.5, dtype=np.float32),
    (CHIME, "ding"): np.array([0.75, -0.75, 0.25, 0.0, -0.25], dtype=np.float32),
}


def test_clips_land_on_their_samples():
    pcm = render(tiny_script(), CLIPS).astype(np.int32)
    assert len(pcm) == 300
    assert np.all(np.abs(pcm[100:110] - 16384) <= FLOOR_PEAK)
    expected = np.rint(CLIPS[(CHIME, "ding")] * 32767)
    assert np.all(np.abs(pcm[200:205] - expected) <= FLOOR_PEAK + 1)
    quiet = np.concatenate([pcm[:100], pcm[110:200], pcm[205:]])
    assert np.abs(quiet).max() <= FLOOR_PEAK
    assert np.count_nonzero(quiet) > len(quiet) // 2  # a floor, not digital zero


@pytest.mark.parametrize("block_samples", [1, 7, 64, 10_000])
def test_output_does_not_depend_on_block_size(block_samples):
    whole = render(tiny_script(), CLIPS)
    pieces = list(render_blocks(tiny_script(), CLIPS, block_samples=block_samples))
    assert all(len(p) <= block_samples for p in pieces)
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_rendering_can_start_midway():
    whole = render(tiny_script(), CLIPS)
    tail = np.concatenate(list(render_blocks(tiny_script(), CLIPS, start_sample=203)))
    np.testing.assert_array_equal(tail, whole[203:])


def test_real_routine_blocks_are_fixed_size(hamstrings_program):
    sizes = [len(block) for block in hamstrings_program.blocks(block_samples=4096)]
    assert set(sizes[:-1]) == {4096}
    assert sum(sizes) == hamstrings_program.script.length_samples


def test_rejects_empty_blocks():
    with pytest.raises(ValueError):
        next(render_blocks(tiny_script(), CLIPS, block_samples=0))


@pytest.mark.parametrize("rate", [22050, 48000])
def test_the_noise_floor_of_any_span_is_that_span_of_one_long_floor(rate):
    """Spans starting anywhere in the period, short or longer than the repeated floor
    kept for them, are the same samples as the whole floor from zero; the floor is
    quiet, centred and white (no sample predicts the next)."""
    from voice_coach.mixer import REPEATED_PERIODS, noise_floor

    whole = noise_floor(0, (REPEATED_PERIODS + 4) * rate, rate).copy()
    for start, count in [
        (0, 1),
        (rate - 1, 3),
        (12_345, 65_536),
        (rate // 2, REPEATED_PERIODS * rate - rate // 2),  # the last that fits the kept floor
        (rate // 2, REPEATED_PERIODS * rate),  # the first that does not
        (7, (REPEATED_PERIODS + 2) * rate),
    ]:
        span = noise_floor(start, count, rate)
        assert np.array_equal(span, whole[start : start + count]), (start, count)
    assert np.array_equal(noise_floor(3 * rate + 5, 100, rate), whole[5:105])  # periodic
    assert noise_floor(5, 0, rate).size == 0
    floor = whole[:rate].astype(float)
    assert np.abs(floor).max() == FLOOR_PEAK and abs(floor.mean()) < 0.2
    assert abs(np.corrcoef(floor[:-1], floor[1:])[0, 1]) < 0.05
    with pytest.raises(ValueError):
        noise_floor(0, 10, rate)[0] = 1  # views of the kept floor are read-only
