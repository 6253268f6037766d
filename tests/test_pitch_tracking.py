"""kit.track_pitch (pyin and SwiftF0) and kit.extract_melody on synthetic voices whose pitch is known.

The voice is kit's formant-synthesised singer (``kit.examples.make_sung_melody``)
with vibrato and slides, singing the synthetic song's melody, so every sample's
true pitch is known. Accuracy = share of truly voiced frames within 50 cents.
"""

from __future__ import annotations

import numpy as np
import pytest

import kit
from kit.errors import OptionError
from kit.pitch_tracking import cents_between, hz_to_midi, midi_to_hz

SR = 22050


def _accuracy(times_s, f0_hz, voiced, truth_hz):
    idx = np.clip(np.round(times_s * SR).astype(int), 0, truth_hz.size - 1)
    truth = truth_hz[idx]
    sung = np.isfinite(truth)
    close = voiced & sung & (np.abs(cents_between(np.nan_to_num(f0_hz, nan=1.0), truth)) <= 50)
    false_voiced = np.mean(voiced[~sung]) if np.any(~sung) else 0.0
    return float(np.mean(close[sung])), float(false_voiced)


@pytest.mark.parametrize(("method", "seconds"), [("fast", 20.0), ("pyin", 4.0)])
def test_track_pitch_follows_a_sung_melody(method, seconds):
    y, truth = kit.examples.make_sung_melody(kit.examples.multitrack_melody(seconds), SR)
    times_s, f0_hz, voiced = kit.track_pitch(np.repeat(y, 2, axis=0), SR, method=method)  # stereo in: mixed down
    assert times_s.shape == f0_hz.shape == voiced.shape and voiced.dtype == bool
    assert np.all(np.isnan(f0_hz[~voiced])) and np.all(np.isfinite(f0_hz[voiced]))
    assert np.all(np.diff(times_s) > 0) and times_s[-1] == pytest.approx(y.shape[1] / SR, abs=0.05)
    accuracy, false_voiced = _accuracy(times_s, f0_hz, voiced, truth)
    assert accuracy >= 0.9
    assert false_voiced <= 0.2


def test_frame_times_are_the_centres_of_the_frames():
    """A jump from A4 to E5 at exactly 1.0 s shows at 1.0 s, not a frame late (the delay measure relies on it)."""
    y, _ = kit.examples.make_sung_melody([(0.2, 1.0, 69), (1.0, 1.8, 76)], 16000, vibrato_semitones=0)
    for method in ("fast", "pyin"):
        times_s, f0_hz, _ = kit.track_pitch(y, 16000, method=method)
        jump = times_s[np.flatnonzero(np.nan_to_num(hz_to_midi(f0_hz)) > 72.5)[0]]
        assert jump == pytest.approx(1.0, abs=0.03), method


def test_track_pitch_refuses_bad_options():
    y = np.zeros((1, 16000), np.float32)
    with pytest.raises(OptionError, match="'crepe' is not a pitch tracker"):
        kit.track_pitch(y, 16000, method="crepe")
    with pytest.raises(OptionError, match="pitch range"):
        kit.track_pitch(y, 16000, fmin_hz=500, fmax_hz=400)
    with pytest.raises(OptionError, match="sample rate"):
        kit.track_pitch(y, 0)


def test_unit_helpers_agree_with_librosa():
    import librosa

    hz = np.array([55.0, 261.63, 440.0, 1000.0])
    assert np.allclose(hz_to_midi(hz), librosa.hz_to_midi(hz))
    assert np.allclose(midi_to_hz([21, 60.5, 69]), librosa.midi_to_hz([21, 60.5, 69]))
    assert cents_between(440.0 * 2 ** (0.37 / 12), 440.0) == pytest.approx(37.0)


def test_melody_follows_the_lead_voice_over_a_quieter_harmony():
    notes = kit.examples.multitrack_melody(20.0)
    lead, _ = kit.examples.make_sung_melody(notes, SR)
    third_above = [(a, b, m + 4) for a, b, m in notes]
    harmony, _ = kit.examples.make_sung_melody(third_above, SR, formant_scale=1.1, seed=3)
    found, tuning = kit.extract_melody(lead + harmony * 10 ** (-9 / 20), SR)
    assert abs(tuning) < 10
    matched = [any(n.midi == m and abs(n.onset_s - a) < 0.05 and abs(n.offset_s - b) < 0.1 for n in found)
               for a, b, m in notes]
    assert np.mean(matched) >= 0.9
    assert len(found) <= len(notes) + 2  # the harmony does not add its own notes


def test_melody_of_a_detuned_band_keeps_its_lanes():
    """A song 30 cents sharp throughout: notes land on their semitones and the tuning says 30 cents."""
    notes = kit.examples.multitrack_melody(10.0)
    y, _ = kit.examples.make_sung_melody([(a, b, m + 0.3) for a, b, m in notes], SR)
    found, tuning = kit.extract_melody(y, SR)
    assert tuning == pytest.approx(30, abs=5)
    assert [n.midi for n in found] == [m for _, _, m in notes]
