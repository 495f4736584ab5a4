"""Cue settings, sounds, levels, languages, the user config, `new` and `check`.

Each setting is checked where it shows: on the rendered samples of a real export
(eSpeak NG through pyttsx3), or on the Script for pure timing rules already
measured in samples elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from audio_analysis import as_float, first_sound, onsets, template_positions
from voice_coach import cli as cli_module
from voice_coach.cli import cli
from voice_coach.config import load_config
from voice_coach.errors import ConfigError
from voice_coach.pipeline import prepare
from voice_coach.routine import find_problems, load_routine, parse_routine, routine_schema
from voice_coach.settings import Settings, voice_for, volume_for
from voice_coach.sounds import load_sound_set
from voice_coach.speech import Speaker
from voice_coach.transport import Transport, lead_in_audio

RATE = 22050
ENGINE = ["--engine", "pyttsx3"]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def export(voice_coach_command, routine: Path, *extra: str, env=None) -> tuple[np.ndarray, dict]:
    """Export ``routine`` to WAV with its timeline; the audio as float and the timeline."""
    wav, timeline = routine.with_suffix(".wav"), routine.with_suffix(".json")
    subprocess.run(
        [voice_coach_command, "export", str(routine), "-o", str(wav), "--timeline",
         str(timeline), *ENGINE, *extra],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    pcm, rate = soundfile.read(wav, dtype="int16")
    assert rate == RATE
    return as_float(pcm), json.loads(timeline.read_text())


def chime_ends(audio: np.ndarray, set_name: str = "chime") -> list[int]:
    return template_positions(audio, load_sound_set(set_name, RATE)["hold-end"].astype(float))


TIMED = """\
name: Timed
defaults:
  countdown: {every: 5, last: 2}
  warn: 12
  halfway: false
  fractions: [1/4]
steps:
  - name: Wall lean
    hold: 30
    sides: none
"""


def test_warn_every_and_fraction_cues_start_on_their_seconds_in_the_audio(
    tmp_path, voice_coach_command
):
    audio, timeline = export(
        voice_coach_command, write(tmp_path / "t.yaml", TIMED), "--loudness", "off"
    )
    (end,) = chime_ends(audio)
    start = end - 30 * RATE
    heard = onsets(audio, start + RATE, end, quiet_samples=int(0.2 * RATE))
    # Seconds left: a quarter in (22.5), every 5 (25 .. 5), the warning (12), then 2, 1.
    expected_left = [22.5, 25, 20, 15, 12, 10, 5, 2, 1]
    expected = sorted(end - round(left * RATE) for left in expected_left)
    assert len(heard) == len(expected), (np.array(heard) - start) / RATE
    for onset, want in zip(heard, expected, strict=True):
        # Each cue's first audible sample lies within 40 ms after its due time
        # (eSpeak's clips open with a few ms of breath below the threshold).
        assert 0 <= onset - want < 0.04 * RATE, (onset - start) / RATE
    texts = [cue["text"] for cue in timeline["cues"] if cue["kind"] == "speech"]
    assert "12 seconds left." in texts and "A quarter done." in texts


def test_switch_sets_the_quiet_between_the_sides_in_the_audio(tmp_path, voice_coach_command):
    routine = write(
        tmp_path / "s.yaml",
        """\
        name: Sides
        steps:
          - name: Calf
            hold: 5
            countdown: 0
            switch: 9
            rest: 2
        """,
    )
    audio, timeline = export(voice_coach_command, routine, "--loudness", "off")
    switch = next(cue for cue in timeline["cues"] if cue["role"] == "switch")
    right = next(
        cue for cue in timeline["cues"] if cue["side"] == "right" and cue["role"] == "side"
    )
    # The switch cue's sound ends, then 9 s of quiet, then "Right side."
    switch_start = round(switch["start"] * RATE)
    spoken = onsets(audio, switch_start - 100, round(right["start"] * RATE) + RATE, int(2 * RATE))
    assert len(spoken) == 2
    loud = np.flatnonzero(np.abs(audio[switch_start : spoken[1]]) > 0.01)
    quiet = (spoken[1] - (switch_start + loud[-1])) / RATE
    assert 9.0 <= quiet < 9.1


@pytest.mark.parametrize("sound_set", ["bell", "woodblock", "beep"])
def test_a_sound_set_is_heard_instead_of_the_chimes(tmp_path, voice_coach_command, sound_set):
    routine = write(
        tmp_path / "b.yaml",
        f"""\
        name: Bells
        defaults:
          sounds: {sound_set}
          hold: 4
          countdown: 0
        steps:
          - name: One
          - name: Two
            sides: none
        """,
    )
    audio, _ = export(voice_coach_command, routine)
    chosen, default = load_sound_set(sound_set, RATE), load_sound_set("chime", RATE)
    found = {name: template_positions(audio, chosen[name].astype(float)) for name in chosen}
    # A last-set sound may begin with the hold-start sound (a rising pair of knocks):
    # a match inside it is not a hold start.
    (last_set,) = found["last-set"]
    found["hold-start"] = [
        at for at in found["hold-start"] if not 0 <= at - last_set < len(chosen["last-set"])
    ]
    assert [len(found[name]) for name in ("hold-start", "hold-end", "last-set", "finish")] == [
        2,
        3,
        1,
        1,
    ]
    assert template_positions(audio, default["hold-start"].astype(float)) == []


def test_custom_sound_beside_the_routine_replaces_one_sound(tmp_path, voice_coach_command):
    tone = 0.3 * np.sin(2 * np.pi * 523.25 * np.arange(int(0.4 * 44100)) / 44100)
    (tmp_path / "sounds").mkdir()
    soundfile.write(tmp_path / "sounds" / "gong.flac", np.column_stack([tone, tone]), 44100)
    routine = write(
        tmp_path / "c.yaml",
        """\
        name: Custom
        defaults:
          sounds: {set: bell, finish: sounds/gong.flac}
          hold: 4
          countdown: 0
        steps:
          - name: One
            sides: none
        """,
    )
    audio, timeline = export(voice_coach_command, routine)
    finish = next(cue for cue in timeline["cues"] if cue["role"] == "finish")
    mono = tone[::2]  # 44.1 kHz to 22.05 kHz is close enough for a template
    (where,) = template_positions(audio, mono, threshold=0.9)
    assert abs(where - round(finish["start"] * RATE)) < 0.01 * RATE
    bell = load_sound_set("bell", RATE)
    assert len(template_positions(audio, bell["hold-end"].astype(float))) == 1


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/etc/hostname.wav", "absolute"),
        ("../outside.wav", "leaves the routine's folder"),
        ("link/outside.wav", "leads outside the routine's folder"),
    ],
)
def test_sound_paths_stay_inside_the_routine_folder(tmp_path, path, why):
    folder = tmp_path / "routine"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    soundfile.write(elsewhere / "outside.wav", np.full(2000, 0.1), RATE)
    soundfile.write(tmp_path / "outside.wav", np.full(2000, 0.1), RATE)
    os.symlink(elsewhere, folder / "link")
    routine = write(
        folder / "r.yaml",
        f"""\
        name: Escape
        defaults:
          sounds:
            set: chime
            finish: {path}
        steps:
          - name: One
        """,
    )
    result = CliRunner().invoke(cli, ["check", str(routine), *ENGINE])
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{routine}:5: ") and why in line
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("setting", "value"), [("chime_level", -12), ("speech_level", 6)])
def test_levels_move_sounds_and_speech_against_each_other_in_the_audio(
    tmp_path, voice_coach_command, setting, value
):
    def ratio(level: int) -> float:
        routine = write(
            tmp_path / f"l{level}.yaml",
            f"""\
            name: Level
            defaults:
              {setting}: {level}
              hold: 3
              countdown: 0
            steps:
              - name: One
                sides: none
            """,
        )
        audio, timeline = export(voice_coach_command, routine, "--loudness", "off")
        cues = {cue["role"]: cue for cue in timeline["cues"]}

        def peak(cue) -> float:
            return float(np.abs(audio[round(cue["start"] * RATE) : round(cue["end"] * RATE)]).max())

        return peak(cues["hold-start"]) / peak(cues["title"])

    drop = 20 * np.log10(ratio(0) / ratio(value))
    assert abs(drop - abs(value)) < 0.5


@pytest.mark.slow
def test_speech_rate_from_the_routine_changes_how_long_speech_lasts(tmp_path, voice_coach_command):
    def title_seconds(rate: int) -> float:
        routine = write(
            tmp_path / f"r{rate}.yaml",
            f"""\
            name: Rate
            defaults:
              rate: {rate}
              hold: 3
              countdown: 0
            steps:
              - name: A long name for a stretch to say slowly
                sides: none
            """,
        )
        audio, _ = export(voice_coach_command, routine)
        start = first_sound(audio, 0, 5 * RATE)
        loud = np.flatnonzero(np.abs(audio[start : start + 8 * RATE]) > 0.01)
        gaps = np.flatnonzero(np.diff(loud) > 0.3 * RATE)
        return (loud[gaps[0]] if gaps.size else loud[-1]) / RATE

    slow, fast = title_seconds(110), title_seconds(220)
    assert slow > 1.5 * fast


LANGUAGES = {
    "de": ("Linkes Bein.", "Bein wechseln.", "Noch 8 Sekunden."),
    "es": ("Pierna izquierda.", "Cambia de pierna.", "Quedan 8 segundos."),
    "fr": ("Jambe gauche.", "Changez de jambe.", "Encore 8 secondes."),
    "en": ("Left leg.", "Switch legs.", "8 seconds left."),
}


@pytest.mark.slow
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_each_language_is_heard_in_the_exported_audio(tmp_path, voice_coach_command, language):
    routine = write(
        tmp_path / f"{language}.yaml",
        f"""\
        name: Stretch {language}
        language: {language}
        defaults:
          limb: leg
          hold: 12
          warn: 8
          countdown: 3
        steps:
          - name: Stretch
        """,
    )
    audio, timeline = export(voice_coach_command, routine, "--loudness", "off")
    spoken = {cue["text"]: cue for cue in timeline["cues"] if cue["kind"] == "speech"}
    native = Speaker(voice=language, engine="pyttsx3")
    other = Speaker(voice="fr" if language == "en" else "en", engine="pyttsx3")
    for phrase in LANGUAGES[language]:
        cue = spoken[phrase]
        at = round(cue["start"] * RATE)
        window = audio[at - RATE // 4 : round(cue["end"] * RATE) + RATE // 4]
        # The language's own voice said it (and numbers in it): its clip is in the audio,
        # the other voice's reading of the same words is not.
        assert template_positions(window, native.clip(phrase).astype(float), 0.98), phrase
        assert not template_positions(window, other.clip(phrase).astype(float), 0.9), phrase
    assert timeline["cues"][-2]["role"] == "closing"


def test_no_voice_for_the_language_says_so_in_one_line_and_goes_on(tmp_path, voice_coach_command):
    routine = write(
        tmp_path / "x.yaml",
        """\
        name: Klingon
        language: tlh
        steps:
          - name: One
            hold: 3
            sides: none
        """,
    )
    result = subprocess.run(
        [voice_coach_command, "check", str(routine), *ENGINE], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line]
    assert len(warnings) == 1 and "no installed voice speaks 'tlh'" in warnings[0]


def test_pause_after_step_waits_for_a_key_then_goes_on_exactly(tmp_path):
    routine = parse_routine(
        textwrap.dedent(
            """\
            name: Waits
            defaults:
              hold: 2
              countdown: 0
              sides: none
            steps:
              - name: One
                pause_after_step: true
              - name: Two
            """
        ),
        "w.yaml",
    )
    program = prepare(routine, speaker=Speaker(engine="pyttsx3"))
    rendered = np.concatenate(list(program.blocks()))
    stop = program.script.steps[0].end_sample
    transport = Transport(program)

    def pull(samples: int) -> np.ndarray:
        return np.concatenate([transport.fill(500)[:, 0] for _ in range(samples // 500)])

    before = pull(stop + 2 * RATE)
    assert np.array_equal(before[:stop], rendered[:stop])
    assert not before[stop:].any() and transport.paused
    assert transport.toggle_pause() == "resumed"
    lead = lead_in_audio(program.clips, RATE, program.script.language)
    assert np.abs(transport.fill(len(lead))[:, 0]).max() > 5000  # "Resuming. 3, 2, 1"
    # Then the routine goes on where it stopped, not a sample lost or repeated.
    after = transport.fill(RATE)[:, 0]
    assert np.array_equal(after, rendered[stop : stop + RATE])


# ------------------------------------------------------------------ config


def run(*args: str, config: Path | None = None):
    env = {"VOICE_COACH_CONFIG": str(config)} if config else {}
    return CliRunner().invoke(cli, list(args), env=env)


def test_config_path_and_show(tmp_path):
    config = tmp_path / "vc" / "config.toml"
    assert run("config", "path", config=config).stdout.strip() == str(config)
    assert run("config", "init", config=config).exit_code == 0
    assert load_config(config).settings == {}  # every line of the template is commented
    config.write_text('voice = "en-us"\ncountdown = { every = 5 }\npan = true\n')
    shown = run("config", "show", config=config).stdout
    assert 'voice = "en-us"  # from the config' in shown
    assert "countdown = { every = 5 }" in shown
    assert run("config", "init", config=config).exit_code == 2  # never overwritten


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [
        ("rate = 170\nvoise = 'en'\n", 2, "unknown setting 'voise'; did you mean 'voice'?"),
        ("rate = 1000\n", 1, "'rate' must be from 60 to 400"),
        ("rate = \n", 1, "not valid TOML"),
        ("countdown = 'sometimes'\n", 1, "'countdown' must be"),
        ("sounds = { finish = 'x.wav' }\n", 1, "a set name"),
        ("rate = 170\naudio = 'jack'\n", 2, "'audio' must be 'portaudio' or 'simpleaudio'"),
    ],
)
def test_a_bad_config_is_one_line_with_file_and_line(tmp_path, text, line, phrase):
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert str(error.value).startswith(f"{config}:{line}: ") and phrase in str(error.value)
    result = run("show", "hamstrings", *ENGINE, config=config)
    assert result.exit_code == 1
    assert result.stderr.strip() == str(error.value)


def count_numbers(script_text: str) -> int:
    return sum(1 for line in script_text.splitlines() if " countdown " in line)


def test_config_overrides_the_routine_and_flags_override_the_config(tmp_path):
    config = tmp_path / "config.toml"
    plain = count_numbers(run("show", "hamstrings", *ENGINE).stdout)
    assert plain == 30  # 5 numbers in each of 6 holds
    config.write_text('countdown = "off"\nsounds = "bell"\n')
    assert count_numbers(run("show", "hamstrings", *ENGINE, config=config).stdout) == 0
    flagged = run("show", "hamstrings", *ENGINE, "--countdown", "3", config=config).stdout
    assert count_numbers(flagged) == 18
    every = run("show", "hamstrings", *ENGINE, "--countdown", "every:10,last:2").stdout
    assert count_numbers(every) == 6 * 4  # 20, 10, 2, 1
    bad = run("show", "hamstrings", "--countdown", "every:x")
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_config_volume_and_pan_reach_the_player(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("volume = 40\npan = true\n")
    seen = {}

    def play_routine(routine, settings, **options):
        seen.update(volume=volume_for(routine, settings), pan=settings.pan)

    monkeypatch.setattr("voice_coach.player.play_routine", play_routine)
    assert run("play", "hamstrings", *ENGINE, config=config).exit_code == 0
    assert seen["volume"] == pytest.approx(0.4) and seen["pan"] is True
    assert run("play", "hamstrings", "--volume", "90", "--no-pan", config=config).exit_code == 0
    assert seen["volume"] == pytest.approx(0.9) and seen["pan"] is False


def test_the_audio_backend_from_config_flag_and_api_reaches_the_player(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('audio = "simpleaudio"\n')
    seen = []
    monkeypatch.setattr(
        "voice_coach.player.play_routine", lambda routine, settings, **_: seen.append(settings)
    )
    for command in ("play", "remind"):
        assert "--audio [portaudio|simpleaudio]" in run(command, "--help").stdout
    assert run("play", "hamstrings", config=config).exit_code == 0
    assert run("play", "hamstrings", "--audio", "portaudio", config=config).exit_code == 0
    assert [settings.audio for settings in seen] == ["simpleaudio", "portaudio"]
    assert Settings.from_config(load_config(config).settings).audio == "simpleaudio"
    assert run("play", "hamstrings", "--audio", "jack").exit_code == 2
    with pytest.raises(ValueError, match="unknown playback 'jack'"):
        Settings(audio="jack")
    # A prepared Program, through the API: the settings' backend reaches the player.
    import voice_coach

    calls = []
    monkeypatch.setattr("voice_coach.player.play", lambda program, **options: calls.append(options))
    program = prepare(load_routine("hamstrings"), stream_clips=True)
    voice_coach.play(program, Settings(audio="simpleaudio", volume=50))
    assert calls == [{"plain": None, "volume": 0.5, "audio": "simpleaudio", "duck_others": False}]


def test_config_beats_a_step_and_the_sounds_flag_beats_the_config(tmp_path, monkeypatch):
    routine = write(
        tmp_path / "r.yaml",
        """\
        name: Own settings
        defaults:
          sounds: woodblock
        steps:
          - name: One
            hold: 20
            countdown: 5
            sides: none
        """,
    )
    config = tmp_path / "config.toml"
    config.write_text('countdown = 2\nsounds = "beep"\n')
    shown = run("show", str(routine), *ENGINE, config=config).stdout
    assert count_numbers(shown) == 2
    monkeypatch.setenv("VOICE_COACH_CONFIG", str(config))
    loaded = load_routine(str(routine))
    program = prepare(loaded, cli_module._settings(flags()), stream_clips=True)
    assert program.routine.sounds.set == "beep"
    flagged = prepare(loaded, cli_module._settings(flags(sounds="bell")), stream_clips=True)
    assert flagged.routine.sounds.set == "bell"
    assert loaded.sounds.set == "woodblock"  # the settings never change the Routine
    result = run("show", str(routine), *ENGINE, "--sounds", "bell", config=config)
    assert result.exit_code == 0, result.output


def flags(**given):
    """The speech flags of a command, as click passes them, none given but these."""
    base = {"engine": "pyttsx3", "voice": None, "rate": None, "deeper": False, "quiet": False}
    return {**base, "pan": None, "countdown": None, "sounds": None, **given}


def test_the_config_voice_reads_only_routines_in_its_language(tmp_path, monkeypatch):
    german = load_routine(
        write(tmp_path / "de.yaml", "name: Dehnen\nlanguage: de\nsteps:\n  - name: Eins\n")
    )
    english = load_routine(
        write(tmp_path / "en.yaml", "name: Stretch\nlanguage: en\nsteps:\n  - name: One\n")
    )
    config = Settings.from_config({"voice": "en-us"})
    assert voice_for(german, config) == "de"  # picked by language
    assert voice_for(english, config) == "en-us"
    assert voice_for(german, config.but(voice="en-us")) == "en-us"  # --voice is obeyed


# ------------------------------------------------------------------ new, check


def test_new_writes_a_routine_that_checks_and_fits_the_schema(tmp_path, monkeypatch):
    import jsonschema
    import yaml

    monkeypatch.chdir(tmp_path)
    result = run("new", "Morning legs")
    assert result.exit_code == 0, result.output
    path = tmp_path / "morning-legs.yaml"
    text = path.read_text()
    assert text.count("\n#") + text.count("  #") > 10  # commented
    routine = parse_routine(text, str(path))
    assert routine.name == "Morning legs" and len(routine.steps) == 2
    jsonschema.validate(yaml.safe_load(text), routine_schema())
    assert run("check", str(path), *ENGINE).exit_code == 0
    again = run("new", "Morning legs")
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert path.read_text() == text
    nowhere = run("new", "x", "-o", str(tmp_path / "no" / "x.yaml"))
    assert nowhere.exit_code == 1 and len(nowhere.stderr.splitlines()) == 1
    assert "Traceback" not in nowhere.output


def test_a_countdown_or_warning_written_longer_than_its_hold_is_a_problem_at_its_line(tmp_path):
    path = write(
        tmp_path / "long.yaml",
        """\
        name: Long
        defaults:
          warn: 40
        steps:
          - name: One
            hold: 8
            countdown: 10
        """,
    )
    lines = run("check", str(path)).stderr.splitlines()
    assert lines[0].startswith(f"{path}:3: 'warn: 40' does not fit")
    assert lines[1].startswith(f"{path}:7: 'countdown: 10' does not fit")


def test_a_start_sound_longer_than_the_hold_is_one_line(tmp_path):
    path = write(
        tmp_path / "b.yaml",
        "name: Bell\ndefaults:\n  sounds: bell\nsteps:\n  - name: Quick\n    hold: 1\n",
    )
    result = run("check", str(path), *ENGINE)
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert "hold is shorter than the 1.1 s sound that starts it" in line


@pytest.mark.parametrize(
    ("voice", "language"),
    [
        ("de", "de"),
        ("fr_FR", "fr"),
        ("gmw/de", "de"),
        ("/voices/es_ES-davefx-medium.onnx", "es"),
        ("de_DE-thorsten-medium", "de"),
        ("joe", None),
        ("Microsoft Zira", None),
    ],
)
def test_the_language_a_voice_gives_away(voice, language):
    from voice_coach.phrases import language_of_voice

    assert language_of_voice(voice) == language


def test_check_reports_every_problem_at_once(tmp_path):
    path = write(
        tmp_path / "bad.yaml",
        """\
        name: Bad
        defaults:
          hodl: 30
          countdown: every 5
        steps:
          - name: One
            hold: -3
            sides: both
          - name: Two
            sounds: bell
            fractions: [1/5]
          - name: Three
            warn: [10, ten]
        """,
    )
    result = run("check", str(path))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert [line.split(":")[1] for line in lines[:-1]] == ["3", "4", "7", "8", "10", "11", "13"]
    assert "did you mean 'hold'" in lines[0]
    assert lines[-1] == f"{path}: 7 problems"
    assert len(find_problems(path.read_text(), "bad.yaml")) == 7
