//! JSON lines output (the contract in DESIGN.md).
