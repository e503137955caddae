//! CalDAV, CardDAV and webcal storages for pimlink (work in progress).
