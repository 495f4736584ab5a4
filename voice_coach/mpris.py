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

dbus-fast is imported in the service's thread only, so that neither ``import
voice_coach`` nor the start of playback waits for it.
"""

# No `from __future__ import annotations`: dbus-fast reads the D-Bus signatures from
# the annotations of the interfaces, which are defined inside a function.
import asyncio
import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Protocol

from .inbox import Inbox

BUS_NAME = "org.mpris.MediaPlayer2.voice_coach"
OBJECT_PATH = "/org/mpris/MediaPlayer2"
#: The MPRIS spec's track id for "no track" (before the routine is ready).
NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
IDENTITY = "voice-coach"
#: A session bus that does not answer by then is treated as absent.
CONNECT_TIMEOUT_SECONDS = 3.0
#: How long closing waits for the service to leave the bus.
CLOSE_TIMEOUT_SECONDS = 2.0
UNAVAILABLE = "media keys are not available"


class PlayingRoutine(Protocol):
    """What the service reads of the player's Transport (and the one control it uses)."""

    script: object  # a script.Script, or None while the first step is prepared
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
        self.bus_name = BUS_NAME
        self._state = State("Playing", track_at(None, 0), 0)
        self._heard = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._closing = threading.Event()
        self._serving = threading.Event()
        self._player = None  # the Player interface, once exported

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
            asyncio.run(self._serve(address))
        except ImportError:
            self._notices.put(f"{UNAVAILABLE}: the dbus-fast library is not installed")
        except Exception as error:  # any failure of the bus: playback goes on without it
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            self._notices.put(f"{UNAVAILABLE}: cannot use the D-Bus session bus ({reason})")

    async def _serve(self, address: str) -> None:
        from dbus_fast import NameFlag, RequestNameReply
        from dbus_fast.aio import MessageBus

        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._closing.is_set():
            return
        try:
            bus = await asyncio.wait_for(
                MessageBus(bus_address=address).connect(), CONNECT_TIMEOUT_SECONDS
            )
        except TimeoutError:
            raise ConnectionError("no answer") from None
        try:
            root, self._player = _interfaces(self)
            bus.export(OBJECT_PATH, root)
            bus.export(OBJECT_PATH, self._player)
            reply = await bus.request_name(BUS_NAME, NameFlag.DO_NOT_QUEUE)
            if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
                # Another voice-coach is playing: the spec's name for a second instance.
                self.bus_name = f"{BUS_NAME}.instance{os.getpid()}"
                await bus.request_name(self.bus_name, NameFlag.DO_NOT_QUEUE)
            self._serving.set()
            if self._closing.is_set():
                return
            stopped = asyncio.ensure_future(self._stop.wait())
            lost = asyncio.ensure_future(bus.wait_for_disconnect())
            await asyncio.wait({stopped, lost}, return_when=asyncio.FIRST_COMPLETED)
            for task in (stopped, lost):
                task.cancel()
            if bus.connected:
                self._player.emit_properties_changed({"PlaybackStatus": "Stopped"})
                # A round trip: the signal is on the wire before the connection closes.
                with contextlib.suppress(Exception):
                    await bus.release_name(self.bus_name)
        finally:
            self._serving.clear()
            bus.disconnect()

    def _finish(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _announce(self, state: State, changed: list[str], seeked: bool) -> None:
        if not self._serving.is_set():
            return
        player = self._player
        values = {"PlaybackStatus": state.status, "Metadata": self._metadata(state.track)}
        # A widget that misses an update is no reason to disturb the routine (an
        # exception here would only be printed by asyncio, over the view).
        with contextlib.suppress(Exception):
            if changed:
                player.emit_properties_changed({name: values[name] for name in changed})
            if seeked:
                player.Seeked(state.position_us)

    def _metadata(self, track: Track) -> dict:
        from dbus_fast import Variant

        metadata = {
            "mpris:trackid": Variant("o", track.track_id),
            "xesam:album": Variant("s", self.album),
            "xesam:artist": Variant("as", [IDENTITY]),
        }
        if track.number:
            metadata["xesam:title"] = Variant("s", track.title)
            metadata["xesam:trackNumber"] = Variant("i", track.number)
            metadata["mpris:length"] = Variant("x", track.length_us)
        return metadata


def _interfaces(controls: MediaControls):
    """The two MPRIS interfaces (root and Player) of ``controls``, as dbus-fast services.

    Defined here, not at module level, because dbus-fast is imported only in the
    service's thread. Method and property names are the D-Bus member names, hence
    CamelCase.
    """
    from typing import Annotated

    from dbus_fast.annotations import (
        DBusBool,
        DBusDict,
        DBusDouble,
        DBusInt64,
        DBusObjectPath,
        DBusSignature,
        DBusStr,
    )
    from dbus_fast.constants import PropertyAccess
    from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

    strings = Annotated[list[str], DBusSignature("as")]
    read = PropertyAccess.READ
    queue_command = controls._commands.put

    class Root(ServiceInterface):
        """org.mpris.MediaPlayer2: who we are; Quit ends the routine like Stop."""

        def __init__(self) -> None:
            super().__init__("org.mpris.MediaPlayer2")

        @dbus_method()
        def Raise(self) -> None:
            """Nothing to raise: the player lives in a terminal."""

        @dbus_method()
        def Quit(self) -> None:
            """End the routine."""
            queue_command("quit")

        @dbus_property(access=read)
        def CanQuit(self) -> DBusBool:
            """Quit works."""
            return True

        @dbus_property(access=read)
        def CanRaise(self) -> DBusBool:
            """Raise does nothing."""
            return False

        @dbus_property(access=read)
        def HasTrackList(self) -> DBusBool:
            """No TrackList interface."""
            return False

        @dbus_property(access=read)
        def Identity(self) -> DBusStr:
            """The name widgets show."""
            return IDENTITY

        @dbus_property(access=read)
        def SupportedUriSchemes(self) -> strings:
            """No URIs are opened."""
            return []

        @dbus_property(access=read)
        def SupportedMimeTypes(self) -> strings:
            """No files are opened."""
            return []

    class Player(ServiceInterface):
        """org.mpris.MediaPlayer2.Player: the controls queue the keyboard's commands."""

        def __init__(self) -> None:
            super().__init__("org.mpris.MediaPlayer2.Player")

        @dbus_method()
        def Next(self) -> None:
            """The next step (or the closing, after the last)."""
            queue_command("next")

        @dbus_method()
        def Previous(self) -> None:
            """Back a step (to this step's start when more than 3 s into it)."""
            queue_command("previous")

        @dbus_method()
        def Pause(self) -> None:
            """Pause; nothing if paused already."""
            queue_command("pause-only")

        @dbus_method()
        def PlayPause(self) -> None:
            """Pause, or resume with the spoken lead-in."""
            queue_command("pause")

        @dbus_method()
        def Stop(self) -> None:
            """End the routine (the command exits 0)."""
            queue_command("quit")

        @dbus_method()
        def Play(self) -> None:
            """Resume with the spoken lead-in; nothing if playing already."""
            queue_command("resume")

        @dbus_method()
        def Seek(self, offset: DBusInt64) -> None:
            """Not supported (CanSeek is false): a hold is not skipped into."""

        @dbus_method()
        def SetPosition(self, track_id: DBusObjectPath, position: DBusInt64) -> None:
            """Not supported (CanSeek is false)."""

        @dbus_method()
        def OpenUri(self, uri: DBusStr) -> None:
            """Not supported: no URIs are opened."""

        @dbus_signal()
        def Seeked(self, position_us: int) -> DBusInt64:
            """The position jumped within the same step (back to its start, a side again)."""
            return position_us

        @dbus_property(access=read)
        def PlaybackStatus(self) -> DBusStr:
            """Playing, Paused or Stopped."""
            return controls._state.status

        @dbus_property()
        def Rate(self) -> DBusDouble:
            """Always 1: the timeline plays in real time."""
            return 1.0

        @Rate.setter
        def Rate(self, value: DBusDouble) -> None:
            """Other rates are ignored (MinimumRate = MaximumRate = 1)."""

        @dbus_property(access=read)
        def Metadata(self) -> DBusDict:
            """The step being heard: title, album (the routine), artist, length, track id."""
            return controls._metadata(controls._state.track)

        @dbus_property()
        def Volume(self) -> DBusDouble:
            """The player's volume: 1 is as rendered, up to 2."""
            return controls.transport.volume

        @Volume.setter
        def Volume(self, value: DBusDouble) -> None:
            """Set the volume (clamped to 0..2 by the Transport)."""
            controls.transport.change_volume(value - controls.transport.volume)

        @dbus_property(access=read)
        def Position(self) -> DBusInt64:
            """Microseconds into the step, as heard (the audio clock)."""
            return controls._state.position_us

        @dbus_property(access=read)
        def MinimumRate(self) -> DBusDouble:
            """Only real time."""
            return 1.0

        @dbus_property(access=read)
        def MaximumRate(self) -> DBusDouble:
            """Only real time."""
            return 1.0

        @dbus_property(access=read)
        def CanGoNext(self) -> DBusBool:
            """Next works."""
            return True

        @dbus_property(access=read)
        def CanGoPrevious(self) -> DBusBool:
            """Previous works."""
            return True

        @dbus_property(access=read)
        def CanPlay(self) -> DBusBool:
            """Play works."""
            return True

        @dbus_property(access=read)
        def CanPause(self) -> DBusBool:
            """Pause works."""
            return True

        @dbus_property(access=read)
        def CanSeek(self) -> DBusBool:
            """No seeking within a step."""
            return False

        @dbus_property(access=read)
        def CanControl(self) -> DBusBool:
            """The player can be controlled."""
            return True

    return Root(), Player()
