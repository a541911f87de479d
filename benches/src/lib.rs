//! Benchmarks and load generators for Curia.

pub mod ceiling;
pub mod fixtures;
