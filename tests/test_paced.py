"""Live playback in real time: voice-coach plays into a private PulseAudio null sink
(see the ``paced_sink`` fixture) and we record the sink's monitor, so every check
here is on what a listener would hear, measured against the timeline.

Keys reach the player through a pseudo-terminal on its stdin; its ``--plain``
output (one line per cue as it sounds) tells us where it is. The recorder's
growing file tells us which recorded sample was sounding when a key was pressed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from live import LivePlayer, Recording, handed, private_pulseaudio, tee_to_files, zero_runs

from audio_analysis import (
    PROBE,
    as_float,
    assert_same_audio,
    joins,
    template_positions,
    without_waiting,
)
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
#: The same with simpleaudio (measured 0.3-0.4 s).
SIMPLEAUDIO_KEY_LATENCY = 0.5
#: How far either side a join between simpleaudio's buffers is looked for.
JOIN_REACH = 30 * MS
#: Only the noise floor plays this far either side of a join (segmented.py's guard).
JOIN_GUARD = 50 * MS


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


def key_latency(options: list[str]) -> float:
    """The longest a key may take to be heard: simpleaudio's buffers are filled
    0.3 s ahead of the device (segmented.AHEAD_SECONDS), PortAudio's 46 ms."""
    return SIMPLEAUDIO_KEY_LATENCY if options else KEY_LATENCY


def assert_heard(raw: np.ndarray, at: int, expected: np.ndarray, joined: bool) -> None:
    """``raw`` from ``at`` is ``expected``, sample for sample; with ``joined`` (the
    buffers of simpleaudio), but for joins where only the noise floor plays."""
    if not joined:
        assert np.array_equal(raw[at : at + len(expected)], expected)
        return
    found, matched = joins(raw, expected, 0, at, JOIN_REACH)
    # A join in the last moments cannot be followed past: it must be quiet too.
    ends = [m for m in (matched,) if m < len(expected)]
    assert not ends or ends[0] >= len(expected) - 2 * JOIN_REACH - PROBE, (matched, found)
    for join in [j for j, _ in found] + ends:
        around = expected[max(0, join - JOIN_GUARD) : join + JOIN_GUARD].astype(np.int32)
        assert int(np.abs(around).max()) <= FLOOR_PEAK, f"a join in the sound at {join}"


# --------------------------------------------------------------------------- tests


def sink_rate(ticks: list[tuple[float, int]]) -> float:
    """Samples a second of a sink's clock: the slope of the recorder's frame count
    against the computer's monotonic clock (least squares, over the whole play)."""
    seconds, frames = np.array(ticks, dtype=np.float64).T
    keep = frames > 0  # the monitor starts delivering once the player plays
    return float(np.polyfit(seconds[keep], frames[keep], 1)[0])


def chime_errors(raw: np.ndarray, script) -> tuple[list[float], int]:
    """Each chime's error against the timeline, in ms, relative to the first chime
    (found in the recording by its WAV), and where the timeline starts in ``raw``."""
    audio = as_float(raw)
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
    errors = [(h - offset - p) / MS for (h, _), (p, _) in zip(heard, planned, strict=True)]
    return errors, offset


def test_chimes_follow_the_timeline_over_five_minutes_on_both_backends(
    voice_coach_command, hamstrings_program, tmp_path
):
    """The whole routine in real time through PortAudio and through simpleaudio, at the
    same time (each on a private PulseAudio server of its own), so CI waits five
    minutes once. simpleaudio's device is also ALSA's file plugin, which writes all
    it is given to files, one per opening: the audio handed to the device, sample
    for sample. (From Python 3.12 on, where the extra leaves simpleaudio out,
    PortAudio alone.)"""
    script = hamstrings_program.script
    assert script.sample_rate == RATE
    rendered = hamstrings_program.mixer().render(0, script.length_samples)
    finish = next(c for c in script.cues if c.text == FINISH)
    backends = ["portaudio"] + (["simpleaudio"] if sys.version_info < (3, 12) else [])
    options = {"portaudio": [], "simpleaudio": ["--audio", "simpleaudio"]}
    captured = tmp_path / "simpleaudio-handed"
    with contextlib.ExitStack() as stack:
        sinks = {}
        for name in backends:
            (tmp_path / name).mkdir()
            sinks[name] = stack.enter_context(
                private_pulseaudio(tmp_path / name, rewinds=name == "portaudio")
            )
        recordings = {
            name: Recording(sinks[name], tmp_path / f"{name}-heard.raw") for name in backends
        }
        envs = {
            name: tee_to_files(sink, captured) if name == "simpleaudio" else sink.env
            for name, sink in sinks.items()
        }
        players = {
            name: LivePlayer(
                voice_coach_command,
                ["hamstrings", "--plain", *options[name]],
                envs[name],
                keyboard=False,
            )
            for name in backends
        }
        # Each sink's sample clock against the computer's, to see what the listener
        # hears in real time as well as in the sink's samples.
        ticks: dict[str, list[tuple[float, int]]] = {name: [] for name in recordings}
        deadline = time.monotonic() + script.duration + 90
        while time.monotonic() < deadline and any(
            player.process.poll() is None for player in players.values()
        ):
            for name, recording in recordings.items():
                ticks[name].append((time.monotonic(), recording.frames_so_far()))
            time.sleep(0.5)
        codes = {name: player.finish(timeout=10) for name, player in players.items()}
        raws = {name: recording.stop() for name, recording in recordings.items()}
    rates = {name: sink_rate(samples) for name, samples in ticks.items()}
    print(
        "sample clocks of the sinks against the computer's: "
        + ", ".join(f"{name} {(rate / RATE - 1) * 1e6:+.0f} ppm" for name, rate in rates.items())
    )
    for name, player in players.items():
        assert codes[name] == 0, player.stderr
        assert player.stderr == "", player.stderr

    # PortAudio: one stream, so the recording is the rendered routine, exactly.
    raw = raws["portaudio"]
    errors_ms, offset = chime_errors(raw, script)
    # No dropout: the timeline has its noise floor everywhere, so digital silence
    # through the finish chime would be a gap in the sound.
    gaps = zero_runs(raw, max(0, offset), offset + finish.end_sample, 5 * MS)
    assert not gaps, f"silent gaps in the playback at samples {gaps}"
    # (The monitor starts delivering only once the player plays, a little late.)
    skip = max(0, -offset)
    took = raw[offset + skip : offset + script.length_samples]
    differing = np.flatnonzero(took != rendered[skip : skip + len(took)]) + skip
    print(
        f"portaudio: recording vs rendered: {differing.size} of {len(took)} samples differ"
        + (f", from timeline sample {differing[0]}" if differing.size else "")
        + f" ({skip} not recorded); the routine is {script.length_samples} long"
    )
    # Everything up to the end of the finish chime is the rendered routine, exactly.
    assert differing.size == 0 or differing[0] >= finish.end_sample, differing[:10]
    print(f"portaudio: chime errors (ms, against the first): {[round(e, 2) for e in errors_ms]}")
    assert max(abs(e) for e in errors_ms) <= 30, errors_ms
    assert abs(errors_ms[-1]) <= 50, errors_ms

    if "simpleaudio" not in players:
        print("simpleaudio: not installed on Python 3.12 and later (see pyproject.toml)")
        return
    # simpleaudio: what it handed the device is the routine, sample for sample ...
    pcm, openings = handed(captured)
    print(f"simpleaudio: {openings} buffers handed to the device")
    assert_same_audio(without_waiting(pcm), rendered, RATE)
    # ... and what was heard is too, but for the joins between its buffers: each
    # where only the noise floor plays, a few milliseconds of silence or overlap.
    # simpleaudio cannot tell where the device is: its buffers start on the computer's
    # clock, so what is heard keeps to real time. The sink's sample clock runs fast
    # here (PulseAudio's null sink counts each block in whole microseconds), so in
    # the sink's samples each join is a little late and the chimes drift; the error
    # the listener hears is the chime's time against the timeline in real time.
    raw = raws["simpleaudio"]
    errors_ms, offset = chime_errors(raw, script)
    names = (HOLD_START, HOLD_END, LAST_SET, FINISH)
    starts = sorted(start for name in names for start in chime_starts(script, name))
    ratio = RATE / rates["simpleaudio"]
    real_ms = [
        (error * MS * ratio + (start - starts[0]) * (ratio - 1)) / MS
        for error, start in zip(errors_ms, starts, strict=True)
    ]
    print(f"simpleaudio: chime errors in sink samples (ms): {[round(e, 1) for e in errors_ms]}")
    print(f"simpleaudio: chime errors in real time (ms): {[round(e, 1) for e in real_ms]}")
    first = script.cues[0].start_sample
    found, matched = joins(raw, rendered, first, offset, JOIN_REACH)
    assert matched == script.length_samples or matched >= finish.end_sample, (matched, found)
    shifts_ms = [round(shift / MS, 1) for _, shift in found]
    print(
        f"simpleaudio: {len(found)} joins, at {[round(at / RATE, 2) for at, _ in found]} s; "
        f"gap (+) or overlap (-) in ms: {shifts_ms}"
    )
    assert len(found) >= script.length_samples // (30 * RATE)
    # Where the pre-roll ends the player may wait for the first step to be prepared:
    # a gap there is that wait (PortAudio plays digital silence meanwhile).
    found = [(at, shift) for at, shift in found if not (at == first and shift > 0)]
    for at, _ in found:
        around = rendered[at - JOIN_GUARD : at + JOIN_GUARD].astype(np.int32)
        assert int(np.abs(around).max()) <= FLOOR_PEAK, f"a join in the sound at {at / RATE} s"
    assert max(abs(shift) for _, shift in found) <= 20 * MS, shifts_ms
    assert max(abs(e) for e in real_ms) <= 30, real_ms


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


def test_pause_and_resume_keep_the_hold_exact(backend_sink, voice_coach_command, tmp_path):
    paced_sink, options = backend_sink
    hold_seconds = 12
    path = write_routine(tmp_path, PAUSE_ROUTINE.format(hold=hold_seconds))
    program = program_of(path)
    lead_in = lead_in_audio(program.clips, RATE)
    lead_in_pcm = np.rint(np.clip(lead_in, -1, 1) * 32767).astype(np.int16)
    leading_zeros = int(np.flatnonzero(lead_in_pcm)[0])

    recording = Recording(paced_sink, tmp_path / "pause.raw")
    player = LivePlayer(voice_coach_command, [str(path), "--plain", *options], paced_sink.env)
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
    # The keys were 2 s apart; the silence is that, less the pause's latency, plus the
    # resume's (each at most the key latency; simpleaudio's resume opens the device).
    assert abs(silence / RATE - 2.0) <= max(0.3, key_latency(options))
    # Measured 93-139 ms here (a 50 ms key poll, a 46 ms block, the device buffer).
    assert 0 <= latency <= key_latency(options)
    assert 0 <= resume_latency <= key_latency(options)


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


def test_next_and_previous_land_on_a_step_start(backend_sink, voice_coach_command, tmp_path):
    paced_sink, options = backend_sink
    path = write_routine(tmp_path, STEPS_ROUTINE)
    program = program_of(path)
    script = program.script
    first, second = script.steps
    recording = Recording(paced_sink, tmp_path / "steps.raw")
    player = LivePlayer(voice_coach_command, [str(path), "--plain", *options], paced_sink.env)
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
    assert 0 <= next_latency <= key_latency(options)
    assert 0 <= previous_latency <= key_latency(options)

    mixer = program.mixer()

    def heard(at: int, count: int, timeline_at: int) -> None:
        assert_heard(raw, at, mixer.render(timeline_at, count), joined=bool(options))

    # Up to the key, step 1 from its start; then step 2 from its very first sample,
    # until "p"; then step 1 again from its very first sample.
    heard(start_1, start_2 - start_1, first.start_sample)
    heard(start_2, again_1 - start_2, second.start_sample)
    heard(again_1, RATE, first.start_sample)  # a second of the repeat, well before "q"


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


def test_device_lost_mid_routine(backend_sink, voice_coach_command, tmp_path):
    paced_sink, options = backend_sink
    path = write_routine(tmp_path, PAUSE_ROUTINE.format(hold=20))
    player = LivePlayer(
        voice_coach_command, [str(path), "--plain", *options], paced_sink.env, keyboard=False
    )
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
