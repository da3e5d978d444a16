//! How a command writes its output: `out!` and `outln!`, `print!` and `println!` that a closed
//! pipe does not turn into a panic.

/// `print!` for a command's output. A reader that closed the pipe early (`mtpspec run --list |
/// head -1`) has what it wanted: the failed write is dropped, never a panic, and the exit code
/// stays the command's.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `println!` for a command's output; see [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
