"""Live playback in real time: voice-coach plays into a private PulseAudio null sink
(see the ``paced_sink`` fixture) and we record the sink's monitor, so every check
here is on what a listener would hear, measured against the timeline.

Keys reach the player through a pseudo-terminal on its stdin; its ``--plain``
output (one line per cue as it sounds) tells us where it is. The recorder's
growing file tells us which recorded sample was sounding when a key was pressed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from live import LivePlayer, Recording, zero_runs

from audio_analysis import as_float, template_positions
from voice_coach.mixer import FLOOR_PEAK
from voice_coach.pipeline import prepare
from voice_coach.routine import load_routine
from voice_coach.script import CHIME, FINISH, HOLD_END, HOLD_START, LAST_SET, SPEECH, clock
from voice_coach.settings import Settings
from voice_coach.sounds import load_chimes
from voice_coach.transport import lead_in_audio

pytestmark = pytest.mark.live

RATE = 22050
MS = RATE // 1000
#: How well a chime in the recording must match its WAV (normalised correlation).
MATCH = 0.9
#: Longest a key may take to be heard, in seconds (measured 93-139 ms).
KEY_LATENCY = 0.25


# --------------------------------------------------------------------------- helpers


def program_of(path: str | Path, *, pan: bool = False):
    """The Program ``voice-coach play`` builds (same clips, from the session cache)."""
    return prepare(load_routine(path), Settings(pan=pan))


def write_routine(folder: Path, text: str) -> Path:
    path = folder / "routine.yaml"
    path.write_text(text)
    return path


def chime_starts(script, name: str) -> list[int]:
    return [c.start_sample for c in script.cues if c.kind == CHIME and c.text == name]


# --------------------------------------------------------------------------- tests


def test_chimes_follow_the_timeline_over_five_minutes(
    paced_sink, voice_coach_command, hamstrings_program, tmp_path
):
    script = hamstrings_program.script
    assert script.sample_rate == RATE
    recording = Recording(paced_sink, tmp_path / "hamstrings.raw")
    player = LivePlayer(
        voice_coach_command, ["hamstrings", "--plain"], paced_sink.env, keyboard=False
    )
    code = player.finish(timeout=script.duration + 90)
    raw = recording.stop()
    audio = as_float(raw)
    assert code == 0, player.stderr
    chimes = load_chimes(RATE)
    found = {
        name: template_positions(audio, chimes[name], MATCH)
        for name in (HOLD_START, HOLD_END, LAST_SET, FINISH)
    }
    expected = {name: chime_starts(script, name) for name in found}
    assert {n: len(p) for n, p in found.items()} == {n: len(p) for n, p in expected.items()}
    # The routine's last hold starts with the "last set" sound.
    assert [len(expected[n]) for n in (HOLD_START, HOLD_END, LAST_SET, FINISH)] == [5, 6, 1, 1]
    heard = sorted((p, n) for n, positions in found.items() for p in positions)
    planned = sorted((p, n) for n, positions in expected.items() for p in positions)
    assert [n for _, n in heard] == [n for _, n in planned], "chimes in the wrong order"
    offset = heard[0][0] - planned[0][0]
    # No dropout: the timeline has its noise floor everywhere, so digital silence
    # through the finish chime would be a gap in the sound.
    finish = next(c for c in script.cues if c.text == FINISH)
    gaps = zero_runs(raw, max(0, offset), offset + finish.end_sample, 5 * MS)
    assert not gaps, f"silent gaps in the playback at samples {gaps}"
    # For the report: is the recording the rendered routine, to the sample?
    # (The monitor starts delivering only once the player plays, a little late.)
    rendered = hamstrings_program.mixer().render(0, script.length_samples)
    skip = max(0, -offset)
    took = raw[offset + skip : offset + script.length_samples]
    differing = np.flatnonzero(took != rendered[skip : skip + len(took)]) + skip
    print(
        f"recording vs rendered: {differing.size} of {len(took)} samples differ"
        + (f", from timeline sample {differing[0]}" if differing.size else "")
        + f" ({skip} not recorded); the routine is {script.length_samples} long"
    )
    # Everything up to the end of the finish chime is the rendered routine, exactly.
    assert differing.size == 0 or differing[0] >= finish.end_sample, differing[:10]
    errors_ms = [(h - offset - p) / MS for (h, _), (p, _) in zip(heard, planned, strict=True)]
    print(f"chime errors (ms, relative to the first): {[round(e, 2) for e in errors_ms]}")
    assert max(abs(e) for e in errors_ms) <= 30, errors_ms
    assert abs(errors_ms[-1]) <= 50, errors_ms


PAUSE_ROUTINE = """\
name: Pause test
steps:
  - name: Wall stretch
    instructions: Lean on the wall.
    sides: none
    hold: {hold}
    prep: 1
    countdown: 3
    halfway: false
"""


def test_pause_and_resume_keep_the_hold_exact(paced_sink, voice_coach_command, tmp_path):
    hold_seconds = 12
    path = write_routine(tmp_path, PAUSE_ROUTINE.format(hold=hold_seconds))
    program = program_of(path)
    lead_in = lead_in_audio(program.clips, RATE)
    lead_in_pcm = np.rint(np.clip(lead_in, -1, 1) * 32767).astype(np.int16)
    leading_zeros = int(np.flatnonzero(lead_in_pcm)[0])

    recording = Recording(paced_sink, tmp_path / "pause.raw")
    player = LivePlayer(voice_coach_command, [str(path), "--plain"], paced_sink.env)
    try:
        player.wait_for(r"\[hold-start chime\]")
        time.sleep(3)
        pressed_at = recording.frames_so_far()
        player.press(b" ")
        player.wait_for(r"^\(paused\)$", timeout=5)
        time.sleep(2 - 0.05)
        resumed_at = recording.frames_so_far()
        player.press(b" ")
        player.wait_for(r"^\(resumed\)$", timeout=5)
        player.wait_for(r"\[hold-end chime\]", timeout=hold_seconds + 10)
        time.sleep(1)
    finally:
        player.press(b"q")
        code = player.finish(timeout=10)
    raw = recording.stop()
    assert code == 0, player.stderr

    audio = as_float(raw)
    chimes = load_chimes(RATE)
    (start,) = template_positions(audio, chimes[HOLD_START], MATCH)
    (end,) = template_positions(audio, chimes[HOLD_END], MATCH)
    runs = zero_runs(raw, start, end, MS)  # the pause, then the lead-in's own gaps
    assert runs, "no digital silence between the chimes: the pause was not heard"
    pause_first, pause_stop = runs[0]
    assert pause_first > start + len(chimes[HOLD_START])
    silence = pause_stop - pause_first - leading_zeros
    lead_in_at = pause_first + silence
    lead_in_end = lead_in_at + len(lead_in_pcm)
    # Right after the silence comes the lead-in, sample for sample, and no other
    # digital silence (a dropout) anywhere in the hold.
    assert np.array_equal(raw[lead_in_at:lead_in_end], lead_in_pcm)
    assert all(pause_first <= a and b <= lead_in_end for a, b in runs), runs
    # Around the pause, the hold itself: the timeline from the start chime on, and
    # up to the end chime, with nothing lost or repeated.
    (hold,) = program.script.holds
    mixer = program.mixer()
    before, after = pause_first - start, end - lead_in_end
    assert np.array_equal(raw[start:pause_first], mixer.render(hold.start_sample, before))
    assert np.array_equal(raw[lead_in_end:end], mixer.render(hold.end_sample - after, after))
    content = (end - start) - silence - len(lead_in_pcm)
    latency = (pause_first - pressed_at) / RATE
    resume_latency = (pause_stop - leading_zeros - resumed_at) / RATE
    print(
        f"hold content {content} samples (want {hold_seconds * RATE}, "
        f"error {(content - hold_seconds * RATE) / MS:+.2f} ms); silence {silence / RATE:.3f} s; "
        f"pause heard {latency * 1000:.0f} ms after the key, resume {resume_latency * 1000:.0f} ms"
    )
    assert abs(content - hold_seconds * RATE) <= 22
    assert abs(silence / RATE - 2.0) <= 0.3
    # Measured 93-139 ms here (a 50 ms key poll, a 46 ms block, the device buffer).
    assert 0 <= latency <= KEY_LATENCY
    assert 0 <= resume_latency <= KEY_LATENCY


STEPS_ROUTINE = """\
name: Two steps
defaults:
  sides: none
  hold: 3
  prep: 1
  countdown: 2
  halfway: false
steps:
  - name: Neck roll
    instructions: >-
      Let your chin drop to your chest, then roll your head slowly from one
      shoulder to the other and back again, keeping your shoulders low and soft.
  - name: Shoulder shrug
    instructions: Lift both shoulders up to your ears, then let them drop.
"""


def test_next_and_previous_land_on_a_step_start(paced_sink, voice_coach_command, tmp_path):
    path = write_routine(tmp_path, STEPS_ROUTINE)
    program = program_of(path)
    script = program.script
    first, second = script.steps
    recording = Recording(paced_sink, tmp_path / "steps.raw")
    player = LivePlayer(voice_coach_command, [str(path), "--plain"], paced_sink.env)
    try:
        player.wait_for(r"Let your chin drop")
        time.sleep(1.0)
        next_at = recording.frames_so_far()
        player.press(b"n")
        player.wait_for(r"^\(to step 2\)$", timeout=5)
        after_next = player.wait_for(r".", timeout=5)[1]
        time.sleep(1.5)
        previous_at = recording.frames_so_far()
        player.press(b"p")
        player.wait_for(r"^\(to step 1\)$", timeout=5)
        after_previous = player.wait_for(r".", timeout=5)[1]
        time.sleep(1.5)
    finally:
        player.press(b"q")
        code = player.finish(timeout=10)
    raw = recording.stop()
    assert code == 0, player.stderr
    # The plain view goes on from the jump's target: the step's title, and no
    # line for the cues that were skipped.
    assert after_next == f"{clock(second.start_sample / RATE)} {second.name}", player.seen
    assert after_previous == f"{clock(first.start_sample / RATE)} {first.name}", player.seen

    audio = as_float(raw)
    title = {s.step: program.clips[(SPEECH, s.name)] for s in script.steps}
    first_titles = template_positions(audio, title[0], MATCH)
    second_titles = template_positions(audio, title[1], MATCH)
    assert len(first_titles) == 2, first_titles
    assert len(second_titles) == 1, second_titles
    (start_1, again_1), (start_2,) = first_titles, second_titles
    assert start_1 < next_at < start_2 < previous_at < again_1
    next_latency = (start_2 - next_at) / RATE
    previous_latency = (again_1 - previous_at) / RATE
    print(
        f"next heard after {next_latency * 1000:.0f} ms, "
        f"previous after {previous_latency * 1000:.0f} ms"
    )
    assert 0 <= next_latency <= KEY_LATENCY
    assert 0 <= previous_latency <= KEY_LATENCY

    mixer = program.mixer()

    def timeline(at: int, count: int) -> np.ndarray:
        return mixer.render(at, count)

    # Up to the key, step 1 from its start; then step 2 from its very first sample,
    # until "p"; then step 1 again from its very first sample.
    assert np.array_equal(raw[start_1:start_2], timeline(first.start_sample, start_2 - start_1))
    assert np.array_equal(raw[start_2:again_1], timeline(second.start_sample, again_1 - start_2))
    second_go = RATE  # a second of the repeat, well before "q"
    assert np.array_equal(
        raw[again_1 : again_1 + second_go], timeline(first.start_sample, second_go)
    )


PAN_ROUTINE = """\
name: Pan test
steps:
  - name: Calf stretch
    instructions: Step back and press the heel down.
    sides: each
    limb: leg
    hold: 4
    prep: 1
    rest: 1
    countdown: 3
    halfway: false
"""


def test_pan_puts_sides_in_their_ears(paced_sink, voice_coach_command, tmp_path):
    path = write_routine(tmp_path, PAN_ROUTINE)
    program = program_of(path, pan=True)
    script = program.script
    recording = Recording(paced_sink, tmp_path / "pan.raw", channels=2)
    player = LivePlayer(voice_coach_command, [str(path), "--plain", "--pan"], paced_sink.env)
    try:
        player.wait_for(r"And release\.$", timeout=60)
        time.sleep(0.5)
    finally:
        player.press(b"q")
        code = player.finish(timeout=10)
    raw = recording.stop()
    assert code == 0, player.stderr

    audio = as_float(raw)
    chime = load_chimes(RATE)[HOLD_START]
    left_hold, right_hold = script.holds
    assert (left_hold.side, right_hold.side) == ("left", "right")
    in_left = template_positions(audio[:, 0], chime, MATCH)
    # The routine's last hold starts with the "last set" sound.
    in_right = template_positions(audio[:, 1], load_chimes(RATE)[LAST_SET], MATCH)
    assert len(in_left) == 1 and len(in_right) == 1, (in_left, in_right)
    offset = in_left[0] - left_hold.start_sample
    assert in_right[0] - offset == right_hold.start_sample

    # Everything heard, from the first word to the release, is the panned timeline.
    begin = script.cues[0].start_sample
    stop = next(c for c in script.cues if c.role == "release").start_sample
    heard = raw[offset + begin : offset + stop]
    want = program.mixer().render(begin, stop - begin)
    assert np.array_equal(heard, want)
    end_chime = load_chimes(RATE)[HOLD_END]
    for hold, ear, other in ((left_hold, 0, 1), (right_hold, 1, 0)):
        span = audio[offset + hold.start_sample : offset + hold.end_sample + len(end_chime)]
        loud, quiet = np.abs(span[:, ear]).max(), np.abs(span[:, other]).max()
        print(
            f"{hold.side} hold: own ear peak {loud:.3f}, other ear peak {quiet * 32768:.0f}/32768"
        )
        assert loud > 0.1, f"the {hold.side} hold is not heard in its own ear"
        assert quiet <= FLOOR_PEAK / 32768, f"the {hold.side} hold leaks into the other ear"
    title = script.cues[0]
    both = raw[offset + title.start_sample : offset + title.end_sample]
    assert np.array_equal(both[:, 0], both[:, 1]), "the step's title is not in both ears"
    assert np.abs(as_float(both)).max() > 0.1


def pulseaudio_pid(sink) -> int:
    """The pid of the private server: the pulseaudio process whose HOME is the sink's."""
    home = sink.env["HOME"].encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "pulseaudio":
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"HOME=" + home in environ:
            return int(entry.name)
    raise AssertionError("the private pulseaudio server is not running")


def test_device_lost_mid_routine(paced_sink, voice_coach_command, tmp_path):
    path = write_routine(tmp_path, PAUSE_ROUTINE.format(hold=20))
    player = LivePlayer(voice_coach_command, [str(path), "--plain"], paced_sink.env, keyboard=False)
    player.wait_for(r"Wall stretch", timeout=60)
    time.sleep(2)
    os.kill(pulseaudio_pid(paced_sink), signal.SIGKILL)  # the device goes away
    lost = time.monotonic()
    try:
        code = player.finish(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"voice-coach still running 10 s after the sound server died: {player.seen}")
    took = time.monotonic() - lost
    print(f"exit {code} {took:.2f} s after the server died; stderr {player.stderr!r}")
    assert code == 1, player.stderr
    assert took < 3
    assert player.stderr.splitlines() == [
        "voice-coach: the sound device stopped in the middle of the routine; "
        "check the output device and start again"
    ]
