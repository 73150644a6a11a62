//! What a component needs: its contract version, its imports and the grants they require,
//! checked against the host's world and a plugin's grants before anything is instantiated.

use super::config::Grants;
use anyhow::bail;
use std::fmt::Write as _;
use wasmtime::component::Component;

/// The version of the `livekit:analytics` package this host implements (`wit/`).
pub const HOST_WIT_VERSION: &str = super::wit::current::VERSION;

/// The WIT package of the contract.
pub const PACKAGE: &str = "livekit:analytics";

/// The functions a sink must export.
pub const REQUIRED_EXPORTS: [&str; 2] = ["initialize-database", "send-batch"];

/// What an import needs from the plugin's grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Provided by the host to every plugin (`livekit:analytics/log`).
    Host,
    /// Linked for every plugin and gives no access outside the sandbox: WASI io, clocks,
    /// random, stdio, exit.
    Ambient,
    /// `wasi:filesystem`: linked for every plugin, but only `grants.dirs` are reachable.
    Dirs,
    /// `wasi:cli/environment`: linked for every plugin, but only `grants.env` are visible.
    Env,
    /// `wasi:http`: linked only when `grants.http` lists at least one host.
    Http,
    /// Nothing provides it; the component cannot be loaded.
    Unknown,
}

impl Need {
    /// A short description for `plugin check`.
    pub fn describe(self) -> &'static str {
        match self {
            Need::Host => "provided by the host",
            Need::Ambient => "always linked, reaches nothing outside the sandbox",
            Need::Dirs => "linked; only directories in grants.dirs are reachable",
            Need::Env => "linked; only variables in grants.env are visible",
            Need::Http => "needs grants.http (refused without it)",
            Need::Unknown => "not provided by this host (refused)",
        }
    }
}

/// Classifies one import name such as `wasi:http/outgoing-handler@0.2.6`.
pub fn classify(import: &str) -> Need {
    let (path, _version) = split_version(import);
    if path.starts_with("livekit:analytics/") {
        return Need::Host;
    }
    let Some(rest) = path.strip_prefix("wasi:") else {
        return Need::Unknown;
    };
    let (package, iface) = rest.split_once('/').unwrap_or((rest, ""));
    match package {
        "io" | "clocks" | "random" => Need::Ambient,
        "filesystem" => Need::Dirs,
        "http" => Need::Http,
        "cli" if iface == "environment" => Need::Env,
        "cli" => Need::Ambient,
        _ => Need::Unknown,
    }
}

/// `name@1.2.3` → (`name`, `Some("1.2.3")`).
pub fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once('@') {
        Some((path, version)) => (path, Some(version)),
        None => (name, None),
    }
}

/// What a compiled component imports and exports.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    /// The `livekit:analytics` version it was built against, if it names one.
    pub wit_version: Option<String>,
    /// Its imports, with what each needs.
    pub imports: Vec<(String, Need)>,
    /// Its exports' names.
    pub exports: Vec<String>,
}

impl ComponentInfo {
    /// Reads a component's type.
    pub fn of(component: &Component, engine: &wasmtime::Engine) -> Self {
        let ty = component.component_type();
        let imports: Vec<(String, Need)> = ty
            .imports(engine)
            .map(|(name, _)| (name.to_string(), classify(name)))
            .collect();
        let exports = ty
            .exports(engine)
            .map(|(name, _)| name.to_string())
            .collect();
        let wit_version = imports.iter().find_map(|(name, _)| {
            let (path, version) = split_version(name);
            path.starts_with(PACKAGE)
                .then(|| version.map(str::to_string))?
        });
        ComponentInfo {
            wit_version,
            imports,
            exports,
        }
    }

    /// Fails unless this is a sink of a contract version the host supports.
    pub fn check_world(&self) -> anyhow::Result<()> {
        if let Some(version) = &self.wit_version {
            if !version_supported(version) {
                bail!(
                    "built for {PACKAGE}@{version}, but this host supports {PACKAGE}@{HOST_WIT_VERSION} \
                     (compatible: {}); rebuild the plugin against the host's wit/",
                    compatible_range()
                );
            }
        }
        let missing: Vec<&str> = REQUIRED_EXPORTS
            .iter()
            .copied()
            .filter(|f| !self.exports.iter().any(|e| e == f))
            .collect();
        if !missing.is_empty() {
            bail!(
                "not a {PACKAGE} `sink`: it does not export {} (it exports: {}); build it for \
                 world `{PACKAGE}/sink@{HOST_WIT_VERSION}`",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if self.exports.is_empty() {
                    "nothing".to_string()
                } else {
                    self.exports.join(", ")
                }
            );
        }
        Ok(())
    }

    /// Fails, naming the import, if the component imports something `grants` do not allow.
    pub fn check_grants(&self, grants: &Grants) -> anyhow::Result<()> {
        for (name, need) in &self.imports {
            match need {
                Need::Unknown => {
                    bail!("imports `{name}`, which this host does not provide to plugins")
                }
                Need::Http if grants.http.is_empty() => bail!(
                    "imports `{name}` but is not granted outgoing HTTP (add the allowed hosts \
                     to its `grants.http`)"
                ),
                _ => {}
            }
        }
        Ok(())
    }

    /// A human-readable report for `plugin check`.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "WIT version: {}",
            match &self.wit_version {
                Some(v) => format!("{PACKAGE}@{v}"),
                None => "unknown (imports nothing from the contract)".into(),
            }
        );
        let _ = writeln!(out, "exports: {}", self.exports.join(", "));
        let _ = writeln!(out, "imports:");
        for (name, need) in &self.imports {
            let _ = writeln!(out, "  {name}: {}", need.describe());
        }
        let mut grants = Vec::new();
        let has = |n: Need| self.imports.iter().any(|(_, need)| *need == n);
        if has(Need::Http) {
            grants.push("http (required: list the hosts it may call in grants.http)");
        }
        if has(Need::Dirs) {
            grants.push("dirs (optional: without them no file is reachable)");
        }
        if has(Need::Env) {
            grants.push("env (optional: without them no variable is visible)");
        }
        if has(Need::Unknown) {
            grants.push("NONE POSSIBLE: it imports something this host never provides");
        }
        let _ = writeln!(
            out,
            "grants: {}",
            if grants.is_empty() {
                "none needed".to_string()
            } else {
                grants.join("; ")
            }
        );
        out
    }
}

fn parse(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Whether a component built for `version` of the contract can run here: same major
/// version and a minor version no newer than the host's (for `0.x`, the same minor).
pub fn version_supported(version: &str) -> bool {
    let (Some(theirs), Some(ours)) = (parse(version), parse(HOST_WIT_VERSION)) else {
        return false;
    };
    if ours.0 == 0 {
        theirs.0 == 0 && theirs.1 == ours.1
    } else {
        theirs.0 == ours.0 && theirs.1 <= ours.1
    }
}

fn compatible_range() -> String {
    match parse(HOST_WIT_VERSION) {
        Some((0, minor, _)) => format!("0.{minor}.x"),
        Some((major, minor, _)) => format!("{major}.0 to {major}.{minor}.x"),
        None => HOST_WIT_VERSION.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_imports() {
        assert_eq!(classify("livekit:analytics/log@0.1.0"), Need::Host);
        assert_eq!(classify("wasi:io/streams@0.2.3"), Need::Ambient);
        assert_eq!(classify("wasi:filesystem/preopens@0.2.0"), Need::Dirs);
        assert_eq!(classify("wasi:cli/environment@0.2.0"), Need::Env);
        assert_eq!(classify("wasi:http/outgoing-handler@0.2.0"), Need::Http);
        assert_eq!(classify("acme:evil/thing"), Need::Unknown);
        assert_eq!(classify("wasi:sockets/tcp@0.2.0"), Need::Unknown);
    }

    #[test]
    fn versions() {
        assert!(version_supported("0.1.0"));
        assert!(version_supported("0.1.7"));
        assert!(!version_supported("0.2.0"));
        assert!(!version_supported("1.0.0"));
    }

    #[test]
    fn host_version_matches_wit() {
        let wit = include_str!("../../../wit/analytics.wit");
        assert!(wit.contains(&format!("package {PACKAGE}@{HOST_WIT_VERSION};")));
    }
}
