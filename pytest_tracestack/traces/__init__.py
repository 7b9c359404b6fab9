"""The trace model every part compares in: OTLP codecs, the diff, attribute schemas."""
