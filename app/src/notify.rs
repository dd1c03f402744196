//! Desktop notifications (D-Bus on Linux through `notify-rust`, pure Rust).
//!
//! Called on the blocking pool: showing a notification talks to the session
//! bus and may wait. When it fails (no notification daemon, no session bus),
//! the caller falls back to an in-window notice.

/// Show `text` as a desktop notification titled "Kith".
pub(crate) fn desktop(text: &str) -> Result<(), String> {
    notify_rust::Notification::new()
        .appname("Kith")
        .summary("Kith")
        .body(text)
        .timeout(notify_rust::Timeout::Milliseconds(6000))
        .show()
        .map(|_| ())
        .map_err(|e| e.to_string())
}
