//! Benchmarks and load generators for Curia.
