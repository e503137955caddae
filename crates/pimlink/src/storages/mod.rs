//! Opens the storages the configuration names: the bridge between the configuration and the
//! engine's storage interfaces (`MailStore` for mail, `ItemStore` for calendars and contacts).

pub mod items;
pub mod mail;
