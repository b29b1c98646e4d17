//! (filled in after milestone 1)
