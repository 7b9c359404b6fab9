"""Traffic: traces of chosen shapes, and senders for every ingest protocol."""
