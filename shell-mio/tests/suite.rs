//! The integration suite of `ferry-testkit`, run against the `ferry` binary.

ferry_testkit::suite!(env!("CARGO_BIN_EXE_ferry"));
