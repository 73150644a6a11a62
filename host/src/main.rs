//! `analytics-host`: the command line.

use analytics_host::config::{Config, ConfigSource};
use analytics_host::supervisor;
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: documents are many small allocations; it keeps them faster and the heap
/// tighter than the system allocator (see docs/benchmarks.md, Whole pipeline). Built without transparent
/// huge pages (`no_thp`): the large buffers of a gRPC message (a decoded `Vec` of 500
/// events) are freed and taken again each message, and with huge pages each time cost a
/// 2 MiB page zeroed by the kernel (11 % of the host's CPU at 100k items/s; −6 % CPU without).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Reload when the configuration file (or a plugin component it names) changes, as
    /// SIGHUP does; a configuration that does not validate is logged and not applied.
    #[arg(long, global = true)]
    watch_config: bool,
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
    /// Behave like a LiveKit node: generate rooms, participants, tracks and their stats and
    /// send them to a running host (signed webhooks and/or gRPC) at a given rate; print
    /// what was accepted. With --config, the URLs, key and token come from that file.
    Simulate(Box<SimulateArgs>),
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Rooms alive at the same time (finished rooms are replaced by new ones).
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Participants per room.
    #[arg(long, default_value_t = 3)]
    participants: usize,
    /// Tracks per participant (the first audio, the others video).
    #[arg(long, default_value_t = 2)]
    tracks: usize,
    /// Offered rate in items/s over all doors (0: as fast as the host acknowledges).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// How long to generate (Go syntax: 30s, 2m, 1m30s). Default 10s.
    #[arg(long, conflicts_with = "items", value_parser = parse_duration)]
    duration: Option<std::time::Duration>,
    /// Stop after this many items instead of after a duration.
    #[arg(long)]
    items: Option<u64>,
    /// Which doors to use.
    #[arg(long, value_enum, default_value_t = analytics_host::simulate::DoorChoice::Both)]
    doors: analytics_host::simulate::DoorChoice,
    /// Events or stats per gRPC message at most.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Webhook URL (default from --config, else http://127.0.0.1:7890/webhook).
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// gRPC URL (default from --config, else http://127.0.0.1:7891).
    #[arg(long, value_name = "URL")]
    grpc_url: Option<String>,
    /// API key that signs webhooks (default: the first of the config's `keys:`).
    #[arg(long)]
    api_key: Option<String>,
    /// Secret of --api-key (default: from the config's `keys:`).
    #[arg(long)]
    api_secret: Option<String>,
    /// Bearer token for gRPC calls (default: the config's `ingest.grpc.token`).
    #[arg(long)]
    grpc_token: Option<String>,
    /// Node id written into every record (default: the config's `node_id`, else ND_simulate).
    #[arg(long)]
    node_id: Option<String>,
    /// Seed of sids and values (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Also write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    analytics_host::config::duration::parse(text)
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
    if let Some(Command::Simulate(args)) = &cli.command {
        let config = match (&cli.config, &cli.config_body) {
            (None, None) => None,
            _ => Some(load_config(&cli)?),
        };
        return simulate(args, config.as_ref());
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
        Command::Plugin(_) | Command::Simulate(_) => {
            unreachable!("handled before loading the configuration")
        }
        Command::Run => {
            let (source, inline_text) = match (&cli.config, &cli.config_body) {
                (None, Some(body)) => (config.source.clone(), Some(body.clone())),
                _ => (config.source.clone(), None),
            };
            // The text again, for its hash (the file was just read and validated).
            let (config, hash) = supervisor::load(&source, inline_text.as_deref())?;
            let options = supervisor::RunOptions {
                watch_config: cli.watch_config,
                inline_text,
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(supervisor::run(config, hash, options))
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

/// `simulate`: options from the arguments, defaults from the configuration if given.
fn simulate(args: &SimulateArgs, config: Option<&Config>) -> anyhow::Result<()> {
    use analytics_host::simulate::{self, Limit, SimulateOptions};
    let defaults = SimulateOptions::default();
    let loopback = |addr: std::net::SocketAddr| {
        if addr.ip().is_unspecified() {
            let ip: std::net::IpAddr = if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            };
            std::net::SocketAddr::new(ip, addr.port())
        } else {
            addr
        }
    };
    let ingest = config.map(|c| &c.analytics.ingest);
    let first_key = config.and_then(|c| c.keys.0.iter().next());
    let api_key = args
        .api_key
        .clone()
        .or_else(|| first_key.map(|(k, _)| k.clone()));
    let api_secret = args.api_secret.clone().or_else(|| {
        let key = api_key.as_deref()?;
        config.and_then(|c| c.keys.secret(key)).map(str::to_string)
    });
    if api_key.is_some() && api_secret.is_none() && args.doors != simulate::DoorChoice::Grpc {
        anyhow::bail!(
            "no secret for API key `{}`: pass --api-secret, or --config with that key in `keys:`",
            api_key.as_deref().unwrap_or_default()
        );
    }
    let options = SimulateOptions {
        webhook_url: args.webhook_url.clone().unwrap_or_else(|| match ingest {
            Some(i) => format!("http://{}{}", loopback(i.webhook.listen), i.webhook.path),
            None => defaults.webhook_url.clone(),
        }),
        grpc_url: args.grpc_url.clone().unwrap_or_else(|| match ingest {
            Some(i) => format!("http://{}", loopback(i.grpc.listen)),
            None => defaults.grpc_url.clone(),
        }),
        grpc_token: args
            .grpc_token
            .clone()
            .or_else(|| ingest.and_then(|i| i.grpc.token.clone())),
        api_key,
        api_secret,
        doors: args.doors,
        rooms: args.rooms,
        participants: args.participants,
        tracks: args.tracks,
        rate: args.rate,
        limit: match (args.items, args.duration) {
            (Some(n), _) => Limit::Items(n),
            (None, Some(d)) => Limit::Duration(d),
            (None, None) => defaults.limit,
        },
        batch: args.batch,
        concurrency: args.concurrency,
        node_id: args
            .node_id
            .clone()
            .or_else(|| config.and_then(|c| c.analytics.node_id.clone()))
            .unwrap_or(defaults.node_id),
        seed: args.seed,
        progress: !args.quiet,
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let summary = runtime.block_on(simulate::run(options.clone()))?;
    print!("{}", summary.table());
    if let Some(path) = &args.summary_json {
        let json = serde_json::to_string_pretty(&summary)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing the summary to {}", path.display()))?;
    }
    if summary.accepted() == 0 {
        let mut urls = Vec::new();
        if options.doors != simulate::DoorChoice::Grpc {
            urls.push(options.webhook_url.as_str());
        }
        if options.doors != simulate::DoorChoice::Webhook {
            urls.push(options.grpc_url.as_str());
        }
        anyhow::bail!(
            "nothing was accepted by {} (see the refusals above)",
            urls.join(" and ")
        );
    }
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
