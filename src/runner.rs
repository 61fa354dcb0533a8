//! Running the program: the headless server (`serve`, `nats-server`) and the app (the
//! broker plus the inspector window). Both start the same services; they differ in what
//! waits on the main thread.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::broker::{BrokerHandle, Options, Server};
use crate::cli::{self, Launch, RunPlan};
use crate::demo::Demo;
use crate::monitor::MonitorHandle;
use crate::record::cli::{ServeRecordArgs, ServeRecording};
use crate::signals::Signals;
use crate::{log_error, log_fatal, log_info, log_warn, logging};

/// switchboard's own flags, next to nats-server's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// `--demo`: start in-process clients that show every messaging pattern.
    pub demo: bool,
    /// `--inspect`: run the inspection tap as if the window were open (sampling, latency
    /// tracking, snapshots), to measure what it costs.
    pub inspect: bool,
    /// `--attach URL[,URL...]`: open the window on that remote deployment instead of
    /// starting the embedded broker.
    pub attach: Option<String>,
    /// `--context NAME`: the same with a saved profile or NATS CLI context.
    pub context: Option<String>,
}

impl Extras {
    /// Takes switchboard's own flags out of a command line; the rest is nats-server's.
    pub fn split(args: Vec<String>) -> (Extras, Vec<String>) {
        let mut extras = Extras::default();
        let mut rest = Vec::new();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            match name.as_str() {
                "--demo" if inline.is_none() => extras.demo = true,
                "--inspect" if inline.is_none() => extras.inspect = true,
                "--attach" | "--context" => {
                    // A missing value is left for the flag parser to report.
                    let Some(value) = inline.or_else(|| args.next_if(|a| !a.starts_with('-')))
                    else {
                        rest.push(arg);
                        continue;
                    };
                    if name == "--attach" {
                        extras.attach = Some(value);
                    } else {
                        extras.context = Some(value);
                    }
                }
                _ => rest.push(arg),
            }
        }
        (extras, rest)
    }

    /// True when the window should open on a remote deployment.
    pub fn remote(&self) -> bool {
        self.attach.is_some() || self.context.is_some()
    }
}

/// Everything a running switchboard has started.
struct Services {
    handle: BrokerHandle,
    monitor: Option<MonitorHandle>,
    demo: Option<Demo>,
    inspection: Option<tokio::task::JoinHandle<()>>,
    recording: Option<ServeRecording>,
}

impl Services {
    /// Starts the broker, the monitoring endpoints and the demo, logging as nats-server
    /// does. Errors are logged and printed; the caller exits with code 1.
    async fn start(
        plan: &RunPlan,
        extras: &Extras,
        record: &ServeRecordArgs,
    ) -> Result<Services, ()> {
        log_info!(
            "Starting switchboard {} (nats-server {} compatible)",
            env!("CARGO_PKG_VERSION"),
            crate::proto::info::NATS_COMPAT_VERSION
        );
        for warning in &plan.warnings {
            log_warn!("{}", warning);
        }
        if let Some(path) = &plan.config_file {
            log_info!("Using configuration file: {}", path.display());
        }
        let opts = plan.options.clone();
        let pid_file = opts.pid_file.clone();
        let handle = BrokerHandle::start(opts).await.map_err(|e| fatal(&e))?;
        let server = handle.server().clone();
        log_info!("  Version:  {}", env!("CARGO_PKG_VERSION"));
        log_info!("  Name:     {}", server.name);
        log_info!("  ID:       {}", server.id);
        if let Some(path) = &pid_file {
            if let Err(e) = std::fs::write(path, std::process::id().to_string()) {
                log_error!("Could not write pidfile: {}", e);
            }
        }
        let monitor = match start_monitor(&server).await {
            Ok(monitor) => monitor,
            Err(()) => {
                handle.shutdown().await;
                return Err(());
            }
        };
        log_info!(
            "Listening for client connections on {}",
            handle.local_addr()
        );
        if !handle.local_addr().ip().is_loopback() && !server.auth_required() {
            log_warn!(
                "Listening on {} without authentication: anyone who can reach this address can use the broker",
                handle.local_addr()
            );
        }
        let recording = match crate::record::cli::start_serve_recording(&server, record) {
            Ok(recording) => recording,
            Err(e) => {
                fatal(&e);
                if let Some(monitor) = monitor {
                    monitor.shutdown().await;
                }
                handle.shutdown().await;
                return Err(());
            }
        };
        log_info!("Server is ready");
        let demo = if extras.demo {
            match Demo::start(&format!("nats://{}", handle.local_addr())).await {
                Ok(demo) => {
                    log_info!("Demo traffic started (clients named demo-*, subjects demo.>)");
                    Some(demo)
                }
                Err(e) => {
                    log_error!("{}", e);
                    None
                }
            }
        } else {
            None
        };
        Ok(Services {
            handle,
            monitor,
            demo,
            inspection: None,
            recording,
        })
    }

    fn monitor_url(&self) -> Option<String> {
        self.monitor
            .as_ref()
            .map(|m| format!("http://{}", m.local_addr()))
    }

    #[cfg(feature = "gui")]
    fn client_url(&self) -> String {
        format!("nats://{}", self.handle.local_addr())
    }

    async fn stop(self) {
        log_info!("Initiating Shutdown...");
        if let Some(demo) = self.demo {
            demo.stop().await;
        }
        if let Some(task) = self.inspection {
            task.abort();
        }
        if let Some(monitor) = self.monitor {
            monitor.shutdown().await;
        }
        self.handle.shutdown().await;
        crate::record::cli::stop_serve_recording(self.recording).await;
        log_info!("Server Exiting..");
    }
}

fn fatal(e: &dyn std::fmt::Display) {
    log_fatal!("{}", e);
    eprintln!("switchboard: {e}");
}

async fn start_monitor(server: &Arc<Server>) -> Result<Option<MonitorHandle>, ()> {
    let Some(port) = server.opts.http_port else {
        return Ok(None);
    };
    let host = server
        .opts
        .http_host
        .clone()
        .unwrap_or_else(|| server.opts.host.clone());
    let monitor = crate::monitor::start_http(server.clone(), &host, port)
        .await
        .map_err(|e| fatal(&e))?;
    log_info!("Starting http monitor on {}", monitor.local_addr());
    Ok(Some(monitor))
}

/// Logging and process limits, before anything else runs.
fn prepare(opts: &Options) -> Result<tokio::runtime::Runtime, ExitCode> {
    if let Err(e) = logging::configure(
        opts.logging.debug,
        opts.logging.trace,
        opts.logging.time,
        opts.logging.file.as_deref(),
    ) {
        eprintln!("switchboard: can't open log file: {e}");
        return Err(ExitCode::from(1));
    }
    // Like Go programs (nats-server among them), take the hard limit of open files as our
    // soft one: each client is a file descriptor.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        log_warn!("could not raise the open-file limit: {}", e);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            fatal(&format!("can't start the runtime: {e}"));
            ExitCode::from(1)
        })
}

/// The headless server: runs until SIGINT/SIGTERM or the end of lame-duck mode.
/// `args` is the command line, kept to read the configuration again on SIGHUP.
pub fn serve(
    plan: RunPlan,
    args: Vec<String>,
    extras: Extras,
    record: ServeRecordArgs,
) -> ExitCode {
    let runtime = match prepare(&plan.options) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let signals = Signals::install();
        let Ok(mut services) = Services::start(&plan, &extras, &record).await else {
            return ExitCode::from(1);
        };
        if extras.inspect {
            services.inspection = Some(headless_inspection(
                services.handle.server(),
                services.monitor_url(),
            ));
        }
        let running = services.handle.server().opts.clone();
        signals
            .serve_until_stopped(&services.handle, || reload(&args, &running))
            .await;
        services.stop().await;
        ExitCode::SUCCESS
    })
}

/// The app: the broker on a background runtime and the inspector window on this thread.
/// Without a display (or a build without the window) it runs headless and says so.
pub fn app(plan: RunPlan, args: Vec<String>, extras: Extras, record: ServeRecordArgs) -> ExitCode {
    #[cfg(feature = "gui")]
    {
        if has_display() {
            if extras.remote() {
                return app_remote(plan, &extras);
            }
            return app_window(plan, extras, record);
        }
        log_warn!("No display found (DISPLAY/WAYLAND_DISPLAY unset): running the broker headless");
    }
    if extras.remote() {
        eprintln!(
            "switchboard: --attach and --context open the window, which needs a display; \
             `switchboard attach --server URL` prints the same model in the terminal"
        );
        return ExitCode::from(1);
    }
    serve(plan, args, extras, record)
}

#[cfg(feature = "gui")]
fn has_display() -> bool {
    cfg!(any(target_os = "windows", target_os = "macos"))
        || ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

#[cfg(feature = "gui")]
fn app_window(plan: RunPlan, extras: Extras, record: ServeRecordArgs) -> ExitCode {
    let runtime = match prepare(&plan.options) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let started = runtime.block_on(async {
        let services = Services::start(&plan, &extras, &record).await?;
        let server = services.handle.server().clone();
        let attached = crate::inspect::embedded::attach(server, services.monitor_url());
        Ok::<_, ()>((services, attached))
    });
    let Ok((services, Some((feed, control)))) = started else {
        return ExitCode::from(1);
    };
    // Request/reply latency needs no configuration: on whenever the window is open.
    control.set_latency_tracking(true);
    // Ctrl-C in the terminal that started the app: stop the broker cleanly, then leave.
    runtime.spawn(async {
        let _ = tokio::signal::ctrl_c().await;
        log_info!("Trapped \"interrupt\" signal");
        std::process::exit(0);
    });
    let ctx = crate::gui::GuiContext {
        source: crate::gui::Source {
            feed,
            control,
            client: crate::record::nats::ConnectArgs::url(&services.client_url()),
            label: crate::gui::EMBEDDED_LABEL.into(),
        },
        runtime: runtime.handle().clone(),
    };
    let outcome = crate::gui::run(ctx);
    runtime.block_on(services.stop());
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            fatal(&e);
            ExitCode::from(1)
        }
    }
}

/// The window on a remote deployment (`--attach`, `--context`): no embedded broker.
#[cfg(feature = "gui")]
fn app_remote(plan: RunPlan, extras: &Extras) -> ExitCode {
    let profile = match (&extras.attach, &extras.context) {
        (Some(url), _) => crate::remote::Profile::for_url(url),
        (None, Some(name)) => match crate::remote::cli::resolve_named(name) {
            Ok(p) => p,
            Err(e) => {
                fatal(&e);
                return ExitCode::from(1);
            }
        },
        (None, None) => return ExitCode::from(1),
    };
    if let Some(problem) = profile.problem() {
        fatal(&problem);
        return ExitCode::from(1);
    }
    let runtime = match prepare(&plan.options) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    log_info!("Attaching to {} ({})", profile.name, profile.servers);
    let attached = crate::remote::attach(profile, runtime.handle());
    let ctx = crate::gui::GuiContext {
        source: crate::gui::Source {
            feed: attached.feed,
            control: attached.control,
            client: attached.client,
            label: attached.label,
        },
        runtime: runtime.handle().clone(),
    };
    let outcome = crate::gui::run(ctx);
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            fatal(&e);
            ExitCode::from(1)
        }
    }
}

/// `--inspect`: everything the window would switch on, consumed by a task that keeps only
/// the newest snapshot, as the window does.
fn headless_inspection(
    server: &Arc<Server>,
    monitor_url: Option<String>,
) -> tokio::task::JoinHandle<()> {
    let attached = crate::inspect::embedded::attach(server.clone(), monitor_url);
    tokio::spawn(async move {
        let Some((mut feed, control)) = attached else {
            return;
        };
        control.set_sampling(true);
        control.set_latency_tracking(true);
        log_info!("Inspection on: subject stats, message samples, latency tracking");
        let mut ticker = tokio::time::interval(Duration::from_millis(16));
        loop {
            ticker.tick().await;
            let _ = feed.latest();
            let _ = feed.drain_samples(10_000);
        }
    })
}

/// SIGHUP: reads the configuration again (same flags and file). Logging levels change at
/// once; any other setting needs a restart, and the log says which.
fn reload(args: &[String], running: &Options) {
    let plan = match cli::parse_server_args(args.to_vec()) {
        Ok(Launch::Run(plan)) => plan,
        Ok(_) => return,
        Err(e) => {
            log_error!("Failed to reload server configuration: {}", e);
            return;
        }
    };
    let fresh = plan.options;
    let logging = &fresh.logging;
    if let Err(e) = logging::configure(
        logging.debug,
        logging.trace,
        logging.time,
        logging.file.as_deref(),
    ) {
        log_error!("Failed to reload server configuration: {}", e);
        return;
    }
    let mut same_apart_from_logging = fresh.clone();
    same_apart_from_logging.logging = running.logging.clone();
    if &same_apart_from_logging != running {
        log_warn!("Configuration changes other than logging take effect after a restart");
    }
    log_info!("Reloaded server configuration");
}
