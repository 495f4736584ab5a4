"""Spoken commands: "coach pause", "coach resume", "coach next", "coach back", "coach repeat".

``voice-coach play --listen`` hears the default microphone while the routine plays.
pocketsphinx (the ``listen`` extra; its US English model ships inside the package)
spots the five phrases in each utterance (speech after a pause, found by a voice
activity detector) in two stages: a keyphrase search says whether a command may
have been said; a small grammar of the five commands then says which one it was,
if it fits about as well as free phones do. The keyphrase search alone confuses
the short commands with each other; the grammar alone hears commands in the
coach's own words three times as often.

**Echo gating.** Through open speakers the microphone also hears the coach. The
player knows exactly when its own voice sounds: the speech cues of the Script,
and what it inserts (the lead-in on resume, these confirmations), placed on the
output clock by the blocks it wrote and the DAC times PortAudio gave for them. A
detection that overlaps any of that, give or take :data:`ECHO_MARGIN_SECONDS`,
is ignored, so the coach's own instructions never trigger a command.

**Confirmation.** Each command is confirmed by a short word in the routine's
language ("Paused.", "Next."), inserted before whatever plays next; a resume is
confirmed by the player's own lead-in ("Resuming." 3, 2, 1).

Spoken commands reach the player as the strings the keyboard's keys give, so the
player's main loop applies them like any key. pocketsphinx is imported only when
listening starts; the microphone is opened by the player (the one module that
talks to PortAudio), which hands it to :class:`Listener`.
"""

from __future__ import annotations

import bisect
import contextlib
import importlib.util
import itertools
import os
import queue
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .echo import is_echo
from .errors import PlaybackError
from .inbox import Inbox
from .phrases import phrases_for
from .transport import Command

if TYPE_CHECKING:
    from .routine import Routine
    from .speech import Speaker

#: The keyword spotter's sample rate (its acoustic model's).
SPOTTER_RATE = 16000
#: Sound is searched in pieces of this many samples (20 ms), so that a command is
#: found at most this late.
FEED_SAMPLES = 320
WAKE_WORD = "coach"
#: What each spoken word after the wake word does: the player's command for it.
COMMANDS = {
    "pause": Command.PAUSE,
    "resume": Command.RESUME,
    "next": Command.NEXT,
    "back": Command.PREVIOUS,
    "repeat": Command.REPEAT,
}
#: Keyphrase thresholds (pocketsphinx's kws ``/threshold/``, a likelihood ratio):
#: smaller finds more. The keyphrase search only offers candidates; the grammar
#: names the command and the phone recogniser vouches for it. Tuned with
#: ``scripts/bench listen``.
THRESHOLDS = dict.fromkeys(COMMANDS, 1e-35)
#: Frames (10 ms) the keyphrase search waits after a candidate for a better one.
KWS_DELAY_FRAMES = 5
#: pocketsphinx's ``kws_plp``: how likely the keyphrase search finds any other sound.
PHONE_LOOP_PROBABILITY = 1e-5
#: An utterance is judged once this much quiet ends it, in seconds ...
QUIET_SECONDS = 0.06
#: ... or once the level has been this close to the noise floor (its 10th percentile
#: over :data:`FLOOR_SECONDS`) for :data:`HUSH_SECONDS`: the detector holds on to
#: speech for up to 150 ms after it ends.
HUSH_DB = 10.0
HUSH_SECONDS = 0.1
FLOOR_SECONDS = 5.0
#: ... and is over after this much quiet (a shorter gap, as the comma in "coach,
#: pause", is inside it). A command must also follow this much quiet.
GAP_SECONDS = 0.35
#: A longer utterance is no command: it is someone talking, in seconds.
MAX_COMMAND_SECONDS = 2.0
#: pocketsphinx's voice activity detector's mode, 0 (loose) to 3 (strict).
VAD_MODE = 0
#: The grammar and phone recogniser also hear this much before an utterance, in seconds.
LEAD_SECONDS = 0.3
#: The phone recogniser's language weight (pocketsphinx's ``lw``).
PHONE_LM_WEIGHT = 2.0
#: The least confidence for a command: the grammar's log likelihood minus the phone
#: recogniser's, per 10 ms frame, in pocketsphinx's log units (base 1.0001, scaled).
MIN_CONFIDENCE = -8.5
#: ... or the grammar offered this long before the end of speech, in seconds.
RECENT_SECONDS = 0.1
#: The dither the voice activity detector hears under the sound: its RMS, in int16
#: steps (about -84 dBFS).
VAD_DITHER = 2.0
#: A microphone that has sent nothing for this long, and is no longer running, has
#: stopped (unplugged): listening ends with a notice, in seconds.
MICROPHONE_SILENT_SECONDS = 1.0
#: The keyphrase search starts afresh this often, in seconds, so its lists stay short.
RESTART_SECONDS = 60.0
#: Pronunciations the US English dictionary lacks, in its phones: British vowels
#: (the "oa" of "coach" as a diphthong, the "a" of "back" open), which eSpeak's
#: default English voice speaks too.
EXTRA_PRONUNCIATIONS = {"coach": ["K AH UW CH"], "back": ["B AA K"]}
#: Numbered after the dictionary's own variants (it has up to "resume(3)").
VARIANT_NUMBER = 5
INSTALL_HINT = (
    "spoken commands need pocketsphinx; install it with "
    "`python -m pip install 'voice-coach[listen]'` (on Python 3.14, and 3.12 on ARM Linux, "
    "where it has no wheel, `python -m pip install pocketsphinx` builds it with a C compiler)"
)
_GRAMMAR = (
    f"#JSGF V1.0;\ngrammar commands;\npublic <command> = {WAKE_WORD} ( {' | '.join(COMMANDS)} );\n"
)


def _variants() -> list[tuple[str, str]]:
    """The extra pronunciations as dictionary entries: ("coach(2)", "K AH UW CH")."""
    return [
        (f"{word}({index})", phones)
        for word, variants in EXTRA_PRONUNCIATIONS.items()
        for index, phones in enumerate(variants, start=VARIANT_NUMBER)
    ]


def _spellings(word: str) -> list[str]:
    """``word`` and the dictionary names of its extra pronunciations."""
    extra = len(EXTRA_PRONUNCIATIONS.get(word, ()))
    return [word, *(f"{word}({index})" for index in range(VARIANT_NUMBER, VARIANT_NUMBER + extra))]


def require_pocketsphinx() -> None:
    """Raise PlaybackError, saying how to install the ``listen`` extra, if pocketsphinx
    is missing."""
    if importlib.util.find_spec("pocketsphinx") is None:
        raise PlaybackError(INSTALL_HINT)


@dataclass(frozen=True)
class Detection:
    """A command heard in the spotter's input, placed in input samples (16 kHz from
    the first sample fed)."""

    word: str  # "pause", "next", ... (the word after the wake word)
    start_sample: int
    end_sample: int
    #: Input samples fed when it was found: ``- end_sample`` is the search's delay.
    found_at_sample: int

    @property
    def command(self) -> Command:
        """The player command this word gives (Command.PAUSE for "pause", ...)."""
        return COMMANDS[self.word]

    @property
    def phrase(self) -> str:
        """What was said: "coach pause"."""
        return f"{WAKE_WORD} {self.word}"


class KeywordSpotter:
    """Finds the five commands in 16 kHz int16 sound fed to it piece by piece.

    A command is an utterance on its own. pocketsphinx's voice activity detector
    splits the sound into utterances: speech, over gaps shorter than
    :data:`GAP_SECONDS` (the comma in "coach, pause"), after at least that much
    quiet. Each utterance is heard, as it comes, by a grammar that knows only the
    five commands, by a free phone recogniser (allphone) and by the keyphrase search
    (started afresh with each utterance). Once :data:`QUIET_SECONDS` of quiet may
    have ended it, the grammar names the command if the keyphrase search found one
    in it too and the grammar's fit is within :data:`MIN_CONFIDENCE` of the phone
    recogniser's, frame for frame. (The grammar's partial result may lose its last
    word as the quiet goes on, so its last full command counts for a moment.) If
    the utterance goes on, it is judged again when it pauses again; one longer than
    :data:`MAX_COMMAND_SECONDS` is someone talking.

    Not thread-safe: one thread feeds it. Raises PlaybackError when pocketsphinx
    is missing.
    """

    def __init__(self, thresholds: Mapping[str, float] | None = None) -> None:
        require_pocketsphinx()
        from pocketsphinx import Decoder, Vad, get_model_path

        thresholds = {**THRESHOLDS, **(thresholds or {})}
        # Dither: digital silence (a paused player, a muted microphone) would give the
        # model features it never saw; a fixed seed keeps results repeatable.
        common = {"lm": None, "dither": True, "seed": 1, "logfn": os.devnull}
        self._search = Decoder(kws_delay=KWS_DELAY_FRAMES, kws_plp=PHONE_LOOP_PROBABILITY, **common)
        self._grammar = Decoder(**common)
        self._phones = Decoder(
            allphone=get_model_path("en-us/en-us-phone.lm.bin"), lw=PHONE_LM_WEIGHT, **common
        )
        for decoder in (self._search, self._grammar):
            for name, phones in _variants():
                decoder.add_word(name, phones, True)
        with tempfile.TemporaryDirectory(prefix="voice-coach-kws-") as folder:
            # pocketsphinx reads per-phrase thresholds only from a file.
            keyphrases = os.path.join(folder, "commands.kws")
            with open(keyphrases, "w", encoding="ascii") as file:
                for word in COMMANDS:
                    for wake, said in itertools.product(_spellings(WAKE_WORD), _spellings(word)):
                        file.write(f"{wake} {said} /{thresholds[word]:g}/\n")
            self._search.add_kws("commands", keyphrases)
        self._search.activate_search("commands")
        self._grammar.add_jsgf_string("commands", _GRAMMAR)
        self._grammar.activate_search("commands")
        self._dither = np.random.default_rng(1)  # a fixed seed: repeatable results
        self._vad = Vad(VAD_MODE, SPOTTER_RATE, FEED_SAMPLES / SPOTTER_RATE)
        self._frame_samples = SPOTTER_RATE // int(self._search.config["frate"])
        self._lead: deque[bytes] = deque(maxlen=round(LEAD_SECONDS * SPOTTER_RATE / FEED_SAMPLES))
        self._unfed = np.zeros(0, dtype=np.int16)
        self.fed = 0  # input samples searched so far
        self._search_start = 0  # input sample where the keyphrase search's utterance began
        self._candidate_end = -1  # input sample where its latest candidate ended
        self._candidates_seen: set[tuple[str, int, int]] = set()
        self._quiet_samples = round(GAP_SECONDS * SPOTTER_RATE)  # quiet since the last speech
        self._hushed_samples = 0  # quiet, or at the noise floor, since the last speech
        #: The level of each recent piece (dB, of int16 samples), for the noise floor.
        self._levels: deque[float] = deque(
            maxlen=round(FLOOR_SECONDS * SPOTTER_RATE / FEED_SAMPLES)
        )
        #: The utterance being heard: where it began and how many samples the
        #: grammar and phone recogniser have heard of it (None between utterances).
        self._onset: int | None = None
        self._heard = 0
        #: The last command the grammar offered in it, and the input sample then.
        self._last_command: tuple[str, int] | None = None
        #: Where the utterance ended when last judged, and whether the detector had
        #: heard it end.
        self._judged = (0, False)
        self._talking = False  # an utterance too long for a command is going on
        self._search.start_utt()

    def feed(self, pcm: np.ndarray) -> list[Detection]:
        """Search the next int16 mono samples; the commands found in them."""
        pcm = np.concatenate([self._unfed, np.asarray(pcm, dtype=np.int16)])
        found: list[Detection] = []
        whole = len(pcm) - len(pcm) % FEED_SAMPLES
        for start in range(0, whole, FEED_SAMPLES):
            detection = self._feed_piece(pcm[start : start + FEED_SAMPLES])
            if detection is not None:
                found.append(detection)
        self._unfed = pcm[whole:]
        return found

    def close(self) -> None:
        """End the searches (the decoders are freed with this object)."""
        for decoder in (self._search, self._grammar, self._phones):
            with contextlib.suppress(RuntimeError):
                decoder.end_utt()

    def _feed_piece(self, piece: np.ndarray) -> Detection | None:
        data = piece.tobytes()
        # The detector and the level hear the sound dithered. After exact zeros (a
        # paused player's echo through a quiet microphone) the detector takes the
        # faintest noise for speech that never ends, so a command said then would go
        # unheard; and a noise floor measured on zeros would put the routine's own
        # faint noise well above it, so the end of a command would be heard late.
        dithered = piece + self._dither.normal(0.0, VAD_DITHER, len(piece))
        speech = self._vad.is_speech(
            np.clip(np.rint(dithered), -32768, 32767).astype(np.int16).tobytes()
        )
        self._search.process_raw(data, False, False)
        self.fed += len(piece)
        self._note_candidates()
        quiet_before = self._quiet_samples
        self._quiet_samples = 0 if speech else self._quiet_samples + len(piece)
        level = 10 * np.log10(np.mean(dithered**2) + 1.0)
        self._levels.append(level)
        floor = float(np.percentile(self._levels, 10))
        hushed = not speech or level < floor + HUSH_DB
        self._hushed_samples = self._hushed_samples + len(piece) if hushed else 0
        # The lead is always the latest sound: an utterance may begin soon after the
        # last one ended, and must not be heard with that one's start before it.
        self._lead.append(data)
        if self._onset is None:
            if speech and quiet_before >= GAP_SECONDS * SPOTTER_RATE:
                self._begin_utterance()
            elif self._quiet_samples >= GAP_SECONDS * SPOTTER_RATE:
                self._talking = False
            if self._onset is None:
                if self.fed - self._search_start > RESTART_SECONDS * SPOTTER_RATE:
                    self._restart_search()
                return None
        else:
            self._hear(data)
        end = self.fed - self._hushed_samples
        if self._quiet_samples >= GAP_SECONDS * SPOTTER_RATE:
            self._end_utterance()  # over, and no command
            return None
        if end - self._onset > MAX_COMMAND_SECONDS * SPOTTER_RATE:
            self._end_utterance()
            self._talking = True  # someone talking: not until the next quiet
            return None
        # Judged when the level has fallen for a while, and again when the detector
        # agrees that speech has ended (unless the first judgement found the command).
        confirmed = self._quiet_samples >= QUIET_SECONDS * SPOTTER_RATE
        if not confirmed and self._hushed_samples < HUSH_SECONDS * SPOTTER_RATE:
            return None
        if (end, confirmed) == self._judged or end < self._judged[0]:
            return None
        self._judged = (end, confirmed)
        detection = self._judge(end)
        if detection is not None:
            self._end_utterance()
            self._restart_search()  # so that the same command is not offered again
        return detection

    def _begin_utterance(self) -> None:
        if self._talking:
            return
        self._onset = self.fed - FEED_SAMPLES
        self._judged = (0, False)
        # Both hear it with the cepstral mean the running search has learnt, and
        # from a little before it (its first sounds may be too soft to count).
        # The keyphrase search starts afresh on it too: a search that has run through
        # the coach's loud voice can miss a command it finds in the same sound alone.
        cmn = self._search.get_cmn()
        self._restart_search(cmn, self.fed - len(self._lead) * FEED_SAMPLES)
        for data in self._lead:
            self._search.process_raw(data, False, False)
        for decoder in (self._grammar, self._phones):
            decoder.set_cmn(cmn)
            decoder.start_utt()
        self._heard = 0
        self._last_command = None
        for data in self._lead:
            self._hear(data)

    def _hear(self, data: bytes) -> None:
        for decoder in (self._grammar, self._phones):
            decoder.process_raw(data, False, False)
        self._heard += len(data) // 2
        # The grammar's partial hypothesis may flip back to "coach" while the quiet
        # after "next" goes on (no word has ended in it yet): keep the last full
        # command it offered, to judge by if the current one falls short.
        command = self._command_now()
        if command is not None:
            self._last_command = (command, self.fed)

    def _end_utterance(self) -> None:
        if self._onset is None:
            return
        for decoder in (self._grammar, self._phones):
            decoder.end_utt()
        self._onset = None

    def _judge(self, end: int) -> Detection | None:
        """The command said in the utterance so far, if it is one."""
        onset = self._onset
        if onset is None or self._candidate_end <= onset:
            return None  # the keyphrase search found none in it
        # The utterance's last full command, which _hear has just brought up to date:
        # the grammar's current hypothesis, or one it offered a moment before.
        if self._last_command is None:
            return None
        word, at = self._last_command
        if at < end - RECENT_SECONDS * SPOTTER_RATE:
            return None
        return Detection(word, onset, end, self.fed)

    def _command_now(self) -> str | None:
        """The command word the grammar hears now, if it fits about as well as free
        phones (the confidence test)."""
        grammar = self._grammar.hyp()
        if grammar is None:
            return None
        words = [word.split("(")[0] for word in grammar.hypstr.split()]  # "back(5)" is "back"
        if len(words) != 2 or words[0] != WAKE_WORD or words[1] not in COMMANDS:
            return None
        phones = self._phones.hyp()
        if phones is None:
            return None
        fit = self._grammar.get_logmath().log(grammar.score)
        free = self._phones.get_logmath().log(phones.score)
        if (fit - free) / (self._heard / self._frame_samples) < MIN_CONFIDENCE:
            return None
        return words[1]

    def _note_candidates(self) -> None:
        """Note where the keyphrase search's latest new candidate ended."""
        if self._search.hyp() is None:
            return
        # A candidate may be replaced by a better one of the same phrase as the
        # sound goes on: each version is a new candidate.
        candidates = {
            (segment.word, segment.start_frame, segment.end_frame) for segment in self._search.seg()
        }
        for _, _, end_frame in candidates - self._candidates_seen:
            end = self._search_start + (end_frame + 1) * self._frame_samples
            self._candidate_end = max(self._candidate_end, end)
        self._candidates_seen |= candidates

    def _restart_search(self, cmn: str | None = None, start: int | None = None) -> None:
        """Start the keyphrase search afresh at input sample ``start`` (default: now),
        keeping its cepstral mean ``cmn`` if given."""
        self._search.end_utt()
        if cmn is not None:
            self._search.set_cmn(cmn)
        self._search.start_utt()
        self._search_start = self.fed if start is None else start
        self._candidates_seen = set()


# ------------------------------------------------------------------------- the listener
class Listener(Inbox):
    """The microphone, heard for spoken commands while a routine plays.

    Call ``start()`` once, then from the player's loop: ``commands()`` and
    ``notices()`` to collect what was heard, ``confirm()`` once a command has been
    applied, and ``close()`` at the end, whatever the end.

    The microphone's callback only queues the sound; a thread of its own feeds it
    to the :class:`KeywordSpotter`, places what it finds on the output clock, drops
    what overlaps the coach's own voice, and queues the rest as player commands.

    Parameters
    ----------
    transport:
        The player's Transport: its output blocks, Script and ``announce``.
    output:
        The output stream: its clock (``time``) and ``clock_log`` of DAC times.
    open_microphone:
        ``open_microphone(rate, block_samples, callback)`` opens and starts the
        default input, mono int16, calling ``callback(samples, latency)`` with each
        block and how long ago (seconds) its first sample was captured; it raises
        PlaybackError when there is no microphone.
    speaker, routine:
        The voice and routine the confirmations are spoken in (at the routine's
        speech level).
    """

    def __init__(
        self,
        transport,
        output,
        open_microphone: Callable,
        speaker: Speaker,
        routine: Routine,
    ) -> None:
        super().__init__()
        self.transport = transport
        self.output = output
        self._open_microphone = open_microphone
        self._speaker = speaker
        self._routine = routine
        self._sound: queue.SimpleQueue[tuple[np.ndarray, float]] = queue.SimpleQueue()
        self._confirmations: dict[str, np.ndarray] = {}
        #: A byte is written here with each command, to wake the player's loop (where
        #: select() takes pipes: not on Windows, whose loop just polls).
        self.wake_fd: int | None = None
        self._wake_write: int | None = None
        if os.name == "posix":
            self.wake_fd, self._wake_write = os.pipe()
            os.set_blocking(self._wake_write, False)
        self._stopped = False
        self._microphone = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        #: (input sample, output clock time) of each microphone block's first sample.
        self._anchors: deque[tuple[int, float]] = deque(maxlen=1024)
        self._received = 0

    def start(self) -> None:
        """Open the microphone and start listening; PlaybackError if that cannot be done."""
        require_pocketsphinx()
        self._microphone = self._open_microphone(SPOTTER_RATE, FEED_SAMPLES, self._capture)
        self._thread = threading.Thread(target=self._listen, name="voice-coach-listen", daemon=True)
        self._thread.start()

    def confirm(self, command: str) -> None:
        """Say that ``command`` was heard and applied (call after applying it: a jump
        would cut the confirmation short). A resume's lead-in says so already."""
        clip = self._confirmations.get(command)
        if clip is not None:
            self.transport.announce(clip)

    def close(self) -> None:
        """Stop the microphone and the listening thread."""
        self._closing.set()
        self._stop_microphone()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for fd in (self.wake_fd, self._wake_write):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _stop_microphone(self) -> None:
        self._stopped = True  # blocks still on their way are dropped
        if self._microphone is not None:
            with contextlib.suppress(Exception):
                self._microphone.abort()
            with contextlib.suppress(Exception):
                self._microphone.close()

    # ------------------------------------------------------------- threads
    def _capture(self, samples: np.ndarray, latency: float) -> None:
        """The microphone's callback: queue the block with when its first sample was
        captured (on the monotonic clock)."""
        if not self._stopped:
            self._sound.put((samples, time.monotonic() - latency))

    def _listen(self) -> None:
        try:
            spotter = KeywordSpotter()
        except Exception as error:  # a broken pocketsphinx install: say so, play on
            self._notices.put(f"spoken commands are not available: {error}")
            self._stop_microphone()
            return
        try:
            try:
                self._prepare_confirmations()
            except Exception as error:  # the commands still work, unconfirmed
                self._notices.put(f"spoken commands will not be answered: {error}")
            waited = 0.0
            while not self._closing.is_set():
                try:
                    samples, captured = self._sound.get(timeout=0.1)
                except queue.Empty:
                    waited += 0.1
                    if waited >= MICROPHONE_SILENT_SECONDS and not getattr(
                        self._microphone, "active", True
                    ):
                        raise PlaybackError("the microphone stopped") from None
                    continue
                waited = 0.0
                # The output clock is PortAudio's stream time; both clocks run at
                # real time, so one offset taken now places this block on it.
                self._anchors.append(
                    (self._received, captured + self.output.time - time.monotonic())
                )
                self._received += len(samples)
                for detection in spotter.feed(samples):
                    self._judge(detection)
        except Exception as error:  # the microphone or the decoder failed
            if not self._closing.is_set():
                self._notices.put(f"spoken commands stopped: {error}")
                self._stop_microphone()
        finally:
            spotter.close()

    def _judge(self, detection: Detection) -> None:
        """Queue ``detection``'s command, unless it overlaps the coach's own voice."""
        start = self._input_time(detection.start_sample)
        end = self._input_time(detection.end_sample)
        if self._is_echo(start, end):
            return
        self._notices.put(f'heard "{detection.phrase}"')
        self._commands.put(detection.command)
        if self._wake_write is not None:
            with contextlib.suppress(OSError):  # the player has closed the pipe: it is ending
                os.write(self._wake_write, b"!")

    def _input_time(self, input_sample: int) -> float:
        """Output clock time of microphone sample ``input_sample``."""
        samples = [sample for sample, _ in self._anchors]
        at = max(bisect.bisect_right(samples, input_sample) - 1, 0)
        sample, when = self._anchors[at]
        return when + (input_sample - sample) / SPOTTER_RATE

    def _is_echo(self, start: float, end: float) -> bool:
        clock_points = [(dac, index) for dac, index in list(self.output.clock_log) if dac]
        transport = self.transport
        return is_echo(
            start, end, list(transport.blocks), transport.script, clock_points, transport.rate
        )

    def _prepare_confirmations(self) -> None:
        """The confirmation clips, in the routine's language and at its speech level."""
        transport = self.transport
        language = transport.script.language if transport.script is not None else None
        words = phrases_for(language)
        by_command = {COMMANDS[word]: text for word, text in words.heard.items()}
        by_command[Command.RESUME] = words.resuming  # heard when playing already
        from .pipeline import level_gains

        clips = self._speaker.clips(by_command.values())
        gain = level_gains(self._routine)[1]
        self._confirmations = {
            command: (clips[text] * gain).astype(np.float32) for command, text in by_command.items()
        }
