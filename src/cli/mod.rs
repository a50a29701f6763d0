//! The front end: clap definitions and one function per subcommand. It never builds a URL.

mod assets;
pub mod blob;
pub mod cache;
pub mod ci;
pub mod digest;
pub mod escape;
pub mod exit;
pub mod hints;
pub mod keyless;
pub mod layout;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod referrers;
mod report;
pub mod tags;
pub mod usage;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use oci_dl::{ClientOptions, Credentials, Reference};

const EXAMPLES: &str = "\
Examples:
  oci-dl pull ghcr.io/org/pkg:v1.2 -o dist
  oci-dl pull org/pkg -g '*linux*x86_64*' --exclude musl
  oci-dl manifest ghcr.io/org/pkg:v1 | jq .layers
  oci-dl blob ghcr.io/org/pkg@sha256:… -o - | tar xz";

/// Download files stored in OCI registries, verifying every byte.
#[derive(Debug, Parser)]
#[command(name = "oci-dl", version, about, after_help = format!("{EXAMPLES}\n\n{}", exit::help_table()))]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Args)]
pub struct Global {
    /// More detail on stderr; -vv everything.
    ///
    /// -v shows requests and auth steps, -vv everything.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Display")]
    pub verbose: u8,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = "Display")]
    pub quiet: bool,
    /// Progress display on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        help_heading = "Display"
    )]
    pub progress: progress::ProgressArg,
    /// Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS).
    #[arg(long, global = true, help_heading = "Network", hide_short_help = true)]
    pub plain_http: bool,
    /// Skip TLS certificate verification.
    #[arg(long, global = true, help_heading = "Network", hide_short_help = true)]
    pub insecure: bool,
    /// Trust the PEM root certificates in FILE, besides the system's.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        help_heading = "Network",
        hide_short_help = true
    )]
    pub ca_file: Option<PathBuf>,
    /// User name for the registry.
    ///
    /// The password comes from --password-stdin or OCI_DL_PASSWORD.
    #[arg(short, long, global = true, env = "OCI_DL_USERNAME", help_heading = "Auth")]
    pub username: Option<String>,
    /// Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman's, Docker's).
    #[arg(long, global = true, value_name = "FILE", help_heading = "Auth", hide_short_help = true)]
    pub registry_config: Option<PathBuf>,
    /// Read the password or token from standard input.
    #[arg(long, global = true, help_heading = "Auth")]
    pub password_stdin: bool,
    /// Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl].
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        conflicts_with = "no_cache",
        help_heading = "Cache",
        hide_short_help = true
    )]
    pub cache: Option<PathBuf>,
    /// Use no blob cache.
    #[arg(long, global = true, help_heading = "Cache", hide_short_help = true)]
    pub no_cache: bool,
    /// Use the cache alone, no network.
    ///
    /// A tag means the digest an earlier pull on this machine resolved it to.
    #[arg(long, global = true, conflicts_with = "no_cache", help_heading = "Cache")]
    pub offline: bool,
    /// Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d].
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "CONTAINERS_REGISTRIES_CONF",
        help_heading = "Network",
        hide_short_help = true
    )]
    pub registries_conf: Option<PathBuf>,
    /// Try HOST[:PORT][/NAMESPACE] before the reference's registry, for any pull; repeatable.
    #[arg(
        long,
        global = true,
        value_name = "HOST",
        help_heading = "Network",
        hide_short_help = true
    )]
    pub mirror: Vec<String>,
    /// Retries of a failed request or transfer (with backoff), each resuming where it stopped.
    #[arg(
        long,
        global = true,
        value_name = "N",
        default_value_t = 5,
        help_heading = "Network",
        hide_short_help = true
    )]
    pub retries: u32,
    /// Connect HOST:PORT to ADDR instead of asking DNS (as curl's --resolve); repeatable.
    #[arg(
        long,
        global = true,
        value_name = "HOST:PORT:ADDR",
        help_heading = "Network",
        hide_short_help = true
    )]
    pub resolve: Vec<String>,
    /// Seconds a connection may deliver nothing before it counts as stalled.
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        default_value_t = 30,
        help_heading = "Network",
        hide_short_help = true
    )]
    pub timeout: u64,
    /// Seconds a small answer (headers, manifest, token, tag list, error body) may take in all.
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        default_value_t = 60,
        help_heading = "Network",
        hide_short_help = true
    )]
    pub deadline: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download the layers of an artifact, each saved under its title.
    Pull(Box<pull::PullArgs>),
    /// Print a manifest exactly as the registry serves it.
    Manifest(manifest::ManifestArgs),
    /// Download one blob by digest, to a file or stdout.
    Blob(blob::BlobArgs),
    /// Print the digest a tag resolves to (of the index, or with --platform of one manifest).
    Digest(digest::DigestArgs),
    /// List what is attached to a manifest: SBOMs, signatures, attestations.
    Referrers(referrers::ReferrersArgs),
    /// List a repository's tags, one per line.
    Tags(tags::TagsArgs),
    /// Manage the blob cache.
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write completions/ and man/ under DIR (for the repository's generated files).
    #[command(hide = true)]
    GenerateAssets { dir: PathBuf },
}

/// `--overwrite` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OverwriteArg {
    Error,
    Skip,
    Force,
    Prompt,
}

impl OverwriteArg {
    /// `prompt` only works at a terminal; elsewhere it is `error`.
    pub fn resolve(arg: Option<OverwriteArg>) -> oci_dl::Overwrite {
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        match arg {
            Some(OverwriteArg::Error) => oci_dl::Overwrite::Error,
            Some(OverwriteArg::Skip) => oci_dl::Overwrite::Skip,
            Some(OverwriteArg::Force) => oci_dl::Overwrite::Force,
            Some(OverwriteArg::Prompt) | None if interactive => oci_dl::Overwrite::Prompt,
            Some(OverwriteArg::Prompt) | None => oci_dl::Overwrite::Error,
        }
    }
}

impl Global {
    /// The cache directory in effect, if any.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_cache { None } else { self.cache.clone().or_else(oci_dl::Cache::default_dir) }
    }

    /// The progress view for this run: `--progress`, `-q`, and `-v` or `RUST_LOG` for detail.
    pub fn view(&self) -> std::sync::Arc<dyn progress::Console> {
        let from_env = std::env::var("RUST_LOG").map_or(0, |v| {
            let v = v.to_ascii_lowercase();
            if v.contains("trace") {
                2
            } else if v.contains("debug") {
                1
            } else {
                0
            }
        });
        progress::open(self.progress, self.quiet, self.verbose.max(from_env))
    }

    /// Connection options, reading a password from stdin or the environment when asked to.
    pub fn client_options(&self) -> anyhow::Result<ClientOptions> {
        let env_password = std::env::var("OCI_DL_PASSWORD").ok().filter(|p| !p.is_empty());
        let credentials = match (&self.username, self.password_stdin) {
            (Some(user), true) => {
                let mut pw = String::new();
                std::io::stdin().read_to_string(&mut pw).context("read password from stdin")?;
                let pw = pw.trim_end_matches(['\n', '\r']).to_owned();
                if pw.is_empty() {
                    bail!(usage("--password-stdin read an empty password"));
                }
                Some(Credentials::Basic { username: user.clone(), password: pw })
            }
            (None, true) => bail!(usage("--password-stdin needs -u/--username")),
            (Some(user), false) => match env_password {
                Some(pw) => Some(Credentials::Basic { username: user.clone(), password: pw }),
                None => bail!(usage("-u/--username needs --password-stdin or OCI_DL_PASSWORD")),
            },
            (None, false) => None,
        };
        // insecure_registry stays off: it is set per registry from registries.conf.
        let mut opts = ClientOptions::default();
        opts.plain_http = self.plain_http;
        opts.insecure = self.insecure;
        opts.ca_file = self.ca_file.clone();
        opts.credentials = credentials;
        opts.timeout = Some(Duration::from_secs(self.timeout.max(1)));
        opts.deadline = Some(Duration::from_secs(self.deadline.max(1)));
        opts.store = match (self.offline, self.cache_dir()) {
            (false, _) => None,
            (true, Some(dir)) => Some(oci_dl::Store::offline(&dir)),
            (true, None) => bail!(usage("--offline reads the cache, but there is none (no HOME)")),
        };
        opts.cache = self.cache_dir();
        opts.sources = oci_dl::CredentialSources::from_env(self.registry_config.as_deref());
        opts.resolve = self.resolve.iter().map(|r| pin(r)).collect::<Result<_, _>>()?;
        opts.retry.retries = self.retries;
        opts.cancel = cancel_on_signals()?;
        opts.mirrors = oci_dl::Mirrors::load(self.registries_conf.as_deref(), self.mirror.clone())?;
        Ok(opts)
    }
}

/// A `--platform` that names one platform (`manifest`, `referrers`): `all` is for `pull`.
pub fn one_platform(
    arg: Option<&str>,
    command: &str,
) -> Result<Option<oci_dl::Platform>, oci_dl::Error> {
    match arg {
        Some("all") => {
            Err(usage(format!("{command} resolves one platform: --platform all is for pull")))
        }
        Some(p) => p.parse().map(Some),
        None => Ok(None),
    }
}

/// `--resolve HOST:PORT:ADDR`, as curl takes it.
fn pin(arg: &str) -> Result<oci_dl::Pin, oci_dl::Error> {
    arg.parse().map_err(|_| usage(format!("invalid --resolve {arg:?}: expected HOST:PORT:ADDR")))
}

/// `--verify-key SPEC`: a key file's path, or `env:VAR` for the key's text in a variable.
pub fn verify_key(spec: &str) -> Result<oci_dl::VerifyKey, oci_dl::Error> {
    let Some(var) = spec.strip_prefix("env:") else {
        return oci_dl::VerifyKey::from_file(std::path::Path::new(spec));
    };
    let text = std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| usage(format!("--verify-key {spec}: ${var} is not set")))?;
    oci_dl::VerifyKey::parse(&text, spec)
}

/// A usage error for the front end's own checks.
pub fn usage(msg: impl Into<String>) -> oci_dl::Error {
    oci_dl::Error::new(oci_dl::ErrorKind::Usage, msg)
}

/// Parse a reference with the default registry from `OCI_DL_DEFAULT_REGISTRY`.
/// Without it, a one-component name (`alpine`) is refused: on ghcr.io such a name is anyone's to
/// claim, and the user most likely meant Docker Hub's.
pub fn parse_reference(s: &str) -> Result<Reference, oci_dl::Error> {
    let default = std::env::var("OCI_DL_DEFAULT_REGISTRY").ok().filter(|r| !r.is_empty());
    let parsed =
        Reference::parse_with_default(s, default.as_deref().unwrap_or(oci_dl::DEFAULT_REGISTRY))?;
    let name = s.split('@').next().unwrap_or(s);
    if default.is_none() && !name.contains('/') {
        let repo = name.split(':').next().unwrap_or(name);
        return Err(usage(format!(
            "invalid reference {s:?}: names no registry, and a one-component name on {} is anyone's \
             to claim; did you mean docker.io/library/{repo} or {}/OWNER/{repo}? \
             (OCI_DL_DEFAULT_REGISTRY sets a default registry)",
            parsed.registry(),
            parsed.registry()
        )));
    }
    Ok(parsed)
}

/// Run the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Pull(a) => pull::run(a, &cli.global),
        Command::Manifest(a) => manifest::run(a, &cli.global),
        Command::Blob(a) => blob::run(a, &cli.global),
        Command::Digest(a) => digest::run(a, &cli.global),
        Command::Referrers(a) => referrers::run(a, &cli.global),
        Command::Tags(a) => tags::run(a, &cli.global),
        Command::Cache(c) => cache::run(c, &cli.global),
        Command::Completions { shell } => {
            use std::io::Write as _;
            std::io::stdout().write_all(&assets::completion_script(*shell))?;
            Ok(())
        }
        Command::GenerateAssets { dir } => assets::generate(dir),
    }
}

/// A cancel token raised by SIGINT or SIGTERM. A second signal exits at once with 130.
fn cancel_on_signals() -> anyhow::Result<oci_dl::Cancel> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let cancel = oci_dl::Cancel::default();
    // In signal context only an atomic is stored (the first signal arms the second's exit);
    // the token, which takes a lock and runs hooks, is raised by the iterator thread below.
    let signalled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, signalled.clone())?;
        signal_hook::flag::register(sig, signalled.clone())?;
    }
    // Every wait in the engine ends on the token, but a connect(2) still pending (a host that
    // never answers the SYN holds it for the whole connect timeout) cannot be woken: if the run
    // has not wound down a moment after the signal, it ends here. Nothing is lost: a final
    // name only ever holds verified bytes, and a `.part` is checked when resumed.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let token = cancel.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            token.cancel();
            std::thread::sleep(GRACE);
            eprintln!("oci-dl: {}", exit::Interrupted { kept: None });
            std::process::exit(130);
        }
    });
    Ok(cancel)
}

/// How long a run may take to wind down after SIGINT/SIGTERM before it is ended as it stands.
const GRACE: Duration = Duration::from_secs(2);
