//! CPU accounting and pinning.
//!
//! Server CPU time is read from `/proc/<pid>/stat` (utime + stime, plus
//! cutime + cstime for reaped children) for each `--server-pid` and every
//! live descendant of it, before and after the measured interval. The bench
//! process's own CPU time comes from `/proc/self/stat`. `--pin-cpu` pins
//! every thread of this process with `sched_setaffinity`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;

use super::error::BenchError;

/// The fields of `/proc/<pid>/stat` that the bench uses (times in ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    pub ppid: u32,
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
}

impl ProcStat {
    /// Own time plus the time of reaped children, in ticks.
    pub fn total_ticks(&self) -> u64 {
        self.utime + self.stime + self.cutime + self.cstime
    }
}

/// Parses the text of a `/proc/<pid>/stat` file. The command name (field 2)
/// is enclosed in parentheses and may itself contain spaces and `)`, so
/// fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Result<ProcStat, io::Error> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("stat: {what}"));
    let open = text.find('(').ok_or_else(|| bad("no '('"))?;
    let close = text.rfind(')').ok_or_else(|| bad("no ')'"))?;
    let pid = text[..open]
        .trim()
        .parse::<u32>()
        .map_err(|_| bad("bad pid"))?;
    let rest: Vec<&str> = text
        .get(close + 1..)
        .ok_or_else(|| bad("truncated"))?
        .split_whitespace()
        .collect();
    // rest[0] is field 3 (state); field k is rest[k - 3].
    let field = |k: usize| -> Result<u64, io::Error> {
        rest.get(k - 3)
            .ok_or_else(|| bad("too few fields"))?
            .parse::<i64>()
            .map(|v| v.max(0) as u64)
            .map_err(|_| bad("non-numeric field"))
    };
    Ok(ProcStat {
        pid,
        ppid: field(4)? as u32,
        utime: field(14)?,
        stime: field(15)?,
        cutime: field(16)?,
        cstime: field(17)?,
    })
}

/// Sums [`ProcStat::total_ticks`] over `roots` and all their descendants in
/// `procs`, counting each process once. Returns the first root missing from
/// `procs` as the error.
pub fn tree_ticks(procs: &[ProcStat], roots: &[u32]) -> Result<u64, u32> {
    let by_pid: HashMap<u32, &ProcStat> = procs.iter().map(|p| (p.pid, p)).collect();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for &root in roots {
        if !by_pid.contains_key(&root) {
            return Err(root);
        }
        let mut stack = vec![root];
        while let Some(pid) = stack.pop() {
            if !seen.insert(pid) {
                continue;
            }
            if let Some(p) = by_pid.get(&pid) {
                total += p.total_ticks();
            }
            if let Some(kids) = children.get(&pid) {
                stack.extend(kids.iter().copied());
            }
        }
    }
    Ok(total)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 if unknown).
#[allow(unsafe_code)]
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions and only reads a constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn read_stat(path: &str) -> io::Result<ProcStat> {
    parse_stat(&fs::read_to_string(path)?)
}

/// Reads every readable `/proc/<pid>/stat`; processes that vanish while
/// scanning are skipped.
fn scan_proc() -> io::Result<Vec<ProcStat>> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(stat) = read_stat(&format!("/proc/{name}/stat")) {
                out.push(stat);
            }
        }
    }
    Ok(out)
}

/// One reading of the CPU counters.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    server_ticks: Option<u64>,
    self_ticks: u64,
}

/// CPU seconds spent between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUsage {
    /// Server processes (and descendants); `None` without `--server-pid`.
    pub server_secs: Option<f64>,
    /// The bench process itself.
    pub client_secs: f64,
}

/// Reads the CPU counters of the configured server processes and of itself.
#[derive(Debug, Clone)]
pub struct CpuProbe {
    server_pids: Vec<u32>,
    ticks_per_sec: f64,
}

impl CpuProbe {
    /// Checks that every PID can be read now.
    pub fn new(server_pids: &[u32]) -> Result<CpuProbe, BenchError> {
        for &pid in server_pids {
            read_stat(&format!("/proc/{pid}/stat"))
                .map_err(|source| BenchError::ServerPid { pid, source })?;
        }
        Ok(CpuProbe {
            server_pids: server_pids.to_vec(),
            ticks_per_sec: ticks_per_second(),
        })
    }

    /// The server PIDs being measured.
    pub fn server_pids(&self) -> &[u32] {
        &self.server_pids
    }

    /// Takes a reading now.
    pub fn sample(&self) -> Result<CpuSample, BenchError> {
        let self_ticks = read_stat("/proc/self/stat")
            .map_err(BenchError::SelfStat)?
            .total_ticks();
        let server_ticks = if self.server_pids.is_empty() {
            None
        } else {
            let procs = scan_proc().map_err(BenchError::SelfStat)?;
            let ticks =
                tree_ticks(&procs, &self.server_pids).map_err(|pid| BenchError::ServerPid {
                    pid,
                    source: io::Error::new(io::ErrorKind::NotFound, "process has gone"),
                })?;
            Some(ticks)
        };
        Ok(CpuSample {
            server_ticks,
            self_ticks,
        })
    }

    /// CPU seconds between `before` and `after`.
    pub fn usage(&self, before: CpuSample, after: CpuSample) -> CpuUsage {
        let secs = |a: u64, b: u64| a.saturating_sub(b) as f64 / self.ticks_per_sec;
        CpuUsage {
            server_secs: match (after.server_ticks, before.server_ticks) {
                (Some(a), Some(b)) => Some(secs(a, b)),
                _ => None,
            },
            client_secs: secs(after.self_ticks, before.self_ticks),
        }
    }
}

/// Pins every current thread of this process to `cpu`; threads created
/// later inherit the mask from their (pinned) creator.
#[allow(unsafe_code)]
pub fn pin_process(cpu: usize) -> Result<(), BenchError> {
    let err = |source: io::Error| BenchError::Pin { cpu, source };
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "CPU number out of range",
        )));
    }
    // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` was checked to be below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let mut pinned = 0;
    for entry in fs::read_dir("/proc/self/task").map_err(err)? {
        let Ok(entry) = entry else { continue };
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: `set` is a valid cpu_set_t of the size passed.
        let rc =
            unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // A thread that exited meanwhile is not an error.
                Some(libc::ESRCH) => {}
                Some(libc::EINVAL) => {
                    return Err(err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "no such CPU is available to this process",
                    )))
                }
                _ => return Err(err(e)),
            }
        } else {
            pinned += 1;
        }
    }
    if pinned == 0 {
        return Err(err(io::Error::other("no thread could be pinned")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "1234 (nats-server) S 1 1234 1234 0 -1 4194560 2795 0 0 0 \
                          150 75 3 2 20 0 9 0 123456 1234567 4321 18446744073709551615 \
                          1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

    #[test]
    fn parses_plain_stat() {
        let s = parse_stat(SAMPLE).expect("parse");
        assert_eq!(s.pid, 1234);
        assert_eq!(s.ppid, 1);
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (150, 75, 3, 2));
        assert_eq!(s.total_ticks(), 230);
    }

    #[test]
    fn parses_comm_with_spaces_and_parens() {
        let text = SAMPLE.replace("(nats-server)", "(my ) (srv)");
        let s = parse_stat(&text).expect("parse");
        assert_eq!((s.pid, s.ppid, s.utime, s.stime), (1234, 1, 150, 75));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_stat("").is_err());
        assert!(parse_stat("12 (x) S 1 2").is_err());
        assert!(parse_stat("x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15").is_err());
    }

    #[test]
    fn reads_own_stat() {
        let s = read_stat("/proc/self/stat").expect("own stat");
        assert_eq!(s.pid, std::process::id());
    }

    fn p(pid: u32, ppid: u32, utime: u64) -> ProcStat {
        ProcStat {
            pid,
            ppid,
            utime,
            stime: 1,
            cutime: 0,
            cstime: 0,
        }
    }

    #[test]
    fn sums_process_trees_once() {
        let procs = [
            p(1, 0, 100),
            p(10, 1, 5),
            p(11, 10, 7),
            p(12, 10, 9),
            p(20, 1, 1000),
        ];
        // 10 + children 11, 12: (5+1)+(7+1)+(9+1)
        assert_eq!(tree_ticks(&procs, &[10]), Ok(24));
        // overlapping roots are counted once
        assert_eq!(tree_ticks(&procs, &[10, 11]), Ok(24));
        assert_eq!(tree_ticks(&procs, &[11, 20]), Ok(8 + 1001));
        assert_eq!(tree_ticks(&procs, &[99]), Err(99));
    }

    #[test]
    fn probe_measures_self() {
        let probe = CpuProbe::new(&[std::process::id()]).expect("probe");
        let a = probe.sample().expect("sample");
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let b = probe.sample().expect("sample");
        let u = probe.usage(a, b);
        assert!(u.client_secs >= 0.0);
        assert!(u.server_secs.is_some());
        assert!(CpuProbe::new(&[u32::MAX]).is_err());
    }
}
