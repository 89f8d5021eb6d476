//! TODO(eval): filled by its owner.
