//! The other tools' configuration files, parsed into what they say (one module per tool).
//! Translating them into pimlink's configuration is the binary's `import` command.
