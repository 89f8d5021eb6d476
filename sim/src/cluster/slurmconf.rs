//! TODO: slurm.conf + gres.conf reader.
