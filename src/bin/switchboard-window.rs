//! `switchboard-window.exe`, the Windows Start-menu entry: opens the inspector window with no
//! console window beside it.
//!
//! A Windows executable is either a console program (it gets a console window when started
//! from Explorer) or a GUI program (it has no console, so nothing it prints reaches the
//! terminal that started it). `switchboard.exe` stays a console program, so `serve`, `record`
//! and the rest log to the terminal as on every other system. This small GUI-subsystem
//! launcher starts it, with the same arguments, as a console program without a console
//! (`CREATE_NO_WINDOW`), and exits. Built with `--features windows-launcher`.

#![cfg_attr(windows, windows_subsystem = "windows")]

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let Some(app) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(app_file_name())))
    else {
        return ExitCode::FAILURE;
    };
    let mut command = Command::new(app);
    command.args(std::env::args_os().skip(1));
    hide_console(&mut command);
    // There is no console to report a failure to; the exit code says it.
    match command.spawn() {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn app_file_name() -> String {
    format!("switchboard{}", std::env::consts::EXE_SUFFIX)
}

#[cfg(windows)]
fn hide_console(command: &mut Command) {
    use std::os::windows::process::CommandExt as _;
    /// Win32 `CREATE_NO_WINDOW`: a console program, run without a console window.
    const CREATE_NO_WINDOW: u32 = 0x0800_0000;
    command.creation_flags(CREATE_NO_WINDOW);
}

#[cfg(not(windows))]
fn hide_console(_command: &mut Command) {}
