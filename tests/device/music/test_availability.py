"""Which playlists the box can play: missing and empty ones skipped, the tagger's and then the whole library as the
fallbacks, the warnings for the owner."""

from __future__ import annotations

from moodbox.music.availability import WHOLE_LIBRARY, PlaylistAvailability

PLAYLISTS = {"happy": ("upbeat", "party"), "sad": ("calm",), "neutral": ("auto-everyday",)}


def available() -> PlaylistAvailability:
    return PlaylistAvailability(PLAYLISTS, fallback_prefix="auto-", whole_library=True)


def test_every_playlist_and_fallback_is_checked_in_mpd():
    assert available().wanted() == ["upbeat", "party", "auto-upbeat", "auto-party", WHOLE_LIBRARY, "calm",
                                    "auto-calm", "auto-everyday"]  # an auto- name gets no second prefix
    assert PlaylistAvailability(PLAYLISTS).wanted() == ["upbeat", "party", "calm", "auto-everyday"]


def test_a_mood_falls_back_to_the_tagger_then_the_whole_library_only_when_its_own_are_all_skipped(caplog):
    playlists = available()
    playlists.mark_unavailable(["party", "calm"], [])
    assert playlists.candidates("happy") == ["upbeat"]  # one of its own is left: no fallback
    assert playlists.candidates("sad") == ["auto-calm"]
    assert playlists.mapped("sad", "auto-calm") and not playlists.mapped("happy", "auto-calm")
    playlists.mark_unavailable(["party", "calm", "auto-calm"], ["upbeat"])
    assert playlists.candidates("sad") == [WHOLE_LIBRARY]
    assert playlists.candidates("happy") == ["auto-upbeat", "auto-party"]
    assert playlists.all_playlists() == ["auto-upbeat", "auto-party", WHOLE_LIBRARY, "auto-everyday"]
    assert playlists.warnings() == [
        "playlist upbeat (for happy) is empty or cannot be played: skipped",
        "playlist party (for happy) does not exist in MPD: skipped",
        "playlist calm (for sad) does not exist in MPD: skipped",
        "mood happy plays auto-upbeat, auto-party instead of upbeat, party",
        f"mood sad plays {WHOLE_LIBRARY} instead of calm"]
    assert "mood sad plays (whole library) instead of calm" in caplog.text


def test_a_playlist_created_since_supersedes_the_fallback_and_warnings_are_logged_on_change_only(caplog):
    playlists = available()
    playlists.mark_unavailable(["calm"], [])
    assert playlists.skipping() and not playlists.superseded("sad", "auto-calm")
    caplog.clear()
    playlists.mark_unavailable(["calm"], [])  # the same as before: nothing new to say
    assert caplog.text == ""
    playlists.mark_unavailable([], [])  # calm was created: the fallback gives way at the next choice
    assert playlists.superseded("sad", "auto-calm") and not playlists.superseded("sad", "calm")
    assert not playlists.skipping() and playlists.warnings() == []


def test_a_playlist_mpd_refused_is_skipped_until_the_next_check(caplog):
    playlists = available()
    playlists.mark_unusable("calm", "deleted")
    assert "playlist calm cannot be played (deleted): skipped" in caplog.text
    assert not playlists.usable("calm") and playlists.candidates("sad") == ["auto-calm"]
    playlists.mark_unavailable([], [])
    assert playlists.usable("calm")
