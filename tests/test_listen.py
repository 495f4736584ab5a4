"""Spoken commands (``play --listen``): the echo gating rule on a made-up timeline, the
keyword spotter on synthesised commands and on a routine's own words, and the whole
path for real: a PulseAudio null sink's monitor is the microphone, the player's
output comes back into it (open speakers), and commands said into it act on the
player's recorded output.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
from live import LivePlayer, Recording, Room
from microphone import at_level, microphone_pcm, played_blocks, routine_echo, spot

from audio_analysis import as_float, template_positions
from voice_coach.audiofile import resample
from voice_coach.echo import (
    ECHO_MARGIN_SECONDS,
    is_echo,
    output_time,
    overlaps_own_speech,
    own_speech_spans,
)
from voice_coach.listen import FEED_SAMPLES, SPOTTER_RATE, KeywordSpotter
from voice_coach.phrases import ENGLISH
from voice_coach.pipeline import level_gains, prepare
from voice_coach.routine import load_routine
from voice_coach.script import SPEECH
from voice_coach.speech import Speaker
from voice_coach.transport import Block, Transport

GOLDEN = Path(__file__).parent / "golden"

# --------------------------------------------------------------------------- the gating rule

RATE = 1000  # a made-up output rate: one sample a millisecond


@dataclass(frozen=True)
class FakeCue:
    start_sample: int
    end_sample: int
    kind: str = SPEECH


@dataclass(frozen=True)
class FakeScript:
    cues: tuple


#: The coach speaks at timeline 200-400 and 900-1100 ms; a chime at 600-700 is no voice.
SCRIPT = FakeScript((FakeCue(200, 400), FakeCue(600, 700, "chime"), FakeCue(900, 1100)))
#: What the output held: timeline 0-1000, the lead-in (inserted), silence while paused,
#: then timeline 1000-2000 again after a jump back.
BLOCKS = [
    Block(0, 1000, 0),
    Block(1000, 500, None, inserted=True),
    Block(1500, 1000, None),
    Block(2500, 1000, 1000),
]
#: The DAC clock: output sample 0 sounded at 50 s; the device then ran 100 ms late.
CLOCK = [(50.0, 0), (52.6, 2500)]


def test_output_time_follows_the_last_clock_point():
    assert output_time(0, CLOCK, RATE) == 50.0
    assert output_time(1234, CLOCK, RATE) == pytest.approx(51.234)
    assert output_time(2600, CLOCK, RATE) == pytest.approx(52.7)


def test_own_speech_is_the_speech_cues_and_the_inserted_voice_on_the_output_clock():
    speech_cues = [(200, 400), (900, 1100)]
    spans = own_speech_spans(BLOCKS, speech_cues, CLOCK, RATE)
    assert spans == [
        pytest.approx((50.2, 50.4)),
        # The cue reaches the block's end, where the lead-in follows at once.
        pytest.approx((50.9, 51.5)),
        # After the jump, the rest of the second cue (timeline 1000-1100).
        pytest.approx((52.6, 52.7)),
    ]


def test_overlap_counts_the_margin_on_both_sides():
    own = [(10.0, 11.0)]
    margin = 0.3
    assert overlaps_own_speech(10.5, 10.6, own, margin)
    assert overlaps_own_speech(11.2, 12.0, own, margin)  # starts in the margin after
    assert overlaps_own_speech(9.0, 9.8, own, margin)  # ends in the margin before
    assert not overlaps_own_speech(11.4, 12.0, own, margin)
    assert not overlaps_own_speech(8.0, 9.6, own, margin)


@pytest.mark.parametrize(
    ("start", "end", "echo"),
    [
        (50.25, 50.35, True),  # while the coach speaks
        (50.45, 50.85, True),  # between two cues, closer than the margin to both
        (51.9, 52.2, False),  # in the pause: only silence was playing
        (51.0, 51.2, True),  # during the lead-in ("Resuming.")
        (50.5, 50.6, True),  # 100 ms after a cue: its echo may still ring
        (53.1, 53.3, False),  # after the jump, the timeline past the cue
        (49.5, 49.9, True),  # before the oldest block: unknown, so not trusted
    ],
)
def test_is_echo_on_fake_detections(start, end, echo):
    assert ECHO_MARGIN_SECONDS == 0.3  # the cases are placed for this margin
    assert is_echo(start, end, BLOCKS, SCRIPT, CLOCK, RATE) is echo


def test_is_echo_with_nothing_played_yet():
    assert is_echo(1.0, 2.0, [], SCRIPT, CLOCK, RATE)
    assert is_echo(1.0, 2.0, BLOCKS, SCRIPT, [], RATE)


# --------------------------------------------------------------------------- the spotter

#: Commands and routines at the microphone: speech at this RMS (over light noise).
SPEECH_DBFS = -25
ESPEAK = "pyttsx3"


def spoken(text: str) -> np.ndarray:
    """``text`` said by eSpeak NG, at 16 kHz and the commands' level."""
    speaker = Speaker(engine=ESPEAK)
    return at_level(resample(speaker.clip(text), speaker.sample_rate, SPOTTER_RATE), SPEECH_DBFS)


@pytest.mark.slow
@pytest.mark.parametrize("comma", [False, True], ids=["run-together", "with-a-pause"])
def test_spotter_names_each_command(comma):
    spotter = KeywordSpotter()
    quiet = np.zeros(SPOTTER_RATE)
    said = []
    for word in ("pause", "resume", "next", "back", "repeat"):
        said.append((word, spoken(f"Coach, {word}." if comma else f"Coach {word}.")))
    audio = np.concatenate([part for _, clip in said for part in (quiet, clip)] + [quiet])
    found = spot(microphone_pcm(audio), spotter)
    assert [d.word for d in found] == [word for word, _ in said]
    assert [d.command for d in found] == ["pause-only", "resume", "next", "previous", "repeat"]
    # Each is found where it was said, soon after its end.
    at = 0
    for detection, (_, clip) in zip(found, said, strict=True):
        at += len(quiet)
        assert at - 0.3 * SPOTTER_RATE <= detection.start_sample <= at + 0.2 * SPOTTER_RATE
        # The voice activity detector ends speech a little late, never early.
        late = (detection.end_sample - (at + len(clip))) / SPOTTER_RATE
        delay = (detection.found_at_sample - (at + len(clip))) / SPOTTER_RATE
        print(
            f"{detection.word}: speech ends {late * 1000:+.0f} ms, found {delay * 1000:.0f} ms late"
        )
        assert -0.05 <= late <= 0.25
        assert 0 <= delay <= 0.3
        at += len(clip)


def test_spotter_hears_a_command_over_digital_silence():
    """A paused player sends exact zeros back to the microphone: the command after
    them is still heard (the spotter dithers)."""
    silence = np.zeros(2 * SPOTTER_RATE, dtype=np.int16)
    command = np.rint(spoken("Coach resume.") * 32767).astype(np.int16)
    found = spot(np.concatenate([silence, command, silence]))
    assert [d.word for d in found] == ["resume"]


def test_spotter_hears_a_command_when_a_faint_noise_follows_digital_silence():
    """Recorded from the room of the test below: the end of a resume's lead-in,
    "1", over the exact zeros of a paused player's echo; the routine's faint noise
    floor coming back; then "Coach, pause.". The voice activity detector, adapted
    to the zeros, took that noise for speech that never ended and missed the
    command, until it was given a dither to hear under the sound."""
    pcm, rate = soundfile.read(GOLDEN / "listen-after-resume.flac", dtype="int16")
    assert rate == SPOTTER_RATE
    second = SPOTTER_RATE
    assert not pcm[second // 2 : second * 9 // 10].any()  # the zeros
    assert pcm[2 * second : 2 * second + 1600].any()  # the noise floor
    assert [d.word for d in spot(pcm)] == ["pause"]


def test_the_lead_is_the_latest_sound_after_an_utterance():
    """An utterance is heard from a little before its start: those pieces are the
    latest ones, never a stale start of the utterance before it."""
    spotter = KeywordSpotter()
    quiet = np.zeros(SPOTTER_RATE // 2)
    sound = microphone_pcm(np.concatenate([quiet, spoken("Lie on your back."), quiet]))
    spot(sound, spotter)
    whole = len(sound) - len(sound) % FEED_SAMPLES
    pieces = [sound[at : at + FEED_SAMPLES].tobytes() for at in range(0, whole, FEED_SAMPLES)]
    assert list(spotter._lead) == pieces[-spotter._lead.maxlen :]


@pytest.mark.slow
def test_long_talk_with_command_words_is_no_command():
    """Someone talking (no quiet before the words) gives nothing, though the words
    are there. (Talk that starts with a command, "Coach, pause the music", is a
    command, as with any voice assistant.)"""
    talk = spoken(
        "I asked my coach to pause the music and go back to the next one, then repeat "
        "it, and resume when the coach is back."
    )
    quiet = np.zeros(SPOTTER_RATE)
    assert spot(microphone_pcm(np.concatenate([quiet, talk, quiet]))) == []


#: A routine whose words are full of the commands' words.
ECHO_ROUTINE = """\
name: Echo test
defaults: {sides: none, prep: 1, countdown: 2, halfway: false}
steps:
  - name: Upper back stretch
    instructions: >-
      Lie down on your back. Pause if you need to, then go back to the start.
    hold: 8
  - name: Next, repeat it
    instructions: Coach, pause. Coach, next. Resume when you are ready.
    hold: 4
"""


@pytest.mark.slow
def test_the_coachs_own_words_never_give_a_command_but_the_listener_does(tmp_path):
    """The routine, rendered and played back into the microphone with a 30 ms echo
    delay, gated as the player gates it; "Coach, next." said in the first hold is
    the one command heard."""
    path = tmp_path / "echo.yaml"
    path.write_text(ECHO_ROUTINE)
    program = prepare(load_routine(path), speaker=Speaker(engine=ESPEAK))
    script = program.script
    audio = routine_echo(program, SPEECH_DBFS, delay_seconds=0.03)
    hold = script.holds[0]
    said_at = round((hold.start_sample / script.sample_rate + 3.0) * SPOTTER_RATE)
    command = spoken("Coach, next.")
    audio[said_at : said_at + len(command)] += command

    found = spot(microphone_pcm(audio, seed=1))
    blocks = played_blocks(script)
    # The output clock starts at 0 s, as the microphone's does here.
    clock = [(0.0, 0)]
    kept = [
        d
        for d in found
        if not is_echo(
            d.start_sample / SPOTTER_RATE,
            d.end_sample / SPOTTER_RATE,
            blocks,
            script,
            clock,
            script.sample_rate,
        )
    ]
    print(f"{len(found)} found, {len(kept)} kept: {[(d.word, d.start_sample) for d in found]}")
    assert [d.word for d in kept] == ["next"]
    assert abs(kept[0].start_sample - said_at) <= 0.3 * SPOTTER_RATE


# --------------------------------------------------------------------------- confirmations


def test_a_confirmation_is_heard_while_paused_and_marked_as_the_players_voice(
    hamstrings_program,
):
    transport = Transport(hamstrings_program)
    transport.fill(2000)
    assert transport.pause() == "paused"
    word = np.linspace(-0.5, 0.5, 1500, dtype=np.float32)
    transport.announce(word)
    out = transport.fill(4000)[:, 0]
    expected = np.rint(word * 32767).astype(np.int16)
    assert np.array_equal(out[:1500], expected)
    assert not out[1500:].any()  # then the pause's silence
    assert transport.position == 2000  # the timeline did not move
    inserted = [b for b in transport.blocks if b.inserted]
    assert sum(b.frames for b in inserted) == 1500 and all(b.position is None for b in inserted)


def test_a_confirmation_does_not_talk_over_the_lead_in(hamstrings_program):
    transport = Transport(hamstrings_program)
    transport.fill(2000)
    transport.pause()
    transport.resume()  # queues "Resuming." 3, 2, 1
    transport.announce(np.full(1500, 0.5, dtype=np.float32))
    lead_in = transport._lead_in  # the audio the resume queued
    out = transport.fill(len(lead_in))[:, 0]
    assert np.array_equal(out, np.rint(np.clip(lead_in, -1, 1) * 32767).astype(np.int16))


def test_confirmation_words_in_every_language():
    from voice_coach.phrases import LANGUAGES, phrases_for

    for language in LANGUAGES:
        heard = phrases_for(language).heard
        assert set(heard) == {"pause", "next", "back", "repeat"}, language
        assert all(text.endswith(".") and len(text) <= 20 for text in heard.values())
    assert ENGLISH.heard["pause"] == "Paused."


# --------------------------------------------------------------------------- for real

LIVE_ROUTINE = """\
name: Listen test
defaults: {sides: none, prep: 1, countdown: 2, halfway: false}
steps:
  - name: Neck roll
    hold: 10
  - name: Shoulder shrug
    hold: 10
"""
OUTPUT_RATE = 22050
#: Longest a confirmation may take to be heard after the end of a command, in
#: seconds: the issue's 300 ms, plus the 30 ms that placing the end can be off by.
CONFIRMATION_LATENCY = 0.33


def pcm_of(clip: np.ndarray, gain: float) -> np.ndarray:
    return np.rint(np.clip(clip * gain, -1, 1) * 32767).astype(np.int16)


def found_exactly(recording: np.ndarray, pcm: np.ndarray, after: int) -> int:
    """Where ``pcm`` sounds, sample for sample, in ``recording`` after sample ``after``."""
    at = [
        p
        for p in template_positions(as_float(recording[after:]), as_float(pcm), 0.99)
        if np.array_equal(recording[after + p : after + p + len(pcm)], pcm)
    ]
    assert len(at) == 1, at
    return after + at[0]


def test_spoken_commands_through_open_speakers(paced_sink, voice_coach_command, tmp_path):
    """Said into the microphone while the routine plays back into it: "coach next"
    lands on the next step after "Next.", "coach pause" says "Paused." and stops the
    samples; both confirmations start within 300 ms of the end of the command."""
    path = tmp_path / "listen.yaml"
    path.write_text(LIVE_ROUTINE)
    routine = load_routine(path)
    speaker = Speaker(engine=ESPEAK)
    program = prepare(routine, speaker=speaker)  # the player finds these clips in the cache
    gain = level_gains(routine)[1]
    confirm = {word: pcm_of(speaker.clip(ENGLISH.heard[word]), gain) for word in ("next", "pause")}
    commands = {word: spoken(f"Coach, {word}.") for word in ("next", "pause")}
    room = Room(paced_sink)
    output = Recording(paced_sink, tmp_path / "output.raw")
    player = LivePlayer(
        voice_coach_command,
        [str(path), "--listen", "--plain", "--engine", ESPEAK],
        paced_sink.env,
    )
    ended = {}
    try:
        player.wait_for(r"\[hold-start chime\]")
        time.sleep(1.5)  # into the hold: the coach is quiet
        room.say(commands["next"])
        ended["next"] = output.frames_so_far()
        player.wait_for(r'\(heard "coach next"\)', timeout=5)
        player.wait_for(r"\(to step 2\)", timeout=5)
        player.wait_for(r"\[last-set chime\]", timeout=15)  # the last hold starts
        time.sleep(1.5)
        room.say(commands["pause"])
        ended["pause"] = output.frames_so_far()
        player.wait_for(r'\(heard "coach pause"\)', timeout=5)
        player.wait_for(r"\(paused\)", timeout=5)
        time.sleep(2.5)
    finally:
        player.press(b"q")
        code = player.finish(timeout=15)
        recording = output.stop()
    assert code == 0, player.stderr
    assert sum("heard" in line for line in player.seen) == 2, player.seen  # no echo obeyed

    latency = {}
    for word in ("next", "pause"):
        heard_at = found_exactly(recording, confirm[word], ended[word] - OUTPUT_RATE)
        latency[word] = (heard_at - ended[word]) / OUTPUT_RATE
    print(f"confirmation heard after the end of the command: {latency}")
    for word in ("next", "pause"):
        assert 0 < latency[word] <= CONFIRMATION_LATENCY, latency

    # "Next." then step 2 from its very first sample.
    second = program.script.steps[1]
    after_next = found_exactly(recording, confirm["next"], ended["next"]) + len(confirm["next"])
    step_two = program.mixer().render(second.start_sample, OUTPUT_RATE)
    assert np.array_equal(recording[after_next : after_next + OUTPUT_RATE], step_two)
    # "Paused." then digital silence until the end.
    after_pause = found_exactly(recording, confirm["pause"], ended["pause"]) + len(confirm["pause"])
    assert len(recording) - after_pause > 2 * OUTPUT_RATE
    assert not recording[after_pause : after_pause + 2 * OUTPUT_RATE].any()


# --------------------------------------------------------------------------- failures

NO_MICROPHONE_ALSA = """\
pcm.!default {{
  type asym
  playback.pcm {{ type file slave.pcm "null" file "{capture}" format "raw" }}
  capture.pcm {{ type hw card 97 }}
}}
"""


@pytest.mark.live
def test_listen_without_a_microphone_is_one_line(voice_coach_command, tmp_path):
    """The sound plays (ALSA's file device) but the default input is a card that does
    not exist: one line naming the microphone, exit code 1."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(NO_MICROPHONE_ALSA.format(capture=tmp_path / "out.raw"))
    result = subprocess.run(
        [voice_coach_command, "play", "hamstrings", "--listen", "--plain"],
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "no microphone" in lines[0], lines
    assert "Traceback" not in result.stderr and "ALSA lib" not in result.stderr


def test_listen_without_pocketsphinx_is_one_line(monkeypatch):
    """Without the listen extra, `play --listen` says how to install it before anything
    plays."""
    import importlib.util

    from click.testing import CliRunner

    from voice_coach.cli import cli

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "pocketsphinx" else real_find_spec(name, *rest),
    )
    result = CliRunner().invoke(cli, ["play", "hamstrings", "--listen"], prog_name="voice-coach")
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith(
        "voice-coach: spoken commands need pocketsphinx; install it with "
        "`python -m pip install 'voice-coach[listen]'`"
    )


class FakeMicrophone:
    def __init__(self) -> None:
        self.active = True
        self.closed = False

    def abort(self) -> None:
        self.active = False

    def close(self) -> None:
        self.closed = True


def listener_with(microphone: FakeMicrophone):
    from voice_coach.listen import Listener

    opened = []

    def open_microphone(rate, block_samples, callback):
        opened.append(callback)
        return microphone

    listener = Listener(None, None, open_microphone, None, None)
    return listener, opened


def notices_within(listener, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    notices: list[str] = []
    while time.monotonic() < deadline and not notices:
        time.sleep(0.05)
        notices = listener.notices()
    return notices


def test_a_listener_that_cannot_start_stops_the_microphone(monkeypatch):
    """A spotter that fails to start is one notice; the microphone is stopped, and
    what it still sends is dropped rather than queued for ever."""
    import voice_coach.listen as listen

    def broken():
        raise RuntimeError("Failed to initialize decoder")

    monkeypatch.setattr(listen, "KeywordSpotter", broken)
    microphone = FakeMicrophone()
    listener, opened = listener_with(microphone)
    listener.start()
    notices = notices_within(listener, 5)
    assert notices == ["spoken commands are not available: Failed to initialize decoder"]
    assert not microphone.active and microphone.closed
    opened[0](np.zeros(FEED_SAMPLES, dtype=np.int16), 0.0)
    assert listener._sound.empty()
    listener.close()


def test_a_microphone_that_stops_is_one_notice(monkeypatch):
    """Unplugged mid-routine, the microphone sends nothing and stops running: the view
    is told that spoken commands stopped."""
    from voice_coach.listen import Listener

    monkeypatch.setattr(Listener, "_prepare_confirmations", lambda self: None)
    microphone = FakeMicrophone()
    listener, _ = listener_with(microphone)
    listener.start()
    microphone.active = False  # gone, without a word from PortAudio
    notices = notices_within(listener, 5)
    assert notices == ["spoken commands stopped: the microphone stopped"]
    assert microphone.closed
    listener.close()
