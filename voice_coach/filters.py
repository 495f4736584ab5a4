"""Linear filters for audio that arrives block by block, their state carried between
blocks, in numpy alone.

Pure: no I/O and no clock. Two kinds, both for the loudness meter:

* :class:`BlockFilter`: a cascade of biquads (IIR). A recursive filter is a loop
  over samples, which numpy cannot vectorise, so it runs as matrix products
  instead: the exact block-state form of the same filter (the zero-state
  response of each 32-sample chunk is one Toeplitz product, the state it hands
  the next chunk another, and the chunks' states follow from each other with a
  64-chunk block matrix), leaving Python one small step per 2048 samples.
* :class:`Interpolator`: a polyphase FIR upsampler (a windowed sinc).

(scipy.signal has both, but importing it took 75 MB and a second here, more
than the whole export otherwise needs.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Samples per chunk: the size of the Toeplitz products.
CHUNK_SAMPLES = 32
#: Chunks per group: between groups, Python steps the state once.
GROUP_CHUNKS = 64
#: Groups per call. Small enough that every product stays under OpenBLAS's
#: threading threshold (rows x columns x inner <= 262,144): on a busy machine
#: its threads made the same work 70 times slower here.
BATCH_GROUPS = 4

Biquad = tuple[Sequence[float], Sequence[float]]


def _biquad_state_space(numerator: Sequence[float], denominator: Sequence[float]) -> tuple:
    """(A, B, C, D) of one biquad in transposed direct form II, normalised by a0."""
    b0, b1, b2 = (float(value) / denominator[0] for value in numerator)
    _, a1, a2 = (float(value) / denominator[0] for value in denominator)
    transition = np.array([[-a1, 1.0], [-a2, 0.0]])
    into_state = np.array([b1 - a1 * b0, b2 - a2 * b0])
    from_state = np.array([1.0, 0.0])
    return transition, into_state, from_state, b0


def _cascade(first: tuple, second: tuple) -> tuple:
    """The state space of ``second`` fed by ``first``'s output."""
    a1, b1, c1, d1 = first
    a2, b2, c2, d2 = second
    transition = np.block([[a1, np.zeros((len(a1), len(a2)))], [np.outer(b2, c1), a2]])
    into_state = np.concatenate([b1, b2 * d1])
    from_state = np.concatenate([d2 * c1, c2])
    return transition, into_state, from_state, d2 * d1


class BlockFilter:
    """A cascade of biquads, run on ``BLOCK_SAMPLES`` samples of one channel at a time.

    The block size is fixed so that every call does the same arithmetic on
    the same shapes: fed in any pieces, a stream gives the same output to the
    last bit. Callers keep pieces until they make a block (and pad the last).
    """

    BLOCK_SAMPLES = CHUNK_SAMPLES * GROUP_CHUNKS * BATCH_GROUPS

    def __init__(self, sections: Sequence[Biquad]) -> None:
        system = _biquad_state_space(*sections[0])
        for section in sections[1:]:
            system = _cascade(system, _biquad_state_space(*section))
        transition, into_state, from_state, direct = system
        self.order = len(into_state)
        chunk = CHUNK_SAMPLES
        powers = [np.eye(self.order)]  # transition ** k, k = 0 .. chunk
        for _ in range(chunk):
            powers.append(transition @ powers[-1])
        impulse = np.array([direct] + [from_state @ powers[k] @ into_state for k in range(chunk)])
        lag = np.subtract.outer(np.arange(chunk), np.arange(chunk))
        # Row vectors throughout: a chunk's samples times these give its output and state.
        self._zero_state = np.where(lag >= 0, impulse[np.maximum(lag, 0)], 0.0).T
        self._free = np.array([from_state @ powers[k] for k in range(chunk)]).T
        self._to_state = np.array([powers[chunk - 1 - k] @ into_state for k in range(chunk)])
        # Across chunks the state steps by transition ** chunk.
        step = [np.eye(self.order)]
        for _ in range(GROUP_CHUNKS):
            step.append(powers[chunk] @ step[-1])
        n, groups = self.order, GROUP_CHUNKS
        self._chunk_states = np.zeros((groups * n, groups * n))
        for later in range(groups):
            for earlier in range(later):
                self._chunk_states[earlier * n : (earlier + 1) * n, later * n : (later + 1) * n] = (
                    step[later - 1 - earlier].T
                )
        self._group_end = np.concatenate([step[groups - 1 - k].T for k in range(groups)])
        self._from_group_start = np.concatenate([step[k].T for k in range(groups)], axis=1)
        self._group_step = step[groups].T

    def initial_state(self) -> np.ndarray:
        """The state of a filter that has heard only silence."""
        return np.zeros(self.order)

    def run(self, block: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Filter ``block`` (BLOCK_SAMPLES float64 samples) from ``state``.

        Returns the output and the state after the block.
        """
        n = self.order
        chunks = block.reshape(-1, CHUNK_SAMPLES)
        output = chunks @ self._zero_state
        # Two-dimensional products throughout: they are the ones BLAS runs.
        pushed = (chunks @ self._to_state).reshape(BATCH_GROUPS, -1)  # one row per group
        within = pushed @ self._chunk_states  # each chunk's state, had its group begun at rest
        ends = pushed @ self._group_end
        starts = np.empty((BATCH_GROUPS, n))
        for group in range(BATCH_GROUPS):
            starts[group] = state
            state = state @ self._group_step + ends[group]
        within += starts @ self._from_group_start
        output += within.reshape(-1, n) @ self._free
        return output.reshape(-1), state


class Interpolator:
    """A ``factor``-times upsampler: a Kaiser-windowed sinc in polyphase form.

    ``taps_per_phase`` input samples go into each output; 24 with a Kaiser beta
    of 7 keep the response flat within 0.01 dB up to 0.4 of the input rate.
    """

    def __init__(self, factor: int, taps_per_phase: int = 24, kaiser_beta: float = 7.0) -> None:
        self.factor = factor
        length = factor * taps_per_phase + 1
        offsets = (np.arange(length) - (length - 1) / 2) / factor
        kernel = np.sinc(offsets) * np.kaiser(length, kaiser_beta)
        kernel = np.pad(kernel, (0, -length % factor))
        #: How many past input samples each output still needs.
        self.history = len(kernel) // factor - 1
        # Column p holds phase p, reversed so that a window of input times it convolves.
        self._phases = np.ascontiguousarray(kernel.reshape(-1, factor)[::-1])

    def run(self, samples: np.ndarray) -> np.ndarray:
        """The upsampled values (``factor`` per window) of 1-D ``samples``, whose first
        ``history`` values are the previous block's last ones."""
        windows = np.lib.stride_tricks.sliding_window_view(samples, self.history + 1)
        return windows @ self._phases
