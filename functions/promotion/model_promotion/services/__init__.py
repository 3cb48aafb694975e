"""Use cases. Each takes its ports as arguments, so tests run them against fakes."""
