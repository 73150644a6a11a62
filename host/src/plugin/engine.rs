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
        if let Err(why) = trusted(dir, true) {
            tracing::warn!(dir = %dir.display(), %why,
                "not using the compiled-plugin cache: compiling in memory (give the host its \
                 own cache directory, mode 0700)");
            return Ok((self.compile(bytes)?, false));
        }
        let file = dir.join(format!("{}.cwasm", self.cache_key(bytes)));
        let usable = match trusted(&file, false) {
            Ok(()) => true,
            Err(why) if file.exists() || file.is_symlink() => {
                tracing::warn!(file = %file.display(), %why,
                    "ignoring an untrusted cached plugin; compiling again");
                false
            }
            Err(_) => false,
        };
        if usable {
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
pub fn check_header(bytes: &[u8]) -> anyhow::Result<()> {
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

/// The user's cache directory: `$XDG_CACHE_HOME/livekit-analytics-host/plugins`, else
/// `$HOME/.cache/livekit-analytics-host/plugins`; without either, a folder named after
/// the user id in the system's temp dir. Created private (0700) on first use; compiled
/// plugins are native code, so a directory or file others could write is never trusted.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        });
    match base {
        Some(base) => base.join("livekit-analytics-host").join("plugins"),
        None => std::env::temp_dir().join(format!(
            "livekit-analytics-host-plugins-{}",
            rustix::process::geteuid().as_raw()
        )),
    }
}

/// Whether `path` (a directory when `dir`, else a regular file, not a symlink) is safe to
/// load native code from: owned by this process's user and not writable by group or
/// others, as ssh checks its keys. A missing directory is created with mode 0700.
pub fn trusted(path: &Path, dir: bool) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if dir && !path.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| format!("cannot create it: {e}"))?;
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if dir && !meta.is_dir() {
        return Err("not a directory".into());
    }
    if !dir && !meta.is_file() {
        return Err("not a regular file (a symlink or something else)".into());
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "owned by user {} (this process runs as {me})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "writable by group or others (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

fn write_atomically(dir: &Path, file: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), fastrand::u64(..)));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating `{}`", tmp.display()))?;
    out.write_all(data)
        .with_context(|| format!("writing `{}`", tmp.display()))?;
    drop(out);
    std::fs::rename(&tmp, file).with_context(|| format!("renaming to `{}`", file.display()))
}

#[cfg(test)]
mod tests {
    use super::{check_header, PluginEngine};
    use std::os::unix::fs::PermissionsExt;

    fn set_mode(path: &std::path::Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_cache_is_private_and_untrusted_files_are_never_loaded() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        let engine = PluginEngine::new(Some(dir.clone())).unwrap();
        let component = b"(component)";
        assert!(
            !engine.component_from_bytes(component).unwrap().1,
            "compiled"
        );
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "created private");
        let file = dir.join(format!("{}.cwasm", engine.cache_key(component)));
        let file_mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(file_mode, 0o600);
        assert!(
            engine.component_from_bytes(component).unwrap().1,
            "cache hit"
        );

        // A cached file others could have written is compiled again (and replaced).
        set_mode(&file, 0o666);
        assert!(!engine.component_from_bytes(component).unwrap().1);
        assert!(
            engine.component_from_bytes(component).unwrap().1,
            "replaced, trusted"
        );

        // A file owned by another user (we run the tests as root in CI; skip otherwise).
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
            assert!(!engine.component_from_bytes(component).unwrap().1);
        }

        // A symlink in place of the file is not followed.
        std::fs::remove_file(&file).unwrap();
        let elsewhere = root.path().join("elsewhere.cwasm");
        std::fs::write(&elsewhere, b"whatever").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        assert!(!engine.component_from_bytes(component).unwrap().1);

        // A directory others can write is not used at all: nothing is written there.
        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        set_mode(&open, 0o777);
        let engine = PluginEngine::new(Some(open.clone())).unwrap();
        assert!(!engine.component_from_bytes(component).unwrap().1);
        assert!(!engine.component_from_bytes(component).unwrap().1);
        assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);
    }

    #[test]
    fn the_default_cache_is_the_users_not_a_shared_temp_folder() {
        let dir = super::default_cache_dir();
        if std::env::var_os("HOME").is_some() || std::env::var_os("XDG_CACHE_HOME").is_some() {
            assert!(!dir.starts_with(std::env::temp_dir()), "{}", dir.display());
        }
        assert!(dir.ends_with("plugins") || dir.to_string_lossy().contains("plugins-"));
    }

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
