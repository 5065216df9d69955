//! `-l`: failures to the system log (QNX writes them to slog2; here syslog / journald).

use std::ffi::CString;
use std::sync::Once;

static OPEN: Once = Once::new();

/// Sends one message to syslog at priority `LOG_WARNING`, facility `LOG_DAEMON`, as
/// `secpolgenerate[PID]`. NUL bytes in the message are replaced.
pub fn warn(message: &str) {
    OPEN.call_once(|| {
        // SAFETY: the identifier is a static NUL-terminated string that outlives every call.
        unsafe { libc::openlog(c"secpolgenerate".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
    });
    let Ok(text) = CString::new(message.replace('\0', "?")) else { return };
    // SAFETY: a constant "%s" format with one NUL-terminated string argument.
    unsafe { libc::syslog(libc::LOG_WARNING, c"%s".as_ptr(), text.as_ptr()) };
}
