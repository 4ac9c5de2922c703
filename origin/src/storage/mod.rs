//! Object storage for the source and media buckets.
