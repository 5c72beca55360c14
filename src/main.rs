//! `vtepd [EAL options] -- -c FILE [OPTIONS]`
//!
//! Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad arguments or configuration.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use vtepd::cli::Cli;
use vtepd::config::Config;
use vtepd::control::{self, RunOptions};
use vtepd::dpdk::{self, Eal};

const EXIT_RUNTIME: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let (mut eal_args, app_args) = dpdk::split_args(&argv);

    // `vtepd --help` / `--version` without `--` are for vtepd, not for EAL.
    let own_flag = matches!(
        eal_args.get(1).map(String::as_str),
        Some("-h" | "--help" | "-V" | "--version")
    );
    let cli_args = if own_flag && eal_args.len() == 2 && app_args.is_empty() {
        vec![argv[0].clone(), eal_args[1].clone()]
    } else {
        std::iter::once(argv[0].clone()).chain(app_args).collect()
    };
    let cli = match Cli::try_parse_from(cli_args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };

    tracing_subscriber::fmt()
        .with_max_level(cli.log.as_filter())
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vtepd: config {}: {e}", cli.config.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if cli.check {
        println!("{}: configuration is valid", cli.config.display());
        return ExitCode::SUCCESS;
    }

    // EAL's start-up chatter is INFO level; keep it to notices unless the user asks for more
    // with their own `--log-level` (given later, it wins).
    eal_args.insert(1, "--log-level=notice".to_owned());
    let eal = match Eal::init(&eal_args) {
        Ok(eal) => eal,
        Err(e) => {
            eprintln!("vtepd: {e}");
            let code = if e.is_usage_error() {
                EXIT_USAGE
            } else {
                EXIT_RUNTIME
            };
            return ExitCode::from(code);
        }
    };
    tracing::info!(
        "vtepd {} on {}",
        vtepd::cli::LONG_VERSION,
        dpdk::runtime_version()
    );

    let opts = RunOptions {
        config_path: cli.config.clone(),
        stats_interval: cli.stats_interval.map(Duration::from_secs),
        exit_when_idle: cli.exit_when_idle.map(Duration::from_millis),
        final_stats: cli.final_stats.clone(),
    };
    let report = match control::run(&eal, config, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vtepd: {e}");
            let code = if e.is_usage_error() {
                EXIT_USAGE
            } else {
                EXIT_RUNTIME
            };
            return ExitCode::from(code);
        }
    };
    print!("{}", report.to_text());
    if let Some(path) = &opts.final_stats {
        let json = match serde_json::to_string_pretty(&report) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("vtepd: encode final stats: {e}");
                return ExitCode::from(EXIT_RUNTIME);
            }
        };
        if let Err(e) = std::fs::write(path, json + "\n") {
            eprintln!("vtepd: write {}: {e}", path.display());
            return ExitCode::from(EXIT_RUNTIME);
        }
    }
    drop(eal);
    ExitCode::SUCCESS
}
