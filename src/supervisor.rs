//! The main child's state machine, reaping and teardown. (stub: filled in by the core commit)
