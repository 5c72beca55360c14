//! vtepd's own command line (what follows `--`; EAL takes what precedes it).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("VTEPD_BUILD_REVISION"),
    ", built against DPDK ",
    env!("VTEPD_BUILD_DPDK"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "vtepd",
    version,
    long_version = LONG_VERSION,
    about = "DPDK-accelerated VXLAN/NVGRE gateway",
    override_usage = "vtepd [EAL options] -- -c FILE [OPTIONS]",
    after_help = "EAL options come before `--`, e.g. `-l 2-5 -a 0000:3b:00.0` on hardware or \
                  `-l 0-1 --no-huge --no-pci --vdev net_pcap0,rx_pcap=in.pcap` without a NIC.\n\
                  The first lcore runs the management thread; every further lcore runs one worker."
)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: PathBuf,

    /// Validate the configuration and exit (EAL is not started).
    #[arg(long)]
    pub check: bool,

    /// Print one line of rates per port every SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub stats_interval: Option<u64>,

    /// Log level.
    #[arg(long, value_name = "LEVEL", value_enum, default_value_t = LogLevel::Info)]
    pub log: LogLevel,

    /// Exit cleanly once no packet has arrived for MS milliseconds (pcap replays, tests).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub exit_when_idle: Option<u64>,

    /// At exit, also write the final counters as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub final_stats: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_filter(self) -> tracing::level_filters::LevelFilter {
        use tracing::level_filters::LevelFilter;
        match self {
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_options() {
        let cli = Cli::try_parse_from([
            "vtepd",
            "-c",
            "x.toml",
            "--check",
            "--stats-interval",
            "2",
            "--log",
            "debug",
            "--exit-when-idle",
            "500",
        ])
        .unwrap();
        assert_eq!(cli.config, PathBuf::from("x.toml"));
        assert!(cli.check);
        assert_eq!(cli.stats_interval, Some(2));
        assert_eq!(cli.log, LogLevel::Debug);
        assert_eq!(cli.exit_when_idle, Some(500));
    }

    #[test]
    fn config_is_required() {
        assert!(Cli::try_parse_from(["vtepd"]).is_err());
    }

    #[test]
    fn zero_interval_is_refused() {
        assert!(Cli::try_parse_from(["vtepd", "-c", "x", "--stats-interval", "0"]).is_err());
    }
}
