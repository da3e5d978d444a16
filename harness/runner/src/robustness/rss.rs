//! The resident memory of a local target: `VmRSS` from `/proc/PID/status`, summed over the
//! process and its descendants (a server that forks per connection grows in its children).
//! Linux only; elsewhere, or for a process that is gone, there is no figure.

pub use mtpspec_report::robustness_result::RssFigure;
use std::path::Path;

/// `VmRSS` of one process in KiB, if `/proc` has it.
pub fn process_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

/// `VmRSS` of `pid` and every process below it, in KiB; `None` when `pid` itself has none.
pub fn tree_rss_kib(pid: u32) -> Option<u64> {
    let own = process_rss_kib(pid)?;
    let children: u64 = descendants(pid)
        .into_iter()
        .filter_map(process_rss_kib)
        .sum();
    Some(own + children)
}

/// The `VmRSS:` line of a `/proc/PID/status` text (`VmRSS:    18640 kB`).
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every process whose chain of parents reaches `pid` (from `/proc/*/stat`).
fn descendants(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, parent_of(&Path::new("/proc").join(p.to_string()))?)))
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|&&(p, pp)| pp == parent && !found.contains(&p))
                .map(|&(p, _)| p)
                .collect::<Vec<_>>(),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// The parent PID from `/proc/PID/stat`: the field after the `(comm)`, which may hold spaces.
fn parent_of(dir: &Path) -> Option<u32> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// Samples the tree RSS of a PID, keeping the first sample and the peak.
#[derive(Clone, Debug)]
pub struct RssSampler {
    pid: u32,
    in_process: bool,
    before: Option<u64>,
    peak: u64,
}

impl RssSampler {
    /// Takes the first sample now; `None` when the PID has no readable `VmRSS`.
    pub fn start(pid: u32, in_process: bool) -> Option<Self> {
        let before = tree_rss_kib(pid)?;
        Some(Self {
            pid,
            in_process,
            before: Some(before),
            peak: before,
        })
    }

    /// Samples again; the current value, if readable.
    pub fn sample(&mut self) -> Option<u64> {
        let now = tree_rss_kib(self.pid)?;
        self.peak = self.peak.max(now);
        Some(now)
    }

    /// The figure so far: the first sample (`before_kib`) and the highest (`peak_kib`).
    pub fn figure(&self) -> RssFigure {
        RssFigure {
            pid: self.pid,
            in_process: self.in_process,
            before_kib: self.before.unwrap_or(self.peak),
            peak_kib: self.peak,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmPeak:\t 100 kB\nVmRSS:\t  18640 kB\n"),
            Some(18640)
        );
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn own_process_has_a_figure_on_linux() {
        if !Path::new("/proc/self/status").exists() {
            return;
        }
        let pid = std::process::id();
        assert!(process_rss_kib(pid).is_some_and(|k| k > 0));
        let mut sampler = RssSampler::start(pid, true).expect("own RSS");
        sampler.sample();
        let figure = sampler.figure();
        assert!(figure.peak_kib >= figure.before_kib);
        assert!(figure.describe().starts_with(&format!("RSS of PID {pid}")));
    }
}
