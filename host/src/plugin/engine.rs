//! The process-wide wasmtime engine and the on-disk cache of compiled components.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use wasmtime::component::Component;

/// How often the epoch advances; every running plugin yields to the runtime this often,
/// and per-call deadlines are checked at this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// One wasmtime engine with epoch interruption and async support, shared by all plugins,
/// plus the folder where compiled components are cached.
#[derive(Clone)]
pub struct PluginEngine {
    engine: wasmtime::Engine,
    cache_dir: Option<PathBuf>,
}

impl PluginEngine {
    /// A new engine whose compiled components are cached in `cache_dir` (none: no cache).
    /// Starts a ticker thread that advances the epoch until the engine is dropped.
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            })
            .context("starting the epoch ticker thread")?;
        Ok(PluginEngine { engine, cache_dir })
    }

    /// The process-wide engine with the default cache folder (created on first use).
    pub fn shared() -> anyhow::Result<Self> {
        static SHARED: OnceLock<PluginEngine> = OnceLock::new();
        if let Some(engine) = SHARED.get() {
            return Ok(engine.clone());
        }
        let engine = PluginEngine::new(Some(default_cache_dir()))?;
        Ok(SHARED.get_or_init(|| engine).clone())
    }

    /// The same engine with another cache folder.
    pub fn with_cache_dir(&self, cache_dir: Option<PathBuf>) -> Self {
        PluginEngine {
            engine: self.engine.clone(),
            cache_dir,
        }
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// Compiles a component, or loads it from the cache when this exact file was compiled
    /// before by an engine with the same configuration. Returns whether the cache was hit.
    pub fn load_component(&self, path: &Path) -> anyhow::Result<(Component, bool)> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read plugin `{}`", path.display()))?;
        self.component_from_bytes(&bytes)
            .with_context(|| format!("plugin `{}`", path.display()))
    }

    /// Like [`PluginEngine::load_component`], from the component's bytes.
    pub fn component_from_bytes(&self, bytes: &[u8]) -> anyhow::Result<(Component, bool)> {
        check_header(bytes)?;
        let Some(dir) = &self.cache_dir else {
            return Ok((self.compile(bytes)?, false));
        };
        let file = dir.join(format!("{}.cwasm", self.cache_key(bytes)));
        if file.is_file() {
            // SAFETY: the file was written by `precompile_component` of an engine with the
            // same compatibility hash (part of the name); wasmtime re-checks the header.
            match unsafe { Component::deserialize_file(&self.engine, &file) } {
                Ok(component) => return Ok((component, true)),
                Err(err) => tracing::warn!(file = %file.display(), error = %err,
                    "ignoring an unusable cached plugin; compiling again"),
            }
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(anyhow::Error::from)
            .context("compiling the component")?;
        if let Err(err) = write_atomically(dir, &file, &compiled) {
            tracing::warn!(dir = %dir.display(), error = %err, "cannot cache a compiled plugin");
        }
        // SAFETY: `compiled` was just produced by this engine.
        let component = unsafe { Component::deserialize(&self.engine, &compiled) }
            .map_err(anyhow::Error::from)
            .context("loading the compiled component")?;
        Ok((component, false))
    }

    fn compile(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        Component::new(&self.engine, bytes)
            .map_err(anyhow::Error::from)
            .context("compiling the component")
    }

    /// Cache file stem: SHA-256 of the component plus a hash of the engine's settings.
    pub fn cache_key(&self, bytes: &[u8]) -> String {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        format!(
            "{}-{:016x}",
            hex::encode(Sha256::digest(bytes)),
            hasher.finish()
        )
    }
}

/// Fails with the cause when `bytes` cannot be a component: not WebAssembly at all (no
/// `\0asm` header, and not WAT text either), or a core module rather than a component.
fn check_header(bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(header) = bytes.strip_prefix(b"\0asm") {
        // Bytes 6..8 are the layer: 0 for a core module, 1 for a component.
        if header.get(2..4) == Some(&[0, 0]) {
            anyhow::bail!(
                "a core WebAssembly module, not a component; build it for the component \
                 model (e.g. `cargo component`, or `wasm-tools component new`)"
            );
        }
        return Ok(());
    }
    let wat = std::str::from_utf8(bytes).is_ok_and(|t| t.trim_start().starts_with('('));
    if !wat {
        anyhow::bail!(
            "not a WebAssembly file: it does not start with the `\\0asm` header ({} bytes)",
            bytes.len()
        );
    }
    Ok(())
}

/// `$TMPDIR/livekit-analytics-host-plugins`.
pub fn default_cache_dir() -> PathBuf {
    std::env::temp_dir().join("livekit-analytics-host-plugins")
}

fn write_atomically(dir: &Path, file: &Path, data: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), fastrand::u64(..)));
    std::fs::write(&tmp, data).with_context(|| format!("writing `{}`", tmp.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("renaming to `{}`", file.display()))
}

#[cfg(test)]
mod tests {
    use super::check_header;

    #[test]
    fn header_check_names_the_cause() {
        let text = format!("{:#}", check_header(b"hello").unwrap_err());
        assert!(text.contains("not a WebAssembly file"), "{text}");
        let core = wat::parse_str("(module)").unwrap();
        let text = format!("{:#}", check_header(&core).unwrap_err());
        assert!(
            text.contains("core WebAssembly module, not a component"),
            "{text}"
        );
        assert!(check_header(b"(component)").is_ok());
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }
}
