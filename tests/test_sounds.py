"""The chimes: reproducible from scripts/make_sounds.py, and shaped as the engine assumes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import soundfile

from conftest import ROOT
from voice_coach.script import CHIMES
from voice_coach.sounds import load_chimes


def test_make_sounds_reproduces_the_shipped_files(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/make_sounds.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in CHIMES:
        shipped, _ = soundfile.read(ROOT / "sounds" / f"{name}.wav", dtype="int16")
        rebuilt, _ = soundfile.read(tmp_path / f"{name}.wav", dtype="int16")
        assert len(shipped) == len(rebuilt)
        # Allow one step of rounding between platforms' sin/exp.
        assert np.abs(shipped.astype(int) - rebuilt.astype(int)).max() <= 1


def test_chimes_start_at_once_and_end_in_silence():
    for name, samples in load_chimes(22050).items():
        onset = np.flatnonzero(np.abs(samples) > 0.01)[0]
        assert onset < 0.002 * 22050, name
        # The declared end covers the whole audible tail.
        assert np.abs(samples[-int(0.05 * 22050) :]).max() < 10 ** (-60 / 20), name
        assert 0.4 < np.abs(samples).max() < 0.6, name  # just under the speech's peaks
