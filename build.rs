//! Build script: gives the Windows executables their icon and version information (the
//! resource that Explorer, the taskbar and the file's Properties show). Nothing happens for
//! other targets. Cross-compiling from Linux (`--target x86_64-pc-windows-gnu`) needs
//! mingw-w64's `windres`; building on Windows with MSVC needs the Windows SDK's `rc.exe`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=assets/icons/switchboard.ico");
    // The build script runs on the host: the target is only known from Cargo's variables.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let mut resource = winresource::WindowsResource::new();
    resource
        .set_icon("assets/icons/switchboard.ico")
        .set("FileDescription", "switchboard: NATS broker and inspector")
        .set("ProductName", "switchboard");
    // A missing resource compiler costs the icon, not the build.
    if let Err(e) = resource.compile() {
        println!("cargo:warning=the Windows icon was not embedded: {e}");
    }
}
