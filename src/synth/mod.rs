//! Synthetic captures with known truth, reproducible by seed.
//!
//! STUB: to be written (helper D).
