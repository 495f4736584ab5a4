"""The exported audio itself, analysed sample by sample.

`voice-coach export hamstrings -o h.wav --timeline h.json` runs as a user would run
it, with the real eSpeak NG. Every timing rule is then measured in the samples;
the timeline is only the claim being checked.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import soundfile

from audio_analysis import (
    SOUND,
    as_float,
    dbfs,
    first_sound,
    frame_peaks,
    onsets,
    template_positions,
)
from conftest import ROOT

RATE = 22050
HOLD_SAMPLES = 30 * RATE


@pytest.fixture(scope="module")
def exported(tmp_path_factory, voice_coach_command):
    folder = tmp_path_factory.mktemp("export")
    wav, timeline = folder / "h.wav", folder / "h.json"
    result = subprocess.run(
        [voice_coach_command, "export", "hamstrings", "-o", str(wav), "--timeline", str(timeline)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().startswith(f"wrote {wav}")
    pcm, rate = soundfile.read(wav, dtype="int16")
    assert rate == RATE
    return pcm, as_float(pcm), json.loads(timeline.read_text())


def chime(name: str) -> np.ndarray:
    samples, rate = soundfile.read(ROOT / "sounds" / f"{name}.wav", dtype="float64")
    assert rate == RATE
    return samples


@pytest.fixture(scope="module")
def chime_positions(exported):
    _, audio, _ = exported
    found = {
        name: template_positions(audio, chime(name))
        for name in ("hold-start", "hold-end", "last-set")
    }
    # The routine's last hold opens with the "last set" sound.
    assert len(found["last-set"]) == 1
    found["hold-start"] = sorted(found["hold-start"] + found.pop("last-set"))
    return found


@pytest.mark.slow
def test_six_holds_of_exactly_30_seconds_between_chimes(exported, chime_positions):
    _, audio, timeline = exported
    starts, ends = chime_positions["hold-start"], chime_positions["hold-end"]
    assert len(starts) == 6
    assert len(ends) == 6
    for start, end in zip(starts, ends, strict=True):
        assert end - start == HOLD_SAMPLES
        # The same, measured as the first audible sample of each chime.
        quiet = int(0.05 * RATE)
        heard_start = first_sound(audio, start - quiet, start + quiet)
        heard_end = first_sound(audio, end - quiet, end + quiet)
        assert abs((heard_end - heard_start) / RATE - 30.0) < 0.0005
    claimed = [(round(h["start"] * RATE), round(h["end"] * RATE)) for h in timeline["holds"]]
    assert claimed == list(zip(starts, ends, strict=True))
    assert [(h["step"], h["side"]) for h in timeline["holds"]] == [
        (step, side) for step in range(3) for side in ("left", "right")
    ]


def test_countdown_numbers_fall_on_their_seconds(exported, chime_positions):
    _, audio, _ = exported
    for end in chime_positions["hold-end"]:
        heard = onsets(audio, end - int(5.5 * RATE), end, quiet_samples=int(0.1 * RATE))
        assert len(heard) == 5
        for seconds_left, onset in zip(range(5, 0, -1), heard, strict=True):
            assert abs(onset - (end - seconds_left * RATE)) <= 0.010 * RATE


def test_every_listed_cue_is_heard_at_its_start(exported):
    _, audio, timeline = exported
    assert timeline["sample_rate"] == RATE
    for cue in timeline["cues"]:
        start, end = round(cue["start"] * RATE), round(cue["end"] * RATE)
        heard = first_sound(audio, start, end)
        assert heard is not None, cue
        assert heard - start <= 0.050 * RATE, cue


def test_no_sound_outside_the_listed_cues(exported):
    _, audio, timeline = exported
    covered = np.zeros(len(audio), dtype=bool)
    cues = timeline["cues"]
    for cue in cues:
        covered[round(cue["start"] * RATE) : round(cue["end"] * RATE)] = True
    outside = np.abs(audio[~covered])
    assert dbfs(float(outside.max())) < -60
    # Cues never overlap, so the covered length is the sum of the cue lengths.
    assert covered.sum() == sum(round(c["end"] * RATE) - round(c["start"] * RATE) for c in cues)


def test_quiet_is_near_silent_but_never_digital_zero(exported):
    pcm, audio, timeline = exported
    preroll = round(timeline["cues"][0]["start"] * RATE)
    assert preroll >= 0.45 * RATE
    assert first_sound(audio, 0, len(audio)) >= 0.45 * RATE
    assert dbfs(float(np.abs(audio[:preroll]).max())) < -60
    # Every 10 ms frame carries some signal, so Bluetooth links never power down.
    assert (frame_peaks(pcm.astype(np.int32), int(0.01 * RATE)) > 0).all()


def test_timeline_matches_the_file(exported):
    pcm, _, timeline = exported
    assert round(timeline["duration"] * RATE) == len(pcm)
    kinds = {cue["kind"] for cue in timeline["cues"]}
    assert kinds == {"speech", "chime"}
    numbers = [c["text"] for c in timeline["cues"] if c["role"] == "countdown"]
    assert numbers == ["5", "4", "3", "2", "1"] * 6
    titles = [c["text"] for c in timeline["cues"] if c["role"] == "title"]
    assert titles == [
        "Seated hamstring stretch",
        "Standing hamstring stretch",
        "Lying hamstring stretch",
    ]
    last = timeline["cues"][-2:]
    assert [c["role"] for c in last] == ["closing", "finish"]
    assert max(abs(float(v)) for v in pcm[-int(0.5 * RATE) :]) / 32768 < SOUND
