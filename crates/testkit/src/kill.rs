//! Killing a program under test part-way through its work, at a point set by its progress
//! rather than by a clock, so that whether a kill interrupts a run does not depend on how fast
//! the machine is.
//!
//! The program's stdout is a pipe of one page that the test fills beforehand, leaving room for
//! only a few hundred bytes (the *credit*). Once the program has printed those, its next print
//! blocks: the test never reads the pipe before the program has ended. A program that prints a
//! line as it completes each piece of work (`pimlink -v` prints every change once it is
//! recorded) therefore cannot finish a run whose output would exceed the credit, however fast
//! it is; a SIGKILL sent once the test has seen part of that output (it counts the bytes in the
//! pipe without reading them) lands after observed progress and before completion. A short
//! random delay before the kill only moves the point where it lands.
//!
//! Linux pipes behave this way: with one page of capacity, a write that does not fit into what
//! is left of that page waits for a reader ([`CreditPipe::new`] checks the capacity). Whether
//! the program was still running when killed is in its exit status (killed by SIGKILL, not
//! exited), whether it had finished in what it printed.

use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::rng::TestRng;

/// How long a run may go without reaching the progress a kill waits for: a hang guard only,
/// far beyond what any run under test needs on a loaded machine.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(600);
/// How often the pipe and the process are looked at while waiting.
const POLL: Duration = Duration::from_millis(1);
/// The most a kill is delayed after the progress it waited for.
const MAX_DELAY: Duration = Duration::from_millis(40);
/// The most a kill that waits for no progress is delayed.
const MAX_LONE_DELAY: Duration = Duration::from_millis(500);
/// The largest credit [`kill_repeatedly`] gives a run.
pub const MAX_CREDIT: usize = 512;

/// A pipe that lets a writer put only `credit` bytes into it before its writes block.
pub struct CreditPipe {
    reader: PipeReader,
    filler: usize,
}

impl CreditPipe {
    /// A pipe of one page, filled up to `credit` bytes short of full; the write end goes to the
    /// program (e.g. as its stdout).
    pub fn new(credit: usize) -> io::Result<(CreditPipe, PipeWriter)> {
        let (reader, mut writer) = io::pipe()?;
        let page = rustix::param::page_size();
        let capacity = rustix::pipe::fcntl_setpipe_size(&writer, page)?;
        if capacity != page || credit > capacity {
            return Err(io::Error::other(format!(
                "a pipe of one page ({page} bytes) got {capacity} bytes; the credit of \
                 {credit} bytes needs a pipe that holds exactly one page"
            )));
        }
        let filler = capacity - credit;
        writer.write_all(&vec![b'#'; filler])?;
        Ok((CreditPipe { reader, filler }, writer))
    }

    /// How many bytes the writer has put into the pipe so far (nothing is read).
    pub fn written(&self) -> io::Result<usize> {
        let queued = rustix::io::ioctl_fionread(&self.reader)?;
        Ok(usize::try_from(queued).unwrap_or(usize::MAX) - self.filler)
    }

    /// What the writer wrote, once every write end is closed.
    pub fn into_output(mut self) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        self.reader.read_to_end(&mut all)?;
        Ok(all.split_off(self.filler.min(all.len())))
    }
}

/// Where a run is killed.
#[derive(Clone, Copy, Debug)]
pub struct KillPoint {
    /// Bytes the run may print before its prints block (at most one page).
    pub credit: usize,
    /// The kill waits until the run has printed at least this many bytes (or has blocked, or
    /// ended).
    pub after: usize,
    /// Then this much longer, which decides where in the following work the kill lands; the
    /// credit, not this delay, keeps the run from finishing.
    pub delay: Duration,
}

impl KillPoint {
    /// A random point with a credit of up to [`MAX_CREDIT`] bytes, of one of two kinds, as
    /// likely: a kill once up to half the credit was printed (some work is done and recorded)
    /// and up to 40 ms later; or a kill after a delay alone, spread evenly over the orders of
    /// magnitude from 0.1 to 500 ms, which lands anywhere in the run's first piece of work
    /// on a slow machine as on a fast one (or where its output blocked, if it got that far).
    pub fn random(rng: &mut TestRng) -> KillPoint {
        let credit = rng.range(0, MAX_CREDIT as u64 + 1) as usize;
        let (after, delay) = if rng.chance(1, 2) {
            let after = rng.range(1, credit as u64 / 2 + 1) as usize;
            (after, rng.range(0, MAX_DELAY.as_micros() as u64))
        } else {
            (0, rng.log_range(100, MAX_LONE_DELAY.as_micros() as u64))
        };
        KillPoint {
            credit,
            after,
            delay: Duration::from_micros(delay),
        }
    }
}

/// How a run under [`run_and_kill`] ended.
#[derive(Debug)]
pub struct KilledRun {
    /// Its exit status: [`KilledRun::was_running`] tells whether the kill found it running.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// How many bytes it had printed when the kill was sent.
    pub printed_before_kill: usize,
}

impl KilledRun {
    /// True if the kill ended it, rather than it ending on its own before the kill.
    pub fn was_running(&self) -> bool {
        self.status.signal() == Some(nix::sys::signal::Signal::SIGKILL as i32)
    }
}

/// Runs `command` with its stdout in a [`CreditPipe`] and kills it (SIGKILL) at `point`, unless
/// it ends before. Its stderr is left as the command says.
pub fn run_and_kill(command: &mut Command, point: KillPoint) -> io::Result<KilledRun> {
    let (pipe, writer) = CreditPipe::new(point.credit)?;
    let mut child = command.stdout(writer).spawn()?;
    // The command keeps its copy of the write end until told otherwise: without this, the pipe
    // would never report its end to the final read.
    command.stdout(Stdio::null());
    let deadline = Instant::now() + PROGRESS_DEADLINE;
    let pid = child.id();
    let mut printed = pipe.written()?;
    while child.try_wait()?.is_none() && printed < point.after && !blocked_writing(pid) {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "no progress: printed {printed} of the {} bytes a kill waits for in {} s",
                point.after,
                PROGRESS_DEADLINE.as_secs()
            )));
        }
        thread::sleep(POLL);
        printed = pipe.written()?;
    }
    let delayed = Instant::now() + point.delay;
    while Instant::now() < delayed && child.try_wait()?.is_none() {
        thread::sleep(POLL);
    }
    printed = pipe.written()?;
    // Fails only if it already ended, which the exit status tells.
    let _ = child.kill();
    let status = child.wait()?;
    let stdout = String::from_utf8_lossy(&pipe.into_output()?).into_owned();
    Ok(KilledRun {
        status,
        stdout,
        printed_before_kill: printed,
    })
}

/// True if process `pid` is waiting for room in a pipe (here: its stdout ran out of credit).
/// The kernel names that wait `pipe_write` (`anon_pipe_write` since Linux 6.12).
fn blocked_writing(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("pipe_write"))
}

/// What [`kill_repeatedly`] saw.
#[derive(Debug, Default)]
pub struct Kills {
    /// Runs that the kill found still running and unfinished: interrupted.
    pub interrupted: usize,
    /// True if a run finished its work before its kill came (the loop stops there).
    pub completed: bool,
}

/// Starts up to `attempts` runs, one after the other, each killed at a [`KillPoint::random`];
/// stops early once a run finishes its work, which `finished` tells from its stdout. Every
/// kill is printed (the test output shows them on failure); `rng` makes the points replayable.
///
/// A run that ends on its own with a failure, or without `finished` output, is an error.
pub fn kill_repeatedly(
    mut command: impl FnMut() -> Command,
    finished: impl Fn(&str) -> bool,
    attempts: usize,
    rng: &mut TestRng,
) -> io::Result<Kills> {
    let mut kills = Kills::default();
    for attempt in 1..=attempts {
        let point = KillPoint::random(rng);
        let run = run_and_kill(&mut command(), point)?;
        let done = finished(&run.stdout);
        let what = match (run.was_running(), run.status.success(), done) {
            (true, _, false) => "interrupted",
            (true, _, true) | (false, true, true) => "had finished",
            (false, _, _) => {
                return Err(io::Error::other(format!(
                    "kill {attempt}: the run ended on its own ({}) before the kill:\n{}",
                    run.status, run.stdout
                )));
            }
        };
        eprintln!(
            "kill {attempt}: credit {} B, after {} B + {:.1} ms: {what} ({} B printed)",
            point.credit,
            point.after,
            point.delay.as_secs_f64() * 1000.0,
            run.printed_before_kill
        );
        if done {
            kills.completed = true;
            break;
        }
        kills.interrupted += 1;
    }
    Ok(kills)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_gets_exactly_its_credit() {
        let (pipe, mut writer) = CreditPipe::new(100).unwrap();
        // Both ends are in this process: check what fits without blocking.
        rustix::io::ioctl_fionbio(&writer, true).unwrap();
        let mut fitted = 0;
        while writer.write_all(b"0123456789012345678\n").is_ok() {
            fitted += 1;
        }
        assert_eq!(fitted, 5, "five lines of 20 bytes fit in 100");
        assert_eq!(pipe.written().unwrap(), 100);
        drop(writer);
        assert_eq!(pipe.into_output().unwrap().len(), 100);
    }

    #[test]
    fn a_run_that_prints_more_than_its_credit_is_always_interrupted() {
        // A shell that would print 200 lines and then a final one: with a credit of 64 bytes
        // it cannot get to the end, however long the kill waits.
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "for i in $(seq 200); do echo line $i; done; echo finished",
        ]);
        let run = run_and_kill(
            &mut command,
            KillPoint {
                credit: 64,
                after: 20,
                delay: Duration::from_millis(50),
            },
        )
        .unwrap();
        assert!(run.was_running(), "{run:?}");
        assert!(run.stdout.starts_with("line 1\nline 2\n"), "{run:?}");
        assert!(!run.stdout.contains("finished"), "{run:?}");
        assert!(run.printed_before_kill >= 20, "{run:?}");
    }

    #[test]
    fn a_run_that_fits_its_credit_ends_on_its_own() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo finished"]);
        let run = run_and_kill(
            &mut command,
            KillPoint {
                credit: 1000,
                after: 500,
                delay: Duration::ZERO,
            },
        )
        .unwrap();
        assert!(!run.was_running() && run.status.success(), "{run:?}");
        assert_eq!(run.stdout, "finished\n");
    }
}
