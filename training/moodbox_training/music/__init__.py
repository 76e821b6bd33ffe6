"""Training side of the music-mood tagger: MusiCNN conversion, features, artist-grouped evaluation, the head."""
