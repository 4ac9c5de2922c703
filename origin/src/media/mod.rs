//! GStreamer media pipelines.
