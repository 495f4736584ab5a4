"""The commented routine that `voice-coach new NAME` writes: a valid routine to edit.

Pure: a name in, YAML text out. Every setting appears once, with a comment that
says what it does; the optional ones are commented out at their defaults.
"""

from __future__ import annotations

import json
import re
import unicodedata

_TEMPLATE = """\
# {heading}: a voice-coach routine. Check it with: voice-coach check {file}
# Editors can complete and check it as you type: see "Editor support" in the README.
name: {title}
description: >-
  What this routine is for, in a sentence or two (shown by `voice-coach list`).
# language: en        # en, de, es or fr: the language of the cues ("Left leg", ...)

# Settings for every step; each step may set its own.
defaults:
  hold: 30            # seconds each hold lasts
  prep: 5             # seconds of quiet after the instructions, to get into position
  rest: 5             # seconds of quiet after each hold
  switch: 5           # seconds of quiet between the two sides
  sides: each         # each: left, then right; none: one hold
  limb: side          # the side cues' word: "Left leg", "Switch legs" with leg
  reps: 1             # holds per side
  countdown: 5        # speak the last 5 seconds; off; or {{every: 5}} for 25, 20, 15 ...
  # warn: [10]        # "10 seconds left."
  halfway: true       # "Halfway." in holds of 20 seconds or more
  # fractions: [1/3, 2/3]   # cues at a third and two thirds of each hold
  # pause_after_step: true  # wait for a key after each step (live play)
  # The whole routine's sound (these belong in defaults only):
  # sounds: bell      # chime, bell, woodblock or beep; or your own files beside this one:
  # sounds: {{set: bell, finish: sounds/gong.ogg}}
  # chime_level: -6   # sounds, in dB, against speech
  # speech_level: 0   # speech, in dB, against the sounds
  # voice: en-us      # see `voice-coach voices`
  # rate: 170         # words a minute
  # volume: 80        # playing volume in percent

steps:
  - name: First stretch
    instructions: >-
      Say how to get into the stretch, and what the listener should feel.
      Eyes may be closed: describe, don't show.

  - name: Second stretch
    instructions: >-
      A stretch with no sides, held twice.
    sides: none
    reps: 2
    hold: 20
"""


#: Longest title a template gets, and longest default file name stem, in characters.
MAX_TITLE = 100
MAX_STEM = 80


def template_file_name(name: str) -> str:
    """The file `new NAME` writes by default: NAME as a file name, with .yaml."""
    if name.endswith((".yaml", ".yml")):
        return name
    stem = re.sub(r"[^\w.-]+", "-", name.strip()).strip("-.").lower()[:MAX_STEM].strip("-.")
    return f"{stem or 'routine'}.yaml"


def routine_template(name: str) -> str:
    """The YAML of a new routine called ``name``, every setting explained."""
    visible = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    words = re.sub(r"\.ya?ml$", "", visible).replace("-", " ").replace("_", " ").split()
    title = " ".join(words)
    if len(title) > MAX_TITLE:  # a name, not a paragraph: cut at a word
        title = title[:MAX_TITLE].rsplit(" ", 1)[0] or title[:MAX_TITLE]
    title = (title[:1].upper() + title[1:]) or "My routine"
    # As a JSON string, which is a YAML double-quoted string: any title reads back as itself.
    return _TEMPLATE.format(heading=title, title=json.dumps(title), file=template_file_name(name))
