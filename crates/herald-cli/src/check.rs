//! `herald check`: validate a fleet configuration the way the workers will,
//! resolving every secret (never printing one) and building every destination,
//! and report destinations whose hosts the outbound allow-list refuses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use herald_core::Channel;
use herald_core::config::{ConfigError, FleetConfig};
use herald_core::outbound::{HostVerdict, OutboundPolicy, Refused};
use herald_core::worker::prepare;

use crate::channels::{ChannelTask, KNOWN, unknown_channel_message, with_channel};

/// Options of `herald check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The fleet configuration file.
    #[arg(long, env = "HERALD_CONFIG", value_name = "FILE")]
    config: PathBuf,
}

/// Builds every destination of channel `C`.
struct PrepareAll<'a> {
    config: &'a FleetConfig,
    file: &'a str,
}

impl ChannelTask for PrepareAll<'_> {
    type Output = Vec<ConfigError>;

    fn run<C: Channel>(self) -> Vec<ConfigError> {
        match prepare::<C>(self.config, self.file) {
            Err(e) => e.0,
            Ok(prepared) => prepared
                .iter()
                .flat_map(|p| {
                    p.channel.hosts().into_iter().filter_map(|host| {
                        outside_allow_list(&p.destination.outbound, &host).map(|refused| {
                            p.destination.error_at(
                                self.file,
                                "",
                                format!("every request would be refused: {refused}"),
                            )
                        })
                    })
                })
                .collect(),
        }
    }
}

/// Why the outbound allow-list refuses `host`, if it does. Names the list
/// does not allow by name are resolved here, as the worker would.
fn outside_allow_list(policy: &OutboundPolicy, host: &str) -> Option<Refused> {
    use std::net::ToSocketAddrs as _;
    match policy.host(host) {
        HostVerdict::Allowed => None,
        HostVerdict::Refused(r) => Some(r),
        HostVerdict::ResolveAndFilter => {
            // A name that does not resolve here may resolve where the worker runs.
            let addrs: Vec<_> = (host, 443).to_socket_addrs().ok()?.collect();
            policy.filter(host, addrs).err()
        }
    }
}

/// Checks a parsed configuration. On success, the one-line summary; otherwise
/// every problem, in file order.
pub(crate) fn check(config: &FleetConfig, file: &str) -> Result<String, Vec<ConfigError>> {
    let mut errors = Vec::new();
    for d in config.destinations.iter().map(|d| &d.value) {
        if !KNOWN.contains(&d.channel()) {
            errors.push(ConfigError::at(
                file,
                d.channel.referenced,
                format!("{}.channel", d.path()),
                unknown_channel_message(d.channel()),
            ));
        }
    }
    for channel in KNOWN {
        if let Some(mut found) = with_channel(channel, PrepareAll { config, file }) {
            errors.append(&mut found);
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    let mut by_channel: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for d in config.destinations.iter().map(|d| &d.value) {
        by_channel.entry(d.channel()).or_default().push(d.name());
    }
    let n = config.destinations.len();
    let noun = if n == 1 {
        "destination"
    } else {
        "destinations"
    };
    if n == 0 {
        return Ok(format!("OK: 0 destinations ({file} configures none)"));
    }
    let detail: Vec<String> = by_channel
        .iter()
        .map(|(channel, names)| format!("{channel}: {}", names.join(", ")))
        .collect();
    Ok(format!("OK: {n} {noun} ({})", detail.join("; ")))
}

/// Runs `herald check`: exit 0 when the file is good, 1 with every problem otherwise.
pub(crate) fn run(args: &Args) -> ExitCode {
    let file = args.config.display().to_string();
    let result = FleetConfig::load(&args.config)
        .map_err(|e| e.0)
        .and_then(|config| check(&config, &file));
    match result {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_yaml(yaml: &str) -> Result<String, Vec<String>> {
        let config = FleetConfig::from_yaml(yaml, "f.yaml").map_err(|e| vec![e.to_string()])?;
        check(&config, "f.yaml").map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_good_file_is_summarised() {
        let ok = check_yaml(
            "destinations:\n  - name: a\n    channel: webhook\n    events: [rotation.x]\n    url: https://x/y\n  - name: b\n    channel: webhook\n    events: [rotation.x]\n    url: https://x/z\n",
        )
        .unwrap();
        assert_eq!(ok, "OK: 2 destinations (webhook: a, b)");
        assert!(check_yaml("{}").unwrap().starts_with("OK: 0 destinations"));
    }

    #[test]
    fn hosts_outside_the_allow_list_are_reported() {
        let yaml = |allow: &str| {
            format!(
                "worker: {{outbound: {{allow: [{allow}]}}}}\ndestinations:\n  - name: a\n    channel: webhook\n    events: [rotation.x]\n    url: http://127.0.0.1:9/x\n  - name: b\n    channel: webhook\n    events: [rotation.x]\n    url: https://hooks.example.com/x\n"
            )
        };
        let errs = check_yaml(&yaml("\"10.0.0.0/8\", hooks.example.com")).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("destinations[a]")
                && errs[0].contains("127.0.0.1 is outside the outbound allow-list")
                && errs[0].contains("10.0.0.0/8, hooks.example.com"),
            "{errs:?}"
        );
        assert!(check_yaml(&yaml("\"127.0.0.0/8\", \"*.example.com\"")).is_ok());
        // `localhost` resolves to loopback, which only `10.0.0.0/8` does not hold.
        let errs = check_yaml(
            "worker: {outbound: {allow: [example.com]}}\ndestinations:\n  - name: a\n    channel: webhook\n    events: [rotation.x]\n    url: http://localhost:9/x\n",
        )
        .unwrap_err();
        assert!(errs[0].contains("localhost ("), "{errs:?}");
    }

    #[test]
    fn every_problem_is_listed_in_file_order() {
        let errs = check_yaml(
            "destinations:\n  - name: a\n    channel: webhook\n    events: [rotation.x]\n    url: ftp://x\n  - name: b\n    channel: pigeon\n    events: [rotation.x]\n  - name: c\n    channel: webhook\n    events: [rotation.x]\n    url: {from: {env: HERALD_CLI_TEST_SURELY_UNSET}}\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0].starts_with("f.yaml:5:") && errs[0].contains("destinations[a].url"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("f.yaml:7:14: destinations[b].channel: unknown channel `pigeon`"),
            "{errs:?}"
        );
        assert!(
            errs[2].starts_with("f.yaml:12:") && errs[2].contains("HERALD_CLI_TEST_SURELY_UNSET"),
            "{errs:?}"
        );
    }
}
