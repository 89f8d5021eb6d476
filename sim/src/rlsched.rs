//! TODO(rlsched): filled by its owner.
