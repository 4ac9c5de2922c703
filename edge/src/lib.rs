//! The Vylux edge worker. Routing, cache policy and forwarding arrive with the worker runtime.
