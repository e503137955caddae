//! Maildir storage for pimlink (being written).
