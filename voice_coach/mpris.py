"""The live player as a desktop media player: MPRIS over the D-Bus session bus (Linux).

While a routine plays, it is published as ``org.mpris.MediaPlayer2.voice_coach``, so
the keyboard's media keys, a Bluetooth headset's buttons (through the desktop's MPRIS
bridge), GNOME and KDE player widgets and ``playerctl`` control it. Each step is a
track: the step's name is the title, the routine the album.

The D-Bus service runs in a thread of its own, with its own asyncio loop (dbus-fast).
It never touches the playback: a call such as Next only queues the command the
keyboard would give, and the player's main loop applies it. The main loop in turn
hands over, at each poll, what is being heard (the audio clock), and the service
announces the changes (PropertiesChanged, Seeked). Without a session bus the player
plays as before; ``notices()`` then says once that media keys are not available.

dbus-fast is imported in the service's thread only (with :mod:`mpris_service`, which
holds the two D-Bus interfaces), so that neither ``import voice_coach`` nor the start
of playback waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from .inbox import Inbox

#: The MPRIS spec's track id for "no track" (before the routine is ready).
NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
#: How long closing waits for the service to leave the bus.
CLOSE_TIMEOUT_SECONDS = 2.0
UNAVAILABLE = "media keys are not available"


class PlayingRoutine(Protocol):
    """What the service reads of the player's Transport (and the one control it uses)."""

    @property
    def script(self) -> Any:
        """A script.Script, or None while the first step is prepared."""

    paused: bool
    position: int
    volume: float

    def change_volume(self, delta: float) -> str:
        """Raise or lower the volume by ``delta`` (thread-safe)."""


@dataclass(frozen=True)
class Track:
    """One step as a track: its number (1-based; 0 for none), name and timeline span."""

    number: int
    title: str
    start_sample: int
    end_sample: int
    sample_rate: int

    @property
    def track_id(self) -> str:
        """The D-Bus object path that names this track."""
        return f"/voice_coach/step/{self.number}" if self.number else NO_TRACK

    @property
    def length_us(self) -> int:
        """The track's length in microseconds."""
        return _microseconds(self.end_sample - self.start_sample, self.sample_rate)


@dataclass(frozen=True)
class State:
    """What the service publishes: replaced whole by the main thread, read by the bus thread."""

    status: str  # "Playing", "Paused" or "Stopped"
    track: Track
    position_us: int


def _microseconds(samples: int, sample_rate: int) -> int:
    return samples * 1_000_000 // sample_rate


def track_at(script, sample: int) -> Track:
    """The step being heard at timeline ``sample`` as a track.

    The pre-roll belongs to the first step, and the closing to the last, so that
    every sample of the routine is in a track.
    """
    if script is None:
        return Track(0, "", 0, 0, 1)
    steps = script.steps
    index = 0
    for span in steps:
        if span.start_sample <= sample:
            index = span.step
    span = steps[index]
    end = span.end_sample if index + 1 < len(steps) else script.length_samples
    return Track(index + 1, span.name, span.start_sample, end, script.sample_rate)


class MediaControls(Inbox):
    """The routine published as an MPRIS player while it plays.

    Call ``start()`` once, then from the player's loop: ``commands()`` and
    ``notices()`` to collect what arrived, ``follow()`` with the heard position,
    and ``close()`` at the end, whatever the end.
    """

    def __init__(self, transport: PlayingRoutine, album: str) -> None:
        super().__init__()
        self.transport = transport
        self.album = album
        #: The name it holds on the bus, once serving (see :func:`mpris_service.serve`).
        self.bus_name: str | None = None
        self._state = State("Playing", track_at(None, 0), 0)
        self._heard = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._closing = threading.Event()
        self._serving = threading.Event()
        self._player: Any = None  # the Player interface, once exported

    # ------------------------------------------------------------- main thread
    def start(self) -> None:
        """Connect to the session bus in the background (or note that there is none)."""
        address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            self._notices.put(f"{UNAVAILABLE}: no D-Bus session bus")
            return
        self._thread = threading.Thread(
            target=self._serve_thread, args=(address,), name="voice-coach-mpris", daemon=True
        )
        self._thread.start()

    def follow(self, position: int | None) -> None:
        """Publish the state at timeline sample ``position``, the one being heard
        (None when unknown, as during the lead-in or the tail before a jump)."""
        self._publish(position, jumped=False)

    def seek(self, position: int) -> None:
        """The player jumped to ``position`` (next, previous, repeat): publish it at
        once, before it is heard, as a new track or, within the same step, as Seeked."""
        self._publish(position, jumped=True)

    def _publish(self, position: int | None, jumped: bool) -> None:
        transport = self.transport
        if position is not None:
            self._heard = position
        track = track_at(transport.script, self._heard)
        into = max(0, self._heard - track.start_sample)
        state = State(
            "Paused" if transport.paused else "Playing",
            track,
            _microseconds(into, track.sample_rate),
        )
        previous, self._state = self._state, state
        changed = []
        if state.status != previous.status:
            changed.append("PlaybackStatus")
        if state.track != previous.track:
            changed.append("Metadata")
        seeked = jumped and state.track == previous.track
        if changed or seeked:
            self._in_bus_thread(self._announce, state, changed, seeked)

    def close(self) -> None:
        """Say "Stopped", leave the bus and end the thread (waits up to 2 s)."""
        self._closing.set()
        if self._thread is None:
            return
        self._state = State("Stopped", self._state.track, self._state.position_us)
        self._in_bus_thread(self._finish)
        self._thread.join(timeout=CLOSE_TIMEOUT_SECONDS)

    def _in_bus_thread(self, function, *args) -> None:
        loop = self._loop
        if loop is None or not self._serving.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            loop.call_soon_threadsafe(function, *args)

    # -------------------------------------------------------------- bus thread
    def _serve_thread(self, address: str) -> None:
        try:
            from .mpris_service import serve

            asyncio.run(serve(self, address))
        except ImportError:
            self._notices.put(f"{UNAVAILABLE}: the dbus-fast library is not installed")
        except Exception as error:  # any failure of the bus: playback goes on without it
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            self._notices.put(f"{UNAVAILABLE}: cannot use the D-Bus session bus ({reason})")

    def _finish(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _announce(self, state: State, changed: list[str], seeked: bool) -> None:
        if not self._serving.is_set():
            return
        from .mpris_service import metadata

        player = self._player
        values = {"PlaybackStatus": state.status, "Metadata": metadata(state.track, self.album)}
        # A widget that misses an update is no reason to disturb the routine (an
        # exception here would only be printed by asyncio, over the view).
        with contextlib.suppress(Exception):
            if changed:
                player.emit_properties_changed({name: values[name] for name in changed})
            if seeked:
                player.Seeked(state.position_us)
