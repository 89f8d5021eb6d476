//! TODO(metrics): filled by its owner.
