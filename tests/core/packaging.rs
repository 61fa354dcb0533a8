//! The packaging files agree with each other and with the program: the desktop entry, the
//! AppStream metadata, the icons, the Debian package's asset list (Cargo.toml), the Windows and
//! macOS icon files, and what `--help` and `--version` print. The .deb itself is built and
//! checked by packaging/check-deb.sh (run by .ci/run), since cargo-deb is not a dev-dependency.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The application id, which names the desktop entry, the icon and the AppStream component.
const APP_ID: &str = "io.github.switchboard.Switchboard";
/// The sizes of the hicolor PNGs (what desktops and software centres ask for).
const ICON_SIZES: [u32; 7] = [16, 32, 48, 64, 128, 256, 512];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn desktop_path() -> String {
    format!("packaging/linux/{APP_ID}.desktop")
}

fn metainfo_path() -> String {
    format!("packaging/linux/{APP_ID}.metainfo.xml")
}

fn icon_path(size: u32) -> String {
    format!("assets/icons/hicolor/{size}x{size}/apps/{APP_ID}.png")
}

/// The keys of one group of a desktop entry (`[Desktop Entry]`), in file order checked
/// for duplicates.
fn desktop_group(text: &str, group: &str) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            inside = line == format!("[{group}]");
            continue;
        }
        if inside {
            let (key, value) = line.split_once('=').expect("key=value");
            let previous = keys.insert(key.to_string(), value.to_string());
            assert!(previous.is_none(), "{key} given twice in [{group}]");
        }
    }
    keys
}

/// The text of the first `<tag ...>text</tag>` in `xml` whose opening tag contains `attrs`.
fn xml_text<'a>(xml: &'a str, tag: &str, attrs: &str) -> Option<&'a str> {
    let mut rest = xml;
    while let Some(start) = rest.find(&format!("<{tag}")) {
        let after = &rest[start + tag.len() + 1..];
        let open_end = after.find('>')?;
        let opening = &after[..open_end];
        let body = &after[open_end + 1..];
        let is_tag = opening.is_empty() || opening.starts_with(' ');
        if is_tag && opening.contains(attrs) {
            let close = body.find(&format!("</{tag}>"))?;
            return Some(body[..close].trim());
        }
        rest = body;
    }
    None
}

/// Width and height from a PNG's IHDR chunk (after checking the signature).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "too short for a PNG");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (width, height)
}

/// The `[source, destination, mode]` rows of `[package.metadata.deb] assets` in Cargo.toml.
fn deb_assets() -> Vec<[String; 3]> {
    let manifest = read("Cargo.toml");
    let section = manifest
        .split_once("[package.metadata.deb]")
        .expect("Cargo.toml has [package.metadata.deb]")
        .1;
    let list = section
        .split_once("assets = [")
        .expect("[package.metadata.deb] has assets")
        .1;
    let list = &list[..list.find("\n]").expect("the assets list ends")];
    list.lines()
        .map(str::trim)
        .filter(|line| line.starts_with('['))
        .map(|line| {
            let fields: Vec<String> = line
                .trim_start_matches('[')
                .trim_end_matches(',')
                .trim_end_matches(']')
                .split(',')
                .map(|f| f.trim().trim_matches('"').to_string())
                .collect();
            fields.try_into().expect("[source, destination, mode]")
        })
        .collect()
}

fn switchboard() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.stdin(Stdio::null());
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", out.status);
    String::from_utf8(out.stdout).unwrap()
}

/// Whether a command-line tool is installed (tests that need one say so and pass without).
fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn desktop_entry_launches_switchboard_with_its_icon() {
    let entry = desktop_group(&read(&desktop_path()), "Desktop Entry");
    let get = |key: &str| entry.get(key).map(String::as_str);
    assert_eq!(get("Type"), Some("Application"));
    assert_eq!(get("Name"), Some("Switchboard"));
    assert_eq!(get("Exec"), Some("switchboard"));
    assert_eq!(get("Icon"), Some(APP_ID));
    assert_eq!(get("Terminal"), Some("false"));
    // eframe sets the window's X11 WM_CLASS to the app id too (measured with xprop).
    assert_eq!(get("StartupWMClass"), Some(APP_ID));
    let categories: Vec<&str> = get("Categories").unwrap().split(';').collect();
    assert!(categories.contains(&"Development") && categories.contains(&"Network"));
    assert!(get("Comment").is_some_and(|c| !c.is_empty()));
    // Every action runs the same binary.
    let text = read(&desktop_path());
    for action in get("Actions").unwrap().split(';').filter(|a| !a.is_empty()) {
        let group = desktop_group(&text, &format!("Desktop Action {action}"));
        assert!(group["Exec"].starts_with("switchboard "), "{action}");
        assert!(group.contains_key("Name"), "{action}");
    }
}

#[test]
fn metainfo_names_the_desktop_entry_icon_and_binary() {
    let xml = read(&metainfo_path());
    assert_eq!(xml_text(&xml, "id", ""), Some(APP_ID));
    assert_eq!(
        xml_text(&xml, "launchable", "type=\"desktop-id\""),
        Some(format!("{APP_ID}.desktop").as_str())
    );
    assert_eq!(xml_text(&xml, "icon", "type=\"stock\""), Some(APP_ID));
    assert_eq!(xml_text(&xml, "binary", ""), Some("switchboard"));
    assert_eq!(
        xml_text(&xml, "project_license", ""),
        Some(env!("CARGO_PKG_LICENSE"))
    );
    assert_eq!(
        xml_text(
            &xml,
            "release",
            &format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))
        )
        .map(|_| ()),
        Some(()),
        "the metainfo has a <release> for this version"
    );
    let entry = desktop_group(&read(&desktop_path()), "Desktop Entry");
    assert_eq!(
        xml_text(&xml, "name", ""),
        entry.get("Name").map(String::as_str)
    );
    assert_eq!(
        xml_text(&xml, "summary", ""),
        entry.get("Comment").map(String::as_str)
    );
}

#[test]
fn every_icon_size_is_a_png_of_that_size() {
    for size in ICON_SIZES {
        let bytes = std::fs::read(root().join(icon_path(size))).unwrap();
        assert_eq!(png_size(&bytes), (size, size), "{}", icon_path(size));
    }
    let svg = read(&format!("assets/icons/hicolor/scalable/apps/{APP_ID}.svg"));
    assert_eq!(
        svg,
        read("assets/icons/switchboard.svg"),
        "scalable icon is the source"
    );
}

/// Decodes every PNG in full with the decoder the window uses, and checks that each one
/// draws something: an opaque middle (the panel), see-through corners (the rounded edge).
#[cfg(feature = "gui")]
#[test]
fn every_icon_decodes() {
    for size in ICON_SIZES {
        let bytes = std::fs::read(root().join(icon_path(size))).unwrap();
        let icon = eframe::icon_data::from_png_bytes(&bytes).unwrap();
        assert_eq!((icon.width, icon.height), (size, size));
        let alpha = |x: u32, y: u32| icon.rgba[((y * size + x) * 4 + 3) as usize];
        assert_eq!(alpha(size / 2, size / 2), 255, "{size}: middle");
        // Anti-aliasing leaves a trace in the corner pixel of the smallest size.
        assert!(alpha(0, 0) < 32, "{size}: corner {}", alpha(0, 0));
    }
}

#[cfg(feature = "gui")]
#[test]
fn window_has_the_app_id_and_icon() {
    assert_eq!(switchboard::gui::APP_ID, APP_ID);
    let options = switchboard::gui::native_options();
    assert_eq!(options.viewport.app_id.as_deref(), Some(APP_ID));
    let icon = options.viewport.icon.expect("a window icon");
    assert_eq!((icon.width, icon.height), (256, 256));
    // The saved window state stays in the folder named after the program.
    let path = options.persistence_path.expect("a persistence path");
    assert!(path.ends_with("switchboard/app.ron"), "{}", path.display());
}

#[test]
fn windows_and_macos_icons_are_there() {
    let ico = std::fs::read(root().join("assets/icons/switchboard.ico")).unwrap();
    assert_eq!(&ico[..4], &[0, 0, 1, 0], "an ICO header");
    let images = u16::from_le_bytes([ico[4], ico[5]]);
    assert!(images >= 4, "the .ico has {images} sizes");
    let icns = std::fs::read(root().join("assets/icons/switchboard.icns")).unwrap();
    assert_eq!(&icns[..4], b"icns");
    let declared = u32::from_be_bytes(icns[4..8].try_into().unwrap()) as usize;
    assert_eq!(declared, icns.len(), "the .icns length field");
}

#[test]
fn deb_assets_exist_and_never_include_nats_server() {
    let assets = deb_assets();
    let destinations: Vec<String> = assets
        .iter()
        .map(|[source, dest, _]| {
            let name = Path::new(source).file_name().unwrap().to_string_lossy();
            if dest.ends_with('/') {
                format!("{dest}{name}")
            } else {
                dest.clone()
            }
        })
        .collect();
    for [source, _, mode] in &assets {
        assert!(mode == "644" || mode == "755", "{source}: mode {mode}");
        // The binary comes from the build; everything else is in the repository.
        if !source.starts_with("target/") {
            assert!(root().join(source).is_file(), "{source} is missing");
        }
    }
    let expect = |dest: String| {
        assert!(
            destinations.contains(&dest),
            "{dest} not packaged: {destinations:?}"
        );
    };
    expect("usr/bin/switchboard".into());
    expect(format!("usr/share/applications/{APP_ID}.desktop"));
    expect(format!("usr/share/metainfo/{APP_ID}.metainfo.xml"));
    expect(format!(
        "usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg"
    ));
    for size in ICON_SIZES {
        expect(format!(
            "usr/share/icons/hicolor/{size}x{size}/apps/{APP_ID}.png"
        ));
    }
    assert!(
        !destinations.iter().any(|d| d.contains("nats-server")),
        "the default package must not install a nats-server: {destinations:?}"
    );
}

#[test]
fn desktop_file_validate_accepts_the_entry() {
    if !have("desktop-file-validate") {
        eprintln!("skipped: desktop-file-validate is not installed (Debian: desktop-file-utils)");
        return;
    }
    let out = Command::new("desktop-file-validate")
        .arg(root().join(desktop_path()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // Hints (such as two main categories) are advice; errors and warnings are not.
    assert!(
        !text.contains("error:") && !text.contains("warning:"),
        "{text}"
    );
}

#[test]
fn appstreamcli_accepts_the_metainfo() {
    if !have("appstreamcli") {
        eprintln!("skipped: appstreamcli is not installed (Debian: appstream)");
        return;
    }
    let out = Command::new("appstreamcli")
        .args(["validate", "--no-net"])
        .arg(root().join(metainfo_path()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn version_names_switchboard_and_the_protocol() {
    let version = format!("switchboard {}", env!("CARGO_PKG_VERSION"));
    for args in [
        &["--version"][..],
        &["-v"],
        &["version"],
        &["serve", "--version"],
    ] {
        let out = stdout_of(switchboard().args(args));
        assert!(out.starts_with(&version), "{args:?}: {out}");
        assert!(out.contains("nats-server 2."), "{args:?}: {out}");
        assert_eq!(out.lines().count(), 1, "{args:?}: {out}");
    }
}

#[test]
fn help_describes_the_program_and_its_commands() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let out = stdout_of(switchboard().args(args));
        assert!(out.starts_with("switchboard "), "{args:?}: {out}");
        assert!(out.contains("A NATS broker"), "{out}");
        for command in ["serve", "record", "replay", "export", "import", "info"] {
            assert!(
                out.contains(&format!("switchboard {command}")),
                "{command}: {out}"
            );
        }
        assert!(out.contains("switchboard serve --help"), "{out}");
    }
    let serve = stdout_of(switchboard().args(["serve", "--help"]));
    assert!(
        serve.starts_with("Usage: switchboard serve [options]"),
        "{serve}"
    );
    assert!(serve.contains("--http_port"), "{serve}");
    assert_eq!(serve, stdout_of(switchboard().args(["help", "serve"])));
    let record = stdout_of(switchboard().args(["help", "record"]));
    assert!(record.contains("switchboard record"), "{record}");
}

/// Started as `nats-server`, the texts stay nats-server's (scripts parse them).
#[cfg(unix)]
#[test]
fn as_nats_server_help_and_version_stay_nats_servers() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("nats-server");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_switchboard"), &link).unwrap();
    let run = |arg: &str| stdout_of(Command::new(&link).arg(arg).stdin(Stdio::null()));
    assert!(run("--help").starts_with("Usage: nats-server [options]"));
    assert!(run("--version").starts_with("nats-server: v2."));
}

/// The value of `<key>KEY</key><string>VALUE</string>` in a property list.
fn plist_string<'a>(plist: &'a str, key: &str) -> Option<&'a str> {
    let after_key = plist
        .split_once(&format!("<key>{key}</key>"))?
        .1
        .trim_start();
    let value = after_key.strip_prefix("<string>")?;
    Some(&value[..value.find("</string>")?])
}

/// packaging/macos/make-app.sh lays out Switchboard.app (the layout is plain files, so it is
/// checked here with the Linux binary standing in for the Mac one).
#[test]
fn macos_app_bundle_layout() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("bash")
        .arg(root().join("packaging/macos/make-app.sh"))
        .arg(env!("CARGO_BIN_EXE_switchboard"))
        .arg(out.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let contents = out.path().join("Switchboard.app/Contents");
    let plist = std::fs::read_to_string(contents.join("Info.plist")).unwrap();
    assert_eq!(plist_string(&plist, "CFBundleIdentifier"), Some(APP_ID));
    assert_eq!(
        plist_string(&plist, "CFBundleShortVersionString"),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert!(!plist.contains('@'), "a placeholder is left: {plist}");
    let executable = plist_string(&plist, "CFBundleExecutable").unwrap();
    assert!(contents.join("MacOS").join(executable).is_file());
    let icon = plist_string(&plist, "CFBundleIconFile").unwrap();
    let icns = std::fs::read(contents.join("Resources").join(icon)).unwrap();
    assert_eq!(&icns[..4], b"icns");
}
