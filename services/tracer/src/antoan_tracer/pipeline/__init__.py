"""The tracer's stream processing on Quix Streams: topics, stages and the store adapter."""
