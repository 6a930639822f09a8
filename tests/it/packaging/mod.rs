//! The packaging tier: the `.deb` and the RPM built from a clean copy of the
//! repository, what they install and declare.

// The tier and its one file are both "packaging": the file kept the name of
// the test binary it was.
#[allow(clippy::module_inception)]
mod packaging;
