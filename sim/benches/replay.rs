//! Replay benchmarks (filled by the simulator owner).
fn main() {}
