"""featurestore: point-in-time-correct training sets and fast online lookups."""
