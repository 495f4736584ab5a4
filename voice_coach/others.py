"""Other apps' sound under the coach, live: lowered during every cue (``play --duck-others``),
and the player's stream tagged with a media role.

Lowering: a helper process (``python -m voice_coach.others``) talks to the sound server
through the pulse protocol (pulsectl, the ``duck`` extra; PipeWire serves the same
protocol through pipewire-pulse). The player tells it "duck" a little before each span
of cues (:func:`ducking.duck_spans`, the same spans its own music follows) and
"restore" after; it lowers every other playback stream by :data:`OTHERS_DUCK_DB` in a
short ramp and puts each back as it was. The helper restores them whenever the player
goes, however it goes: on "restore" at exit, on Ctrl-C and SIGTERM (the player's
``finally``), and on the end of its input when the player crashes or is killed (the
pipe closes with the process). It runs in its own session, so a Ctrl-C in the
terminal does not stop it before it has restored anything.

The media role: desktops whose policy ducks by role do it themselves when the
player's stream says what it is. ``media.role`` is ``Navigation``: on PipeWire, the
role-based policy of WirePlumber (its ``media-role-nodes.conf`` loopbacks) ducks
Multimedia streams under Navigation, whereas Phone/Communication, Assistant and Alert
pause them (cork) and Notification only mixes; on PulseAudio, ``module-role-cork``
pauses other streams under ``phone`` (so that role is avoided) and
``module-role-ducking trigger_roles=Navigation`` ducks under this one.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from .ducking import duck_spans

if TYPE_CHECKING:
    from .script import Script

#: The media role of the player's stream (see the module notes).
MEDIA_ROLE = "Navigation"
#: How far other apps drop under the coach's cues, in dB.
OTHERS_DUCK_DB = 12.0
#: Told this long before a span starts: the player polls every 50 ms, and the server
#: takes a moment to apply a volume.
LEAD_SECONDS = 0.3
#: Steps and their spacing of the helper's volume ramps (no click in the other app).
RAMP_STEPS = 5
RAMP_STEP_SECONDS = 0.03
#: Longest wait for the helper to say whether it can lower anything.
START_SECONDS = 5.0


def tag_media_role() -> None:
    """Tag the streams this process opens from now on with :data:`MEDIA_ROLE`, for
    PulseAudio (``PULSE_PROP``) and PipeWire's own clients (``PIPEWIRE_PROPS``), unless
    the user's environment names a role already."""
    pulse = os.environ.get("PULSE_PROP", "")
    if "media.role" not in pulse:
        os.environ["PULSE_PROP"] = f"{pulse} media.role={MEDIA_ROLE}".strip()
    if "PIPEWIRE_PROPS" not in os.environ:
        os.environ["PIPEWIRE_PROPS"] = f'{{ media.role = "{MEDIA_ROLE}" }}'


class OtherStreams:
    """The player's side of ``--duck-others``: the helper process, told when to lower.

    Make it with :meth:`start`; ``notice`` is the one line to show when other apps
    cannot be lowered here (no sound server, or no pulsectl), else None.
    """

    def __init__(self, process: subprocess.Popen | None, notice: str | None) -> None:
        self._process = process
        self.notice = notice
        self.ducked = False
        self._script: Script | None = None
        self._spans: list[tuple[int, int]] = []
        self._ends: list[int] = []

    @classmethod
    def start(cls) -> OtherStreams:
        """Start the helper and wait (briefly) until it is connected."""
        process = subprocess.Popen(
            [sys.executable, "-m", "voice_coach.others", str(os.getpid()), str(OTHERS_DUCK_DB)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_SECONDS)
        answer = process.stdout.readline().strip() if ready else "no answer from the helper"
        if answer == "ready":
            return cls(process, None)
        with contextlib.suppress(Exception):
            process.kill()
            process.wait(timeout=5)
        reason = answer.removeprefix("unavailable: ")
        return cls(None, f"--duck-others: {reason}; other apps' sound stays as it is")

    def follow(self, script: Script | None, position: int | None) -> None:
        """Lower other apps when ``position`` (the timeline sample heard now; None while
        paused) is in, or about to enter, a span of cues; restore them otherwise."""
        if self._process is None or script is None:
            return
        if script is not self._script:
            self._script = script
            self._spans = duck_spans(script)
            self._ends = [end for _, end in self._spans]
        wanted = False
        if position is not None:
            ahead = position + round(LEAD_SECONDS * script.sample_rate)
            index = bisect.bisect_right(self._ends, position)
            wanted = index < len(self._spans) and self._spans[index][0] <= ahead
        if wanted != self.ducked:
            self._send("duck" if wanted else "restore")
            self.ducked = wanted

    def _send(self, command: str) -> None:
        process = self._process
        if process is None or process.stdin is None:
            return
        try:
            process.stdin.write(command + "\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self._process = None  # the helper is gone; it restored what it could

    def close(self) -> None:
        """Restore other apps' sound and stop the helper."""
        process = self._process
        if process is None:
            return
        self._send("restore")
        self._process = None
        with contextlib.suppress(Exception):
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=5)


# --------------------------------------------------------------------------- the helper


def _ramp(pulse: Any, volumes: dict[int, tuple[list[float], list[float]]]) -> None:
    """Move each stream (index: (from, to) channel volumes) in :data:`RAMP_STEPS` steps."""
    import pulsectl

    for step in range(1, RAMP_STEPS + 1):
        share = step / RAMP_STEPS
        for index, (start, end) in list(volumes.items()):
            values = [a + (b - a) * share for a, b in zip(start, end, strict=True)]
            try:
                pulse.sink_input_volume_set(index, pulsectl.PulseVolumeInfo(values))
            except pulsectl.PulseError:
                volumes.pop(index)  # the stream ended meanwhile
        if step < RAMP_STEPS:
            time.sleep(RAMP_STEP_SECONDS)


def _duck(pulse: Any, parent: str, factor: float, saved: dict[int, list[float]]) -> None:
    ramps = {}
    for stream in pulse.sink_input_list():
        if stream.proplist.get("application.process.id") == parent or stream.index in saved:
            continue
        values = list(stream.volume.values)
        saved[stream.index] = values
        ramps[stream.index] = (values, [value * factor for value in values])
    _ramp(pulse, ramps)


def _restore(pulse: Any, saved: dict[int, list[float]]) -> None:
    current = {stream.index: list(stream.volume.values) for stream in pulse.sink_input_list()}
    ramps = {index: (current[index], values) for index, values in saved.items() if index in current}
    saved.clear()
    _ramp(pulse, ramps)


def _stop(signum, frame) -> None:
    raise SystemExit(0)


def main(argv: list[str]) -> int:
    """The helper: lower other streams on "duck", restore them on "restore" and always
    before it exits; ``argv`` is the player's pid and the drop in dB."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    # Pulse volumes are cubic (pa_sw_volume_from_linear): amplitude = volume ** 3.
    parent, factor = argv[0], 10 ** (-float(argv[1]) / 20 / 3)
    try:
        import pulsectl
    except ImportError:
        print("unavailable: pulsectl is not installed (pip install 'voice-coach[duck]')")
        return 0
    try:
        pulse = pulsectl.Pulse("voice-coach --duck-others")
    except Exception as error:  # pulsectl raises its own kinds, and OSError
        print(f"unavailable: no PulseAudio or PipeWire sound server ({error})")
        return 0
    print("ready", flush=True)
    saved: dict[int, list[float]] = {}
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "duck":
                _duck(pulse, parent, factor, saved)
            elif command == "restore":
                _restore(pulse, saved)
    finally:
        with contextlib.suppress(Exception):
            _restore(pulse, saved)
        pulse.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
