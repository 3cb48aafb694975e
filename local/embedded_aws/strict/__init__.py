"""The embedded AWS's strictness: what AWS refuses, refused here too."""
