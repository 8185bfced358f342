"""Short-syntax parsers of the Compose format, each a small value type that round-trips to its long form."""
