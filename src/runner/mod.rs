//! Running the program: the headless server (`serve`, `nats-server`) and the app (the
//! broker plus the inspector window). Both start the same services; they differ in what
//! waits on the main thread.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub mod recording;
pub mod signals;

use crate::broker::{BrokerHandle, Server};
use crate::cli::command::{Extras, ServeRecordArgs};
use crate::cli::{self, Launch, RunPlan};
use crate::demo::Demo;
use crate::monitor::MonitorHandle;
use crate::options::Options;
use crate::{log_error, log_fatal, log_info, log_warn, logging};
use recording::ServeRecording;
use signals::Signals;

/// Why the services did not start (already logged). Only the window reads it: it shows
/// the message and offers another port.
#[derive(Debug)]
#[cfg_attr(not(feature = "gui"), allow(dead_code))]
struct StartProblem {
    message: String,
    /// The client port was taken.
    port_in_use: bool,
}

impl StartProblem {
    fn logged(e: &dyn std::fmt::Display) -> Self {
        fatal(e);
        StartProblem {
            message: e.to_string(),
            port_in_use: false,
        }
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
    ) -> Result<Services, StartProblem> {
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
        // Bound, not accepting yet: `--record` starts before the first client can publish.
        let bound = BrokerHandle::bind(opts).await.map_err(|e| {
            let mut problem = StartProblem::logged(&e);
            problem.port_in_use = matches!(
                &e,
                crate::broker::StartError::Listen { source, .. }
                    if source.kind() == std::io::ErrorKind::AddrInUse
            );
            problem
        })?;
        let server = bound.server().clone();
        log_info!("  Version:  {}", env!("CARGO_PKG_VERSION"));
        log_info!("  Name:     {}", server.name);
        log_info!("  ID:       {}", server.id);
        if let Some(path) = &pid_file {
            if let Err(e) = std::fs::write(path, std::process::id().to_string()) {
                log_error!("Could not write pidfile: {}", e);
            }
        }
        if let Err(e) = crate::jetstream::enable(&server) {
            return Err(StartProblem::logged(&e));
        }
        // After JetStream, so that the system account's answers can report it.
        crate::system::enable(&server);
        let monitor = match start_monitor(&server).await {
            Ok(monitor) => monitor,
            Err(problem) => return Err(problem),
        };
        log_info!("Listening for client connections on {}", bound.local_addr());
        if !bound.local_addr().ip().is_loopback() && !server.auth_required() {
            log_warn!(
                "Listening on {} without authentication: anyone who can reach this address can use the broker",
                bound.local_addr()
            );
        }
        let recording = match recording::start_serve_recording(&server, record) {
            Ok(recording) => recording,
            Err(e) => {
                let problem = StartProblem::logged(&format!("can't record: {e}"));
                if let Some(monitor) = monitor {
                    monitor.shutdown().await;
                }
                return Err(problem);
            }
        };
        let handle = bound.accept();
        log_info!("Server is ready");
        let demo = if extras.demo {
            match Demo::start(&crate::embedded::client_url(&server)).await {
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
        recording::stop_serve_recording(self.recording).await;
        log_info!("Server Exiting..");
    }
}

fn fatal(e: &dyn std::fmt::Display) {
    log_fatal!("{}", e);
    eprintln!("switchboard: {e}");
}

async fn start_monitor(server: &Arc<Server>) -> Result<Option<MonitorHandle>, StartProblem> {
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
        .map_err(|e| StartProblem::logged(&e))?;
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
fn app_window(mut plan: RunPlan, extras: Extras, record: ServeRecordArgs) -> ExitCode {
    use crate::gui::settings::SettingsStore;

    let runtime = match prepare(&plan.options) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    // The settings' listen address and JetStream, unless the command line or a
    // configuration file says.
    let settings = SettingsStore::platform().map(|store| {
        let loaded = store.load();
        (store, loaded)
    });
    if let Some((_, loaded)) = &settings {
        if let Some(warning) = &loaded.warning {
            log_warn!("{}", warning);
        }
    }
    app_settings(
        &mut plan,
        settings.as_ref().map(|(_, loaded)| &loaded.settings),
    );
    let launcher = Arc::new(launcher::EmbeddedLauncher::new(
        runtime.handle().clone(),
        plan.clone(),
    ));
    // Installed before the broker starts: a signal that arrives meanwhile waits for it.
    let signals = {
        let _runtime = runtime.enter();
        Signals::install()
    };
    let first = runtime.block_on(launcher.start(plan.clone(), record));
    let (source, broker_error) = match first {
        Ok(source) => (source, None),
        Err(failure) => (launcher::no_broker(&failure), Some(failure)),
    };
    // Ctrl-C or SIGTERM: close the window, which stops the broker cleanly below.
    let window = Arc::new(std::sync::OnceLock::<egui::Context>::new());
    runtime.spawn(close_window_on_signal(signals, window.clone()));
    let ctx = crate::gui::GuiContext {
        source,
        runtime: runtime.handle().clone(),
    };
    let startup = crate::gui::Startup {
        launcher: Some(launcher.clone()),
        broker_error,
        settings,
        demo: extras.demo,
        on_ready: Some(Box::new(move |ctx: &egui::Context| {
            let _ = window.set(ctx.clone());
        })),
    };
    let outcome = crate::gui::run(ctx, startup);
    runtime.block_on(launcher.shutdown());
    runtime.shutdown_timeout(Duration::from_secs(1));
    window_exit_code(outcome)
}

/// What the window's settings decide for its broker, unless the command line or a
/// configuration file does: the listen address (when there is a settings file), JetStream
/// (on in the data folder by default, even without a settings file; `serve` keeps
/// nats-server's default, off) and WebSocket (off by default).
#[cfg(feature = "gui")]
pub fn app_settings(plan: &mut RunPlan, settings: Option<&crate::gui::settings::Settings>) {
    if let Some(settings) = settings {
        if !plan.listen_given {
            plan.options.host = settings.listen_host.clone();
            plan.options.port = i32::from(settings.listen_port);
        }
    }
    let setting = settings.map_or_else(Default::default, |s| s.broker_setting());
    apply_broker_setting(plan, &setting);
}

/// JetStream, WebSocket and the leaf-node remote as the window's settings say, where the
/// command line and the configuration file left them to it.
#[cfg(feature = "gui")]
fn apply_broker_setting(plan: &mut RunPlan, setting: &crate::gui::settings::BrokerSetting) {
    if !plan.jetstream_given {
        plan.options.jetstream = setting.jetstream.options();
    }
    if !plan.websocket_given {
        plan.options.websocket = setting.websocket.options(&plan.options.host);
    }
    if !plan.leafnodes_given {
        for problem in setting.leaf.problems() {
            log_warn!("Leaf node setting not used: {}", problem);
        }
        plan.options.leafnodes.remotes = setting.leaf.options().into_iter().collect();
    }
}

/// Waits for SIGINT or SIGTERM, then asks the window to close (which saves its settings
/// and lets the broker shut down cleanly); leaves at once if there is no window yet, and
/// after a few seconds if the window does not close.
#[cfg(feature = "gui")]
async fn close_window_on_signal(signals: Signals, window: Arc<std::sync::OnceLock<egui::Context>>) {
    signals.stop_requested().await;
    let Some(ctx) = window.get() else {
        std::process::exit(0);
    };
    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    ctx.request_repaint();
    tokio::time::sleep(Duration::from_secs(5)).await;
    log_warn!("The window did not close in time: exiting");
    std::process::exit(0);
}

#[cfg(feature = "gui")]
pub mod launcher {
    //! Starting the embedded broker, first at launch and again from the window.

    use std::sync::Arc;

    use super::{Extras, RunPlan, ServeRecordArgs, Services};
    use crate::demo::DemoSwitch;
    use crate::gui::settings::BrokerSetting;
    use crate::gui::{Launcher, Source, StartFailure};

    struct Running {
        services: Services,
        demo: Arc<DemoSwitch>,
        /// JetStream's store directory, held while this broker runs (see [`lock_store`]).
        _store: Option<std::fs::File>,
    }

    /// Locks JetStream's store directory (`<store_dir>/jetstream.lock`) for as long as the
    /// broker runs: a second window, started on another port, must not open the same
    /// streams. `None` without JetStream, or where the file system can't lock (logged).
    fn lock_store(plan: &RunPlan) -> Result<Option<std::fs::File>, String> {
        let Some(js) = &plan.options.jetstream else {
            return Ok(None);
        };
        let dir = js.dir();
        let path = dir.with_extension("lock");
        let open = || {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
        };
        let file = open().map_err(|e| {
            format!(
                "can't use the JetStream store directory {}: {e}",
                dir.display()
            )
        })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(format!(
                "JetStream's store directory {} is in use by another switchboard window: \
                 turn JetStream off or choose another store directory in Settings, then \
                 restart the broker",
                dir.display()
            )),
            Err(std::fs::TryLockError::Error(e)) => {
                crate::log_warn!("can't lock {}: {}", path.display(), e);
                Ok(None)
            }
        }
    }

    #[derive(Default)]
    struct Slot {
        running: Option<Running>,
        /// The window closed: start nothing more.
        closed: bool,
    }

    /// Owns the embedded broker's services; one start or stop at a time.
    pub struct EmbeddedLauncher {
        runtime: tokio::runtime::Handle,
        /// The program's options; a start from the window changes only host and port.
        plan: RunPlan,
        slot: Arc<tokio::sync::Mutex<Slot>>,
    }

    impl EmbeddedLauncher {
        pub fn new(runtime: tokio::runtime::Handle, plan: RunPlan) -> Self {
            Self {
                runtime,
                plan,
                slot: Arc::default(),
            }
        }

        /// Stops what runs and starts the broker of `plan`.
        pub fn start(
            &self,
            plan: RunPlan,
            record: ServeRecordArgs,
        ) -> impl std::future::Future<Output = Result<Source, StartFailure>> + Send + 'static
        {
            let slot = self.slot.clone();
            async move {
                let addr = format!("{}:{}", plan.options.host, plan.options.port.max(0));
                let mut slot = slot.lock().await;
                if slot.closed {
                    return Err(StartFailure {
                        addr,
                        port_in_use: false,
                        message: "the window is closing".into(),
                    });
                }
                if let Some(old) = slot.running.take() {
                    stop(old).await;
                }
                let store = lock_store(&plan).map_err(|message| {
                    super::fatal(&message);
                    StartFailure {
                        addr: addr.clone(),
                        port_in_use: false,
                        message,
                    }
                })?;
                let services = Services::start(&plan, &Extras::default(), &record)
                    .await
                    .map_err(|problem| StartFailure {
                        addr: addr.clone(),
                        port_in_use: problem.port_in_use,
                        message: problem.message,
                    })?;
                let server = services.handle.server().clone();
                let client_url = crate::embedded::client_url(&server);
                let Some((feed, control)) = crate::embedded::attach(server, services.monitor_url())
                else {
                    services.stop().await;
                    return Err(StartFailure {
                        addr,
                        port_in_use: false,
                        message: "the broker's feed was already taken".into(),
                    });
                };
                // Request/reply latency needs no configuration: on whenever the window is open.
                control.set_latency_tracking(true);
                let demo = Arc::new(DemoSwitch::new(
                    client_url.clone(),
                    tokio::runtime::Handle::current(),
                ));
                let source = Source {
                    feed,
                    control,
                    client: crate::connect::ConnectArgs::url(&client_url),
                    label: crate::gui::EMBEDDED_LABEL.into(),
                    demo: Some(demo.clone()),
                };
                slot.running = Some(Running {
                    services,
                    demo,
                    _store: store,
                });
                Ok(source)
            }
        }

        /// Stops the broker (demo clients first) and starts nothing more.
        pub async fn shutdown(&self) {
            let mut slot = self.slot.lock().await;
            slot.closed = true;
            if let Some(running) = slot.running.take() {
                stop(running).await;
            }
        }
    }

    async fn stop(running: Running) {
        running.demo.stop().await;
        running.services.stop().await;
    }

    impl Launcher for EmbeddedLauncher {
        fn start_embedded(
            &self,
            host: &str,
            port: u16,
            setting: &BrokerSetting,
        ) -> crossbeam_channel::Receiver<Result<Source, StartFailure>> {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let mut plan = self.plan.clone();
            plan.warnings.clear();
            plan.options.host = host.to_string();
            plan.options.port = i32::from(port);
            super::apply_broker_setting(&mut plan, setting);
            // `--record` and the pid file belong to the first start only.
            plan.options.pid_file = None;
            let start = self.start(plan, ServeRecordArgs::default());
            self.runtime.spawn(async move {
                let _ = tx.send(start.await);
            });
            rx
        }

        fn jetstream_given(&self) -> bool {
            self.plan.jetstream_given
        }

        fn websocket_given(&self) -> bool {
            self.plan.websocket_given
        }

        fn leafnodes_given(&self) -> bool {
            self.plan.leafnodes_given
        }
    }

    /// What the window looks at while no broker runs: an empty feed, a control that does
    /// nothing, and the address that failed.
    pub fn no_broker(failure: &StartFailure) -> Source {
        let (_publisher, feed) = crate::inspect::feed::channel(1);
        Source {
            feed,
            control: Arc::new(crate::inspect::NoBroker),
            client: crate::connect::ConnectArgs::url(&format!("nats://{}", failure.addr)),
            label: "no broker".into(),
            demo: None,
        }
    }
}

/// The window on a remote deployment (`--attach`, `--context`): no embedded broker.
#[cfg(feature = "gui")]
fn app_remote(plan: RunPlan, extras: &Extras) -> ExitCode {
    let profile = match (&extras.attach, &extras.context) {
        (Some(url), _) => crate::remote::Profile::for_url(url),
        (None, Some(name)) => match crate::remote::profile::resolve_named(name) {
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
            demo: None,
        },
        runtime: runtime.handle().clone(),
    };
    let settings = crate::gui::settings::SettingsStore::platform().map(|store| {
        let loaded = store.load();
        (store, loaded)
    });
    let startup = crate::gui::Startup {
        settings,
        ..Default::default()
    };
    let outcome = crate::gui::run(ctx, startup);
    runtime.shutdown_timeout(Duration::from_secs(1));
    window_exit_code(outcome)
}

#[cfg(feature = "gui")]
/// How the program ends after its window closed: an error is reported the way every other
/// fatal error is.
fn window_exit_code(outcome: anyhow::Result<()>) -> ExitCode {
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
    let attached = crate::embedded::attach(server.clone(), monitor_url);
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
