//! How a command writes its output: `out!` and `outln!`, `print!` and `println!` that a closed
//! pipe does not turn into a panic (exported at the crate root, for the tester's commands too);
//! and whether to color.

/// `print!` for a command's output. A reader that closed the pipe early (`mtpspec run --list |
/// head -1`) has what it wanted: the failed write is dropped, never a panic, and the exit code
/// stays the command's.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `println!` for a command's output; see [`out!`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Whether to use ANSI colors on a stream: only on a terminal, and never when `NO_COLOR` is
/// set (<https://no-color.org>).
pub fn use_color(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none()
}
