//! What machine we run on, and how much memory we use.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

/// The CPU model name, or "unknown cpu" (read once per process).
pub fn cpu_model() -> String {
    static MODEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MODEL.get_or_init(read_cpu_model).clone()
}

fn read_cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| format!("unknown {} cpu", std::env::consts::ARCH))
}

/// Logical cores available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The OS name and version, as precise as we can tell.
pub fn os() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    match pretty {
        Some(p) => format!("{} ({})", p, std::env::consts::ARCH),
        None => format!("{} ({})", std::env::consts::OS, std::env::consts::ARCH),
    }
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if the OS reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Resets the peak RSS counter (Linux >= 4.0), so the next reading covers only what follows.
/// Returns false where that is not possible; the peak then covers the whole process so far.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The machine a run happened on, recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub os: String,
    pub hostname: Option<String>,
}

impl Machine {
    pub fn detect() -> Self {
        Machine {
            cpu_model: cpu_model(),
            cores: cores(),
            os: os(),
            hostname: std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        }
    }
}

/// SIMD extensions this CPU offers (what the compiler may use at run time or with
/// `target-cpu=native`; our build uses the default target features).
pub fn simd_features() -> Vec<String> {
    #[allow(unused_mut)]
    let mut v: Vec<String> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        for (name, on) in [
            ("sse4.2", std::arch::is_x86_feature_detected!("sse4.2")),
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
        ] {
            if on {
                v.push(name.to_string());
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    v.push("neon".to_string());
    v
}

/// This thread's scheduler statistics (Linux `/proc/thread-self/schedstat`): nanoseconds spent
/// running, and nanoseconds spent runnable but waiting for a CPU (another process had it).
pub fn thread_sched_ns() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut it = text.split_whitespace();
    let run = it.next()?.parse().ok()?;
    let wait = it.next()?.parse().ok()?;
    Some((run, wait))
}

/// Memory the OS says is available for new allocations without swapping (Linux's
/// `MemAvailable`); `None` where it does not say.
pub fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The 1-minute load average, where the OS reports it.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

// A global allocator that counts live bytes and their high-water mark. The binary installs it
// with `#[global_allocator]`; libraries only read the counters.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Counting wrapper around the system allocator.
pub struct CountingAlloc;

// SAFETY: every method forwards to `System` with the caller's layout and pointer unchanged;
// the counters are plain atomics and never affect the allocation itself.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged, see above.
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
            INSTALLED.store(true, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded unchanged, see above.
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged, see above.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Starts a heap phase: the high-water mark restarts from the bytes live now. Returns the
/// live bytes at the start, or `None` when the counting allocator is not installed.
pub fn heap_phase_start() -> Option<usize> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    Some(live)
}

/// Heap bytes live now, or `None` when the counting allocator is not installed.
pub fn heap_live_bytes() -> Option<usize> {
    INSTALLED
        .load(Ordering::Relaxed)
        .then(|| LIVE.load(Ordering::Relaxed))
}

/// Runs `f` and returns what it returned, the heap bytes live when it started and its own
/// high-water mark above them, without disturbing an enclosing phase's high-water mark.
/// `None` figures when the counting allocator is not installed.
pub fn heap_high_water_of<T>(f: impl FnOnce() -> T) -> (T, Option<usize>, Option<u64>) {
    if !INSTALLED.load(Ordering::Relaxed) {
        return (f(), None, None);
    }
    let outer = PEAK.load(Ordering::Relaxed);
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    let out = f();
    let inner = PEAK.fetch_max(outer, Ordering::Relaxed);
    (out, Some(live), Some(inner.saturating_sub(live) as u64))
}

/// Heap bytes above the phase's start at the phase's high-water mark.
pub fn heap_phase_peak(start: Option<usize>) -> Option<u64> {
    start.map(|s| PEAK.load(Ordering::Relaxed).saturating_sub(s) as u64)
}
