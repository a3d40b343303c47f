//! A server process's memory as the kernel reports it (/proc/PID/status), for the tests that
//! bound it.

use std::fs;

/// The peak resident set size of a process, in KiB (`VmHWM`).
pub(crate) fn peak_rss_kib(pid: u32) -> u64 {
    field_kib(pid, "VmHWM:")
}

/// The resident set size of a process now, in KiB (`VmRSS`).
pub(crate) fn resident_kib(pid: u32) -> u64 {
    field_kib(pid, "VmRSS:")
}

fn field_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}
