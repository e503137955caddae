//! A private Secret Service for tests: a shell prelude, run inside `dbus-run-session`, that
//! starts GNOME Keyring unlocked with a throwaway password (its files under `$HOME`) and
//! returns only once the keyring takes items.

/// Exit codes of [`unlocked_keyring`], each named in the test's failure message.
pub const KEYRING_DID_NOT_START: i32 = 98;
pub const KEYRING_NOT_ON_THE_BUS: i32 = 95;
pub const KEYRING_TOOK_NO_ITEM: i32 = 96;

/// The prelude. The daemon forked by `--unlock` claims `org.freedesktop.secrets` some time
/// after `--unlock` returns. A `secret-tool` call before that makes D-Bus start a second
/// daemon from its service file; that one has no password, asks for one through a prompter
/// that cannot open a display, and every store fails with a locked collection. So the
/// prelude first waits, with a bus call that starts nothing, until the name has an owner,
/// and then until a store succeeds. Each wait allows 60 s.
pub fn unlocked_keyring() -> String {
    format!(
        "printf %s throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
         || exit {KEYRING_DID_NOT_START}\n\
         n=0\n\
         until dbus-send --session --print-reply --dest=org.freedesktop.DBus \
         /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
         string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'\n\
         do n=$((n+1)); [ $n -ge 600 ] && exit {KEYRING_NOT_ON_THE_BUS}; sleep 0.1; done\n\
         n=0\n\
         until printf x | secret-tool store --label=ready pimlink-test ready 2>/dev/null\n\
         do n=$((n+1)); [ $n -ge 600 ] && exit {KEYRING_TOOK_NO_ITEM}; sleep 0.1; done\n"
    )
}

/// Fails the test with what went wrong if `code` is one of the prelude's own exit codes.
pub fn assert_keyring_started(code: i32, run: &dyn std::fmt::Display) {
    assert_ne!(
        code, KEYRING_DID_NOT_START,
        "gnome-keyring-daemon could not start:\n{run}"
    );
    assert_ne!(
        code, KEYRING_NOT_ON_THE_BUS,
        "the keyring daemon never claimed org.freedesktop.secrets:\n{run}"
    );
    assert_ne!(
        code, KEYRING_TOOK_NO_ITEM,
        "the keyring never took an item:\n{run}"
    );
}
