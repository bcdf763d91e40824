//! `iamsmart witness URL`: keep a copy of a platform's signed tree heads and raise the alarm when
//! the log is cut off, rewritten, forked or signed by a key that is not pinned. Anyone can run it
//! (a newspaper, a regulator, a service): it needs only the platform's public URL.
use iamsmart_app::witness::{self, WitnessError};
use std::path::Path;
use std::time::Duration;

/// How `witness` ended: all seen heads consistent, an alarm, or the log could not be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every head seen extends the ones before.
    Consistent,
    /// Something an honest log never does (printed).
    Alarm,
    /// The log could not be reached or answered outside the protocol (printed).
    Unavailable,
}

impl Verdict {
    /// The process exit code: 0, 3 for an alarm, 1 when the log could not be checked.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Consistent => 0,
            Verdict::Alarm => 3,
            Verdict::Unavailable => 1,
        }
    }
}

/// Observe the log at `url` once, or every `every` seconds for at most `for_secs` seconds (the
/// loop stops by itself), keeping what it saw in `state_path`.
pub async fn run(
    url: &str,
    state_path: &Path,
    pins: &[String],
    every: Option<u64>,
    for_secs: u64,
) -> anyhow::Result<Verdict> {
    let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        anyhow::bail!("{url}: the platform's URL is http or https");
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(for_secs);
    loop {
        let mut state = witness::load(state_path)?;
        match witness::observe(&http, url, &mut state, pins).await {
            Ok(seen) => {
                witness::save(state_path, &state)?;
                if seen.pinned_now {
                    println!(
                        "first contact: pinned log keys {}",
                        state.log_keys.join(", ")
                    );
                }
                match seen.previous {
                    Some(p) if p != seen.head.tree_size => println!(
                        "tree head {} extends {p} (consistency proof checked), signed at {} ms",
                        seen.head.tree_size, seen.head.timestamp
                    ),
                    _ => println!(
                        "tree head {}, signed at {} ms",
                        seen.head.tree_size, seen.head.timestamp
                    ),
                }
            }
            Err(WitnessError::Alarm(a)) => {
                eprintln!("ALARM: {a}");
                return Ok(Verdict::Alarm);
            }
            Err(e @ WitnessError::Unavailable(_)) => {
                eprintln!("{e}");
                if every.is_none() {
                    return Ok(Verdict::Unavailable);
                }
            }
        }
        let Some(secs) = every else {
            return Ok(Verdict::Consistent);
        };
        let next = tokio::time::Instant::now() + Duration::from_secs(secs.max(1));
        if next >= deadline {
            return Ok(Verdict::Consistent);
        }
        tokio::time::sleep_until(next).await;
    }
}
