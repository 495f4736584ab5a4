"""The two MPRIS interfaces of a playing routine, as dbus-fast services: the root
(org.mpris.MediaPlayer2) and the Player (org.mpris.MediaPlayer2.Player).

Imported only in the media-keys service's thread (see :mod:`mpris`), as it imports
dbus-fast. Method and property names are the D-Bus member names, hence CamelCase.
Controls only queue the command a key would give; the player's loop applies it.
"""

# No `from __future__ import annotations`: dbus-fast reads the D-Bus signatures from
# the annotations of these methods at class creation.
import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Annotated

from dbus_fast import NameFlag, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
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

from .transport import Command

if TYPE_CHECKING:
    from .mpris import MediaControls, Track

BUS_NAME = "org.mpris.MediaPlayer2.voice_coach"
OBJECT_PATH = "/org/mpris/MediaPlayer2"
IDENTITY = "voice-coach"
#: A session bus that does not answer by then is treated as absent.
CONNECT_TIMEOUT_SECONDS = 3.0

strings = Annotated[list[str], DBusSignature("as")]
read = PropertyAccess.READ


class Root(ServiceInterface):
    """org.mpris.MediaPlayer2: who we are; Quit ends the routine like Stop."""

    def __init__(self, controls: "MediaControls") -> None:
        super().__init__("org.mpris.MediaPlayer2")
        self._queue = controls._commands.put

    @dbus_method()
    def Raise(self) -> None:
        """Nothing to raise: the player lives in a terminal."""

    @dbus_method()
    def Quit(self) -> None:
        """End the routine."""
        self._queue(Command.QUIT)

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

    def __init__(self, controls: "MediaControls") -> None:
        super().__init__("org.mpris.MediaPlayer2.Player")
        self._controls = controls
        self._queue = controls._commands.put

    @dbus_method()
    def Next(self) -> None:
        """The next step (or the closing, after the last)."""
        self._queue(Command.NEXT)

    @dbus_method()
    def Previous(self) -> None:
        """Back a step (to this step's start when more than 3 s into it)."""
        self._queue(Command.PREVIOUS)

    @dbus_method()
    def Pause(self) -> None:
        """Pause; nothing if paused already."""
        self._queue(Command.PAUSE)

    @dbus_method()
    def PlayPause(self) -> None:
        """Pause, or resume with the spoken lead-in."""
        self._queue(Command.TOGGLE_PAUSE)

    @dbus_method()
    def Stop(self) -> None:
        """End the routine (the command exits 0)."""
        self._queue(Command.QUIT)

    @dbus_method()
    def Play(self) -> None:
        """Resume with the spoken lead-in; nothing if playing already."""
        self._queue(Command.RESUME)

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
        return self._controls._state.status

    @dbus_property()
    def Rate(self) -> DBusDouble:
        """Always 1: the timeline plays in real time."""
        return 1.0

    @Rate.setter  # type: ignore[no-redef]  # dbus-fast: the setter takes the same name
    def Rate(self, value: DBusDouble) -> None:
        """Other rates are ignored (MinimumRate = MaximumRate = 1)."""

    @dbus_property(access=read)
    def Metadata(self) -> DBusDict:
        """The step being heard: title, album (the routine), artist, length, track id."""
        return metadata(self._controls._state.track, self._controls.album)

    @dbus_property()
    def Volume(self) -> DBusDouble:
        """The player's volume: 1 is as rendered, up to 2."""
        return self._controls.transport.volume

    @Volume.setter  # type: ignore[no-redef]  # dbus-fast: the setter takes the same name
    def Volume(self, value: DBusDouble) -> None:
        """Set the volume (clamped to 0..2 by the Transport)."""
        self._controls.transport.change_volume(value - self._controls.transport.volume)

    @dbus_property(access=read)
    def Position(self) -> DBusInt64:
        """Microseconds into the step, as heard (the audio clock)."""
        return self._controls._state.position_us

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


async def serve(controls: "MediaControls", address: str) -> None:
    """Publish ``controls`` on the session bus at ``address`` until it closes or the bus
    goes away (run in the service's own thread and event loop)."""
    controls._stop = asyncio.Event()
    controls._loop = asyncio.get_running_loop()
    if controls._closing.is_set():
        return
    try:
        bus = await asyncio.wait_for(
            MessageBus(bus_address=address).connect(), CONNECT_TIMEOUT_SECONDS
        )
    except TimeoutError:
        raise ConnectionError("no answer") from None
    try:
        root, controls._player = Root(controls), Player(controls)
        bus.export(OBJECT_PATH, root)
        bus.export(OBJECT_PATH, controls._player)
        controls.bus_name = BUS_NAME
        reply = await bus.request_name(BUS_NAME, NameFlag.DO_NOT_QUEUE)
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            # Another voice-coach is playing: the spec's name for a second instance.
            controls.bus_name = f"{BUS_NAME}.instance{os.getpid()}"
            await bus.request_name(controls.bus_name, NameFlag.DO_NOT_QUEUE)
        controls._serving.set()
        if controls._closing.is_set():
            return
        stopped = asyncio.ensure_future(controls._stop.wait())
        lost = asyncio.ensure_future(bus.wait_for_disconnect())
        await asyncio.wait({stopped, lost}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopped, lost):
            task.cancel()
        if bus.connected:
            controls._player.emit_properties_changed({"PlaybackStatus": "Stopped"})
            # A round trip: the signal is on the wire before the connection closes.
            with contextlib.suppress(Exception):
                await bus.release_name(controls.bus_name)
    finally:
        controls._serving.clear()
        bus.disconnect()


def metadata(track: "Track", album: str) -> dict:
    """The MPRIS Metadata of ``track`` of the routine ``album``."""
    found = {
        "mpris:trackid": Variant("o", track.track_id),
        "xesam:album": Variant("s", album),
        "xesam:artist": Variant("as", [IDENTITY]),
    }
    if track.number:
        found["xesam:title"] = Variant("s", track.title)
        found["xesam:trackNumber"] = Variant("i", track.number)
        found["mpris:length"] = Variant("x", track.length_us)
    return found
