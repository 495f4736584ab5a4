#!/usr/bin/env bash
# The hand-made baseline for `scripts/bench export`: what a user might script
# without voice-coach, given a routine's cue list. Every speech cue is spoken
# by espeak-ng (one call per cue, no cache), every chime is its sound file;
# sox puts each one after the silence before it and joins them all into one
# WAV, and lame encodes that to MP3.
#
#   scripts/bench_baseline.sh CUES.tsv SOUNDS_DIR DURATION_SECONDS OUT.mp3
#
# CUES.tsv has one cue a line, in time order: start seconds, kind (speech or
# chime), text (the words, or the chime's name: SOUNDS_DIR/<name>.wav).
# It does no trimming and no loudness levelling: the bare minimum a user would
# do, so it is the cheapest fair rival.
set -euo pipefail

cues=$1 sounds=$2 duration=$3 out=$4
rate=22050 # eSpeak NG's own rate, and the one voice-coach uses

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pieces=() # each cue's audio with the silence before it
at=0      # seconds of audio in the pieces so far
n=0
while IFS=$'\t' read -r start kind text; do
  n=$((n + 1))
  if [ "$kind" = speech ]; then
    espeak-ng -s 165 -w "$work/said$n.wav" "$text"
    source=$work/said$n.wav
  else
    source=$sounds/$text.wav
  fi
  # The quiet before this cue; none if the previous clip ran past its start
  # (espeak-ng's clips keep their own leading and trailing silence).
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
