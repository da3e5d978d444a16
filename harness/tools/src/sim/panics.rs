//! Panics during a run are findings: one in a server task (which tokio would swallow) or in
//! the simulation itself is caught, recorded and reported as a violation of that seed.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, UnwindSafe};
use std::sync::Once;

thread_local! {
    /// `Some` while this thread runs a simulation: the panic messages seen so far.
    static CAUGHT: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Runs `f`, collecting the message of every panic on this thread meanwhile (the default
/// hook stays silent for them); `Err` with the message if `f` itself panicked.
pub(super) fn capture<R>(f: impl FnOnce() -> R + UnwindSafe) -> (Result<R, String>, Vec<String>) {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let caught = CAUGHT.with(|c| match c.borrow_mut().as_mut() {
                Some(list) => {
                    list.push(info.to_string());
                    true
                }
                None => false,
            });
            if !caught {
                previous(info);
            }
        }));
    });
    CAUGHT.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let result = panic::catch_unwind(f).map_err(|payload| message(&*payload));
    let caught = CAUGHT.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (result, caught)
}

fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        return (*s).to_string();
    }
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| "a panic without a message".into())
}
