"""The simulated room: sessions at different hours, moods read through the model's confusion matrix and the real
mood tracker, empty and faceless stretches."""

from __future__ import annotations

from collections import Counter

from moodbox.devkit.room import START, confusion, make_room


def test_the_room_perceives_moods_through_the_models_confusion_and_has_empty_and_faceless_stretches():
    labels, matrix = confusion()
    assert len(matrix) == len(labels) == 7 and all(len(row) == 7 for row in matrix)
    room = make_room(1, 7)
    hours = Counter(int((start - START) % 86400 // 3600) for start, _ in room.sessions)
    assert min(hours) < 8 and max(hours) >= 18  # mornings and evenings
    seen = [view for view in room.seen if view[0] is not None]
    assert any(not face for _, _, face in seen) and room.away
    minutes = [start + 60.0 * i for start, end in room.sessions for i in range(int((end - start) // 60))]
    agree = [room.view(t)[0] == room.mood(t) for t in minutes if room.view(t)[2]]
    assert 0.6 < sum(agree) / len(agree) < 0.95  # the box misreads some moods, not most
    misread = make_room(1, 7, 0.35)
    assert misread.true_mood == room.true_mood and misread.away == room.away  # the same days, read worse
    assert sum(misread.view(t)[0] == misread.mood(t) for t in minutes if misread.view(t)[2]) < sum(agree)
    start = room.sessions[0][0]
    share, confidence = room.witness(start, start + 3600)
    assert 0 <= share <= 1 and (confidence is None or 0 < confidence <= 1)
