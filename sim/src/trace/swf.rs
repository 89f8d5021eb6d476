//! TODO(swf): filled by its owner.
