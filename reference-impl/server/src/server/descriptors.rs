//! File descriptors, the resource a connection flood exhausts first: every connection holds
//! one, and once the open-files limit is reached `accept` fails, so a new client hangs in the
//! listen backlog with no reply at all. The connection limit is therefore kept below that
//! limit, with a reserve for everything else (listeners, the store's files, the runtime, the
//! sockets that carry a `421` refusal), so that the client over the limit is told `421`.

use std::io;

use rlimit::Resource;

/// Descriptors kept out of the connection budget.
pub(crate) const RESERVE: u64 = 64;

/// Raises the soft open-files limit of this process to its hard limit, as far as the system
/// allows; returns the limits before and after. For a server's start, before it binds: the
/// connection budget is computed from the limit in force then.
pub fn raise_open_files_limit() -> io::Result<(u64, u64)> {
    let before = Resource::NOFILE.get_soft()?;
    let after = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok((before, after))
}

/// `max_connections`, lowered to the open-files limit less [`RESERVE`] (half the limit when
/// the limit itself is that small).
pub(crate) fn connection_budget(max_connections: usize) -> usize {
    let Ok(soft) = Resource::NOFILE.get_soft() else {
        return max_connections;
    };
    let budget = budget_under(soft);
    let budget = usize::try_from(budget).unwrap_or(usize::MAX);
    if budget < max_connections {
        tracing::warn!(
            max_connections,
            open_files_limit = soft,
            effective = budget,
            "the connection limit is lowered below the open-files limit (raise `ulimit -n`)"
        );
        return budget;
    }
    max_connections
}

fn budget_under(soft: u64) -> u64 {
    if soft > 2 * RESERVE {
        soft - RESERVE
    } else {
        soft / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_a_reserve() {
        assert_eq!(budget_under(1024), 960);
        assert_eq!(budget_under(100), 50);
        assert_eq!(budget_under(0), 0);
        // The test process's own limit is far above 8 connections.
        assert_eq!(connection_budget(8), 8);
    }
}
