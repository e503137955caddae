//! The clock that file times come from, for stamps made of them (see `mail::plan::unchanged`).
//!
//! Linux stamps a changed file or directory with its coarse real-time clock (updated once per
//! scheduler tick), or since 6.13 sometimes with a finer time, never an earlier one. So once
//! `CLOCK_REALTIME_COARSE` reads a time later than a directory's modification time, any later
//! change of that directory gets a different time: a stamp taken then needs no margin for
//! changes made within the same clock tick. Reading the fine clock instead would not do: it
//! runs ahead of the times the kernel gives files by up to a tick.

use std::time::SystemTime;

/// The coarse real-time clock, which is what Linux stamps file times with. Elsewhere the usual
/// clock: no storage claims local file times there (`ChangeStamp::local_times`), so the time
/// only needs to be no earlier than when the stamps were taken.
pub fn coarse_now() -> SystemTime {
    #[cfg(target_os = "linux")]
    {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        let (Ok(secs), Ok(nanos)) = (u64::try_from(now.tv_sec), u32::try_from(now.tv_nsec)) else {
            return SystemTime::UNIX_EPOCH;
        };
        SystemTime::UNIX_EPOCH + std::time::Duration::new(secs, nanos)
    }
    #[cfg(not(target_os = "linux"))]
    {
        SystemTime::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_is_never_ahead_of_the_fine_one() {
        let coarse = coarse_now();
        assert!(coarse <= SystemTime::now());
        assert!(coarse > SystemTime::UNIX_EPOCH);
    }
}
