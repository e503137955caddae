//! IMAP client for pimlink (being written).
