"""Event-camera recordings in: format decoders and encoders, transforms and a DVS pixel model."""
