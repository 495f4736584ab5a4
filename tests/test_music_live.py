"""`play --music` in real time on the private PulseAudio null sink: the chimes follow the
timeline as without music, and what is heard is the rendered mix, music and all, to the
sample (the export renders the same).

The sink does not rewind: the music sounds from the routine's first sample, and a rewinding
sink's monitor keeps its first rendering (silence) of the moment before the stream came in
(CI saw the first 4 to 181 recorded samples differ so, by how far ahead the sink had mixed);
a card plays the second rendering, which norewinds records.
"""

from __future__ import annotations

import numpy as np
import pytest
from live import LivePlayer, Recording, private_pulseaudio
from music_fixtures import chord, write_music

from audio_analysis import as_float, template_positions
from voice_coach.pipeline import prepare
from voice_coach.routine import load_routine
from voice_coach.script import CHIME
from voice_coach.settings import Settings
from voice_coach.sounds import load_chimes

pytestmark = pytest.mark.live

RATE = 22050
MS = RATE // 1000

ROUTINE = """\
name: Music live
defaults:
  sides: each
  hold: 8
  prep: 1
  rest: 2
  switch: 2
  countdown: 3
  halfway: false
steps:
  - name: Calf stretch
    instructions: Step back and press the heel down.
  - name: Quad stretch
    instructions: Hold your ankle behind you.
"""


@pytest.fixture
def unrewound_sink(tmp_path):
    """A private PulseAudio null sink whose monitor records exactly what was played."""
    with private_pulseaudio(tmp_path, rewinds=False) as sink:
        yield sink


def test_music_plays_live_without_drift_and_as_rendered(
    unrewound_sink, voice_coach_command, tmp_path
):
    music = write_music(tmp_path / "chord.mp3", chord(9.0))
    path = tmp_path / "routine.yaml"
    path.write_text(ROUTINE)
    program = prepare(load_routine(path), Settings(music=(str(music),)))
    script = program.script
    recording = Recording(unrewound_sink, tmp_path / "music.raw")
    player = LivePlayer(
        voice_coach_command, [str(path), "--plain", "--music", str(music)], unrewound_sink.env,
        keyboard=False,
    )  # fmt: skip
    code = player.finish(timeout=script.duration + 60)
    raw = recording.stop()
    assert code == 0, player.stderr
    audio = as_float(raw)
    chimes = load_chimes(RATE)
    planned = sorted((c.start_sample, c.text) for c in script.cues if c.kind == CHIME)
    heard = sorted(
        (position, name)
        for name in {name for _, name in planned}
        for position in template_positions(audio, chimes[name], 0.9)
    )
    assert [n for _, n in heard] == [n for _, n in planned], (heard, planned)
    offset = heard[0][0] - planned[0][0]
    errors_ms = [(h - offset - p) / MS for (h, _), (p, _) in zip(heard, planned, strict=True)]
    print(f"chime errors with music (ms, relative to the first): {errors_ms}")
    assert max(abs(e) for e in errors_ms) <= 30, errors_ms
    # What was heard is the rendered mix, music and all, up to the finishing sound.
    rendered = program.mixer().render(0, script.length_samples)
    skip = max(0, -offset)
    finish = max(c.end_sample for c in script.cues)
    took = raw[offset + skip : offset + finish]
    differing = np.flatnonzero(took != rendered[skip : skip + len(took)])
    assert differing.size == 0, (differing[:10] + skip, differing.size)
