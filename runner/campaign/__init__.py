"""The campaign file and what it expands into: schema, audience, rendered texts, request bodies."""
