# Shared set-up for scripts/demo and scripts/test: source it, then call `bootstrap EXTRAS`.
# Installs what is missing on a Debian or Ubuntu machine (apt packages, a .venv
# with the package) and is quick when everything is already there.

VC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VC_VENV="${VC_VENV:-$VC_ROOT/.venv}"

say() { printf '%s\n' "voice-coach setup: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root (or sudo) to run: $*"; return 1
  fi
}

pick_python() {
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  say "Python 3.11 or newer is needed; install it (apt-get install python3) and try again"
  return 1
}

apt_missing() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  echo "${missing[@]:-}"
}

install_system_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "not a Debian-like system: install eSpeak NG and PortAudio yourself"
    return 0
  fi
  local python="$1" extras="$2" version
  # eSpeak NG speaks; PortAudio (through ALSA) plays.
  local wanted=(espeak-ng libportaudio2)
  # The tests play into a real-time PulseAudio null sink, with ALSA routed to it, and
  # drive the player's media keys with playerctl on a private session bus; ffmpeg's
  # ffprobe and decoder check exported files as players read them.
  [[ "$extras" == *test* ]] && wanted+=(pulseaudio pulseaudio-utils libasound2-plugins dbus-daemon playerctl ffmpeg)
  version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  "$python" -c 'import ensurepip' 2>/dev/null || wanted+=("python$version-venv")
  # The simpleaudio extra (playing where PortAudio is missing) builds from source:
  # a C compiler, Python's headers and ALSA's. It exists for Python 3.11 only.
  if [[ "$extras" == *simpleaudio* ]] && "$python" -c 'import sys; sys.exit(sys.version_info >= (3, 12))'; then
    wanted+=(libasound2-dev gcc "python$version-dev")
  fi
  local missing
  missing="$(apt_missing "${wanted[@]}")"
  if [ -n "$missing" ]; then
    say "installing apt packages: $missing"
    as_root apt-get update -qq || return 1
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null || return 1
  fi
}

bootstrap() {
  local extras="${1:-}" python
  python="$(pick_python)" || return 1
  install_system_packages "$python" "$extras" || return 1
  if [ ! -x "$VC_VENV/bin/python" ]; then
    say "creating $VC_VENV"
    "$python" -m venv "$VC_VENV" || return 1
  fi
  local spec="$VC_ROOT"
  [ -n "$extras" ] && spec="$VC_ROOT[$extras]"
  local stamp="$VC_VENV/.voice-coach-installed-$extras"
  # Reinstall only when the project's metadata changed since the last install.
  if [ ! -f "$stamp" ] || [ "$VC_ROOT/pyproject.toml" -nt "$stamp" ]; then
    say "installing voice-coach${extras:+ with [$extras]} into $VC_VENV"
    "$VC_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" || return 1
    touch "$stamp"
  fi
}
