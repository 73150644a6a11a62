//! `analytics-host`: the command line.

use analytics_host::config::{Config, ConfigSource};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Keeps LiveKit analytics: receives events and stats from livekit-server and stores them in
/// MongoDB, Redis, an embedded file store and WebAssembly plugin sinks.
#[derive(Parser)]
#[command(name = "analytics-host", version, about, long_about = None)]
struct Cli {
    /// LiveKit configuration file with an `openvidu.analytics` section.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The whole configuration as YAML text (as livekit-server takes `LIVEKIT_CONFIG`).
    #[arg(
        long,
        global = true,
        env = "LIVEKIT_CONFIG",
        value_name = "YAML",
        hide_env_values = true
    )]
    config_body: Option<String>,
    /// Log level or filter (e.g. `info`, `debug`, `analytics_host=trace`); `RUST_LOG` wins.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the host until SIGINT/SIGTERM (the default). Without any configuration, stores
    /// to the embedded file store under ./analytics-data.
    Run,
    /// Validate the configuration and print the effective settings, secrets masked.
    CheckConfig,
    /// WebAssembly plugin tools.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Validate a component against the `sink` world; print its WIT version, imports and
    /// the grants it needs.
    Check {
        /// The component (`.wasm`).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    match (&cli.config, &cli.config_body) {
        (Some(path), _) => Config::from_file(path),
        (None, Some(body)) => Config::parse(body, ConfigSource::Inline("LIVEKIT_CONFIG".into())),
        (None, None) => Ok(Config::defaults()),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Plugin(PluginCommand::Check { file })) = &cli.command {
        return plugin_check(file);
    }
    let config = load_config(&cli)?;
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => {
            println!("# {} is valid; effective settings:", config.source);
            print!("{}", config.describe());
            let mut sinks = Vec::new();
            if config.analytics.enabled {
                if config.analytics.mongo_url.is_some() {
                    sinks.push("mongo");
                }
                if config.redis_sink_enabled() {
                    sinks.push("redis");
                }
                if config.file_store_enabled() {
                    sinks.push("file");
                }
                for plugin in config.analytics.plugins.iter().filter(|p| p.enabled) {
                    sinks.push(plugin.name.as_str());
                }
            }
            println!(
                "# sinks: {}",
                if sinks.is_empty() {
                    "none (storing nothing)".into()
                } else {
                    sinks.join(", ")
                }
            );
            check_plugins(&config)
        }
        Command::Plugin(_) => unreachable!("handled before loading the configuration"),
        Command::Run => {
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(analytics_host::app::run(config))
        }
    }
}

fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cli.log_level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// `plugin check FILE`: compiles the component and checks it against the host's world.
fn plugin_check(file: &std::path::Path) -> anyhow::Result<()> {
    use analytics_host::plugin::{ComponentInfo, PluginEngine, HOST_WIT_VERSION};
    let engine = PluginEngine::shared()?;
    let (component, cached) = engine.load_component(file)?;
    let info = ComponentInfo::of(&component, engine.engine());
    println!(
        "{}: component{}",
        file.display(),
        if cached {
            " (compiled copy cached)"
        } else {
            ""
        }
    );
    print!("{}", info.report());
    info.check_world()
        .with_context(|| format!("`{}` is not usable by this host", file.display()))?;
    // Link it as a plugin granted everything grantable: checks the exports' types too.
    let mut config: analytics_host::config::PluginConfig =
        serde_yaml::from_str("{name: check, path: x}")?;
    config.path = file.to_path_buf();
    config.grants.http.push("any-host".into());
    analytics_host::plugin::Plugin::from_component(&engine, &config, &component)
        .with_context(|| format!("`{}` is not usable by this host", file.display()))?;
    println!(
        "OK: a livekit:analytics sink this host (livekit:analytics@{HOST_WIT_VERSION}) can run"
    );
    Ok(())
}

/// `check-config`: loads every enabled plugin (compile or cache, world, version, grants).
fn check_plugins(config: &Config) -> anyhow::Result<()> {
    let analytics = &config.analytics;
    let enabled: Vec<_> = analytics.plugins.iter().filter(|p| p.enabled).collect();
    if !analytics.enabled || enabled.is_empty() {
        return Ok(());
    }
    let engine = analytics_host::plugin::PluginEngine::shared()?.with_cache_dir(
        analytics
            .plugin_cache_dir
            .clone()
            .or_else(|| Some(analytics_host::plugin::engine::default_cache_dir())),
    );
    for plugin in enabled {
        analytics_host::plugin::Plugin::load(&engine, plugin).with_context(|| {
            format!(
                "{}: openvidu.analytics.plugins `{}`",
                config.source, plugin.name
            )
        })?;
        println!("# plugin `{}`: loads and links", plugin.name);
    }
    Ok(())
}
