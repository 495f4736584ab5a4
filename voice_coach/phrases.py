"""The words voice-coach says itself, in English, German, Spanish and French.

Pure: a language code in, the phrases of that language out. The routine's own
text (names, instructions) is spoken as written; these are the cues around it:
sides, switches, rounds, halfway and other fractions, "N seconds left", the
closing phrase, the player's "Resuming" and its answers to spoken commands.

Numbers stay digits: every voice reads digits in its own language, and captions
and the timeline stay short. The language is the routine's ``language:``, else
the voice's (see :func:`language_of_voice`); anything else falls back to English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LANGUAGES = ("en", "de", "es", "fr")
FALLBACK = "en"


@dataclass(frozen=True)
class Limb:
    """A body part's words for side cues: "Left leg", "Switch legs"."""

    left: str
    right: str
    switch: str


@dataclass(frozen=True)
class Phrases:
    """Every cue phrase of one language."""

    language: str
    halfway: str
    release: str
    closing: str
    resuming: str
    #: Said when a spoken command is heard (voice-coach play --listen), by its word.
    heard: dict[str, str]
    #: "{n} of {total}" after a side, and "Round {n} of {total}" alone.
    rep_of: str
    round_of: str
    seconds_left: str
    one_second_left: str
    minutes_left: str
    one_minute_left: str
    fractions: dict[tuple[int, int], str]
    limbs: dict[str, Limb]
    #: Side cues for a limb not in ``limbs``: English words can be filled in with
    #: the routine's own limb; other languages fall back to their word for "side".
    any_limb: Limb | None = None

    def limb(self, name: str) -> Limb:
        """The side words for ``name`` (leg, arm, side, ...)."""
        if name in self.limbs:
            return self.limbs[name]
        if self.any_limb is not None:
            return Limb(
                self.any_limb.left.format(limb=name),
                self.any_limb.right.format(limb=name),
                self.any_limb.switch.format(limb=name),
            )
        return self.limbs["side"]

    def side(self, limb: str, side: str) -> str:
        """ "Left leg" (no full stop)."""
        words = self.limb(limb)
        return words.left if side == "left" else words.right

    def switch(self, limb: str) -> str:
        """ "Switch legs."."""
        return self.limb(limb).switch + "."

    def time_left(self, seconds: int) -> str:
        """ "10 seconds left.", "1 minute left.", "2 minutes left."."""
        if seconds % 60 == 0:
            minutes = seconds // 60
            return self.one_minute_left if minutes == 1 else self.minutes_left.format(n=minutes)
        return self.one_second_left if seconds == 1 else self.seconds_left.format(n=seconds)

    def fraction(self, numerator: int, denominator: int) -> str:
        """The cue for a fraction of a hold: "A third done."."""
        return self.fractions[(numerator, denominator)]


ENGLISH = Phrases(
    language="en",
    halfway="Halfway.",
    release="And release.",
    closing="That is the whole routine. Well done.",
    resuming="Resuming.",
    heard={"pause": "Paused.", "next": "Next.", "back": "Back.", "repeat": "Again."},
    rep_of="{n} of {total}",
    round_of="Round {n} of {total}",
    seconds_left="{n} seconds left.",
    one_second_left="1 second left.",
    minutes_left="{n} minutes left.",
    one_minute_left="1 minute left.",
    fractions={
        (1, 4): "A quarter done.",
        (1, 3): "A third done.",
        (1, 2): "Halfway.",
        (2, 3): "Two thirds done.",
        (3, 4): "Three quarters done.",
    },
    limbs={
        "side": Limb("Left side", "Right side", "Switch sides"),
        "foot": Limb("Left foot", "Right foot", "Switch feet"),
    },
    any_limb=Limb("Left {limb}", "Right {limb}", "Switch {limb}s"),
)

GERMAN = Phrases(
    language="de",
    halfway="Halbzeit.",
    release="Und lösen.",
    closing="Geschafft, das war die ganze Einheit. Gut gemacht.",
    resuming="Weiter geht's.",
    heard={"pause": "Pause.", "next": "Weiter.", "back": "Zurück.", "repeat": "Noch einmal."},
    rep_of="{n} von {total}",
    round_of="Runde {n} von {total}",
    seconds_left="Noch {n} Sekunden.",
    one_second_left="Noch eine Sekunde.",
    minutes_left="Noch {n} Minuten.",
    one_minute_left="Noch eine Minute.",
    fractions={
        (1, 4): "Ein Viertel geschafft.",
        (1, 3): "Ein Drittel geschafft.",
        (1, 2): "Halbzeit.",
        (2, 3): "Zwei Drittel geschafft.",
        (3, 4): "Drei Viertel geschafft.",
    },
    limbs={
        "side": Limb("Linke Seite", "Rechte Seite", "Seite wechseln"),
        "leg": Limb("Linkes Bein", "Rechtes Bein", "Bein wechseln"),
        "arm": Limb("Linker Arm", "Rechter Arm", "Arm wechseln"),
        "foot": Limb("Linker Fuß", "Rechter Fuß", "Fuß wechseln"),
        "hand": Limb("Linke Hand", "Rechte Hand", "Hand wechseln"),
        "shoulder": Limb("Linke Schulter", "Rechte Schulter", "Seite wechseln"),
        "hip": Limb("Linke Hüfte", "Rechte Hüfte", "Seite wechseln"),
        "knee": Limb("Linkes Knie", "Rechtes Knie", "Seite wechseln"),
        "wrist": Limb("Linkes Handgelenk", "Rechtes Handgelenk", "Seite wechseln"),
        "ankle": Limb("Linker Knöchel", "Rechter Knöchel", "Seite wechseln"),
    },
)

SPANISH = Phrases(
    language="es",
    halfway="Vamos por la mitad.",
    release="Y suelta.",
    closing="Rutina terminada. ¡Buen trabajo!",
    resuming="Seguimos.",
    heard={"pause": "En pausa.", "next": "Siguiente.", "back": "Atrás.", "repeat": "Otra vez."},
    rep_of="{n} de {total}",
    round_of="Ronda {n} de {total}",
    seconds_left="Quedan {n} segundos.",
    one_second_left="Queda un segundo.",
    minutes_left="Quedan {n} minutos.",
    one_minute_left="Queda un minuto.",
    fractions={
        (1, 4): "Llevas un cuarto.",
        (1, 3): "Llevas un tercio.",
        (1, 2): "Vamos por la mitad.",
        (2, 3): "Llevas dos tercios.",
        (3, 4): "Llevas tres cuartos.",
    },
    limbs={
        "side": Limb("Lado izquierdo", "Lado derecho", "Cambia de lado"),
        "leg": Limb("Pierna izquierda", "Pierna derecha", "Cambia de pierna"),
        "arm": Limb("Brazo izquierdo", "Brazo derecho", "Cambia de brazo"),
        "foot": Limb("Pie izquierdo", "Pie derecho", "Cambia de pie"),
        "hand": Limb("Mano izquierda", "Mano derecha", "Cambia de mano"),
        "shoulder": Limb("Hombro izquierdo", "Hombro derecho", "Cambia de lado"),
        "hip": Limb("Cadera izquierda", "Cadera derecha", "Cambia de lado"),
        "knee": Limb("Rodilla izquierda", "Rodilla derecha", "Cambia de lado"),
        "wrist": Limb("Muñeca izquierda", "Muñeca derecha", "Cambia de lado"),
        "ankle": Limb("Tobillo izquierdo", "Tobillo derecho", "Cambia de lado"),
    },
)

FRENCH = Phrases(
    language="fr",
    halfway="On est à la moitié.",
    release="Et relâchez.",
    closing="Séance terminée. Bravo !",
    resuming="On reprend.",
    heard={"pause": "En pause.", "next": "Suivant.", "back": "Retour.", "repeat": "On recommence."},
    rep_of="{n} sur {total}",
    round_of="Série {n} sur {total}",
    seconds_left="Encore {n} secondes.",
    one_second_left="Encore une seconde.",
    minutes_left="Encore {n} minutes.",
    one_minute_left="Encore une minute.",
    fractions={
        (1, 4): "Un quart de fait.",
        (1, 3): "Un tiers de fait.",
        (1, 2): "On est à la moitié.",
        (2, 3): "Deux tiers de faits.",
        (3, 4): "Trois quarts de faits.",
    },
    limbs={
        "side": Limb("Côté gauche", "Côté droit", "Changez de côté"),
        "leg": Limb("Jambe gauche", "Jambe droite", "Changez de jambe"),
        "arm": Limb("Bras gauche", "Bras droit", "Changez de bras"),
        "foot": Limb("Pied gauche", "Pied droit", "Changez de pied"),
        "hand": Limb("Main gauche", "Main droite", "Changez de main"),
        "shoulder": Limb("Épaule gauche", "Épaule droite", "Changez de côté"),
        "hip": Limb("Hanche gauche", "Hanche droite", "Changez de côté"),
        "knee": Limb("Genou gauche", "Genou droit", "Changez de côté"),
        "wrist": Limb("Poignet gauche", "Poignet droit", "Changez de côté"),
        "ankle": Limb("Cheville gauche", "Cheville droite", "Changez de côté"),
    },
)

_BY_LANGUAGE = {phrases.language: phrases for phrases in (ENGLISH, GERMAN, SPANISH, FRENCH)}


def base_language(code: str | None) -> str | None:
    """The two- or three-letter language of a code: "de_AT" and "de-AT" give "de"."""
    if not code:
        return None
    return re.split(r"[-_]", code.strip(), maxsplit=1)[0].casefold() or None


def phrases_for(code: str | None) -> Phrases:
    """The phrases of the language of ``code``; English when there are none in it."""
    return _BY_LANGUAGE.get(base_language(code) or FALLBACK, ENGLISH)


#: Voice names that carry their language: a bare code ("de", "fr_FR"), an eSpeak
#: id ("gmw/de", "roa/fr"), or a Piper voice ("de_DE-thorsten-medium").
_VOICE_LANGUAGE = re.compile(r"(?:^|/)([a-z]{2})(?:[-_][A-Za-z]{2,4})?$|^([a-z]{2})_[A-Z]{2}-")


def language_of_voice(voice: str | None) -> str | None:
    """The language a voice name or id gives away, if it gives one away."""
    if not voice:
        return None
    # A Piper voice file's name says it: /voices/de_DE-thorsten-medium.onnx.
    name = voice.strip().replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".onnx")
    match = _VOICE_LANGUAGE.search(name) or _VOICE_LANGUAGE.search(voice.strip())
    if not match:
        return None
    return match.group(1) or match.group(2)
