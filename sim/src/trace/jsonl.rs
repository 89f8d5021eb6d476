//! TODO(jsonl): filled by its owner.
