//! Writing runs as FIT, GPX and TCX files: for moving a history to another app, and for building
//! known activities in tests, benchmarks and the demo (which imports what it writes, so the import
//! path is exercised end to end). Pure: a run in, bytes out.

pub mod fit;
pub mod gpx;
pub mod tcx;
