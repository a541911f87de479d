//! Scheduler requests for the calling thread that neither the standard library nor rustix
//! wrap: a scheduler slice for a normal (`SCHED_OTHER`) thread, Linux 6.12+.
//!
//! Since Linux 6.6 the normal policy is EEVDF: each runnable thread has a virtual deadline one
//! slice after it became eligible, and the earliest deadline runs. A thread that asks for a
//! shorter slice than the default (0.7 ms times 1 + log2 of the CPUs, so 1.4 ms on a 2-core
//! machine) gets earlier deadlines, so when it wakes it may take the core from a thread with a
//! longer slice instead of waiting for that slice to end. It gets no more CPU over time: its
//! share still follows its nice value; it is only run in smaller, sooner pieces. Since 6.12 the
//! slice is `sched_attr.sched_runtime` of `sched_setattr(2)` on the normal policy (clamped by
//! the kernel to 0.1-100 ms; older kernels ignore it) and needs no privilege.
//!
//! This crate is the workspace's only unsafe code: two system calls, each on a `sched_attr`
//! that lives on the caller's stack for the call.

use std::io;
use std::time::Duration;

/// The smallest slice the kernel takes (it clamps shorter requests up to it).
pub const MIN_SLICE: Duration = Duration::from_micros(100);
/// The largest slice the kernel takes (it clamps longer requests down to it).
pub const MAX_SLICE: Duration = Duration::from_millis(100);

#[cfg(target_os = "linux")]
fn empty_attr() -> libc::sched_attr {
    libc::sched_attr {
        size: std::mem::size_of::<libc::sched_attr>() as u32,
        sched_policy: 0,
        sched_flags: 0,
        sched_nice: 0,
        sched_priority: 0,
        sched_runtime: 0,
        sched_deadline: 0,
        sched_period: 0,
    }
}

/// Ask the kernel to run the calling thread, on the normal policy, in slices of `slice`
/// (`sched_setattr(2)`, `sched_runtime`; see the crate's documentation). The thread's nice
/// value is `nice` after the call: pass its current one to keep it (lowering the value, that
/// is raising the priority, needs a privilege the kernel checks).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn request_slice(slice: Duration, nice: i32) -> io::Result<()> {
    let mut attr = empty_attr();
    attr.sched_policy = libc::SCHED_OTHER as u32;
    attr.sched_nice = nice;
    attr.sched_runtime = u64::try_from(slice.as_nanos()).unwrap_or(u64::MAX);
    // SAFETY: `sched_setattr(2)` on the calling thread (pid 0) reads `attr.size` bytes, the
    // size of `attr`, through a pointer to the live and initialised `attr`, and keeps no
    // reference to it after the call.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const libc::sched_attr, 0u32) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The calling thread's scheduler slice in nanoseconds as the kernel reports it
/// (`sched_getattr(2)`: Linux 6.12+ reports a normal thread's slice; older kernels 0).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn current_slice_ns() -> io::Result<u64> {
    let mut attr = empty_attr();
    let size = attr.size;
    // SAFETY: `sched_getattr(2)` on the calling thread (pid 0) writes at most `size` bytes, the
    // size of `attr`, through a pointer to the live `attr`, and keeps no reference to it.
    let r = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr as *mut libc::sched_attr, size, 0u32) };
    if r == 0 {
        Ok(attr.sched_runtime)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Not Linux: there is no slice to ask for.
#[cfg(not(target_os = "linux"))]
pub fn request_slice(_slice: Duration, _nice: i32) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "scheduler slices are a Linux feature"))
}

/// Not Linux: there is no slice to read.
#[cfg(not(target_os = "linux"))]
pub fn current_slice_ns() -> io::Result<u64> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "scheduler slices are a Linux feature"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slice asked for is the one the kernel reports, on a fresh thread; other threads keep
    /// theirs. On a kernel that does not report slices (before 6.12) there is nothing to check.
    #[test]
    fn a_requested_slice_is_the_thread_s_own() {
        let before = std::thread::spawn(current_slice_ns).join().unwrap().unwrap();
        let (slice, after) = std::thread::spawn(|| {
            let slice = Duration::from_micros(300);
            request_slice(slice, 0).unwrap();
            (slice, current_slice_ns().unwrap())
        })
        .join()
        .unwrap();
        if after == 0 {
            eprintln!("this kernel does not report scheduler slices: nothing to check");
            return;
        }
        assert_eq!(after, slice.as_nanos() as u64);
        assert_ne!(before, after, "the default slice is the one asked for: pick another");
        assert_eq!(std::thread::spawn(current_slice_ns).join().unwrap().unwrap(), before);
    }
}
