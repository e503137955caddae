//! Runs through testkit's cutting proxy with connections dropped at random byte offsets, for
//! the crash tests of mail (crash_imap.rs) and of calendars (crash_dav.rs).

use pimlink_testkit::{Cut, CutProxy, Direction, TestRng};

use super::Run;

/// No cut with the chance `pass` (numerator, denominator); otherwise a cut at a random offset,
/// spread over the orders of magnitude up to `max_bytes` so that a login or discovery is hit
/// as often as the middle of a big transfer, in a random direction.
pub fn random_cut(rng: &mut TestRng, max_bytes: u64, (numerator, denominator): (u64, u64)) -> Cut {
    if rng.chance(numerator, denominator) {
        return Cut::Never;
    }
    let direction = match rng.range(0, 10) {
        0..=5 => Direction::ToClient,
        6..=8 => Direction::ToServer,
        _ => Direction::Both,
    };
    // The client sends much less than it receives, except while uploading.
    let max = match direction {
        Direction::ToServer => max_bytes / 4,
        _ => max_bytes,
    };
    Cut::After {
        bytes: rng.log_range(1, max),
        direction,
    }
}

/// `run` with `proxy` cutting each new connection as [`random_cut`] decides (with `rng`,
/// `max_bytes` and `pass`); prints what was cut under `label` and insists that the run ended
/// in success, failed items or an unreachable storage, naming the dropped connection.
pub fn cut_run(
    proxy: &CutProxy,
    label: &str,
    rng: &mut TestRng,
    max_bytes: u64,
    pass: (u64, u64),
    run: impl FnOnce() -> Run,
) -> Run {
    let mut plan_rng = TestRng::new(rng.next_u64());
    let first = proxy.connections().len();
    proxy.set_plan(move |_| random_cut(&mut plan_rng, max_bytes, pass));
    let run = run();
    proxy.pass_all();
    let records = &proxy.connections()[first..];
    let cuts: Vec<String> = records
        .iter()
        .map(|r| match r.cut {
            Cut::After { bytes, direction } if r.was_cut => {
                format!("{bytes}{}", direction_arrow(direction))
            }
            Cut::Refuse => "refused".to_owned(),
            _ => format!("uncut({}+{})", r.to_server, r.to_client),
        })
        .collect();
    eprintln!(
        "{label}: exit {}, {} connections, cuts [{}]",
        run.code(),
        records.len(),
        cuts.join(" ")
    );
    for line in run.stderr().lines().take(5) {
        eprintln!("    {line}");
    }
    let code = run.code();
    assert!(
        [0, 1, 3].contains(&code),
        "a dropped connection must end in success, failed items or an unreachable storage, \
         never a refusal or a crash:\n{run}"
    );
    assert!(
        code == 0 || run.stderr().contains("connection"),
        "failures must name the dropped connection:\n{run}"
    );
    run
}

/// `>` for a cut of what the client sent, `<` of what it received, `<>` of both.
pub fn direction_arrow(direction: Direction) -> &'static str {
    match direction {
        Direction::ToServer => ">",
        Direction::ToClient => "<",
        Direction::Both => "<>",
    }
}
