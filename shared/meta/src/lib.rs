//! Meta platform layer.
