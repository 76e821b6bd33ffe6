"""The witness: the share of a song's playing time a face was in view, and the mood's confidence meanwhile."""

from __future__ import annotations

from moodbox.music.witness import Witness


def test_witness_counts_the_share_of_playing_time_a_face_was_in_view():
    witness = Witness()
    for second in range(0, 101, 10):
        witness.observe(float(second), "a.ogg", playing=True, face=second <= 30, confidence=0.8)
    witness.observe(110.0, "a.ogg", playing=False, face=False, confidence=None)  # paused: not counted
    witness.observe(500.0, "a.ogg", playing=False, face=False, confidence=None)
    assert witness.of("a.ogg") == {"face_share": 0.3, "confidence": 0.8}
    assert witness.of("b.ogg") == {}
    witness.observe(510.0, "b.ogg", playing=True, face=True, confidence=0.5)
    assert witness.of("a.ogg") == {} and witness.of("b.ogg") == {}  # b has not played long enough to tell
