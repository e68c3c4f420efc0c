//! Links libpersisting.so, which ./build.sh (or `make lib`) writes to build/ at
//! the repository's root. PERSISTING_LIB_DIR names another directory holding
//! it. The directory is also written as the binary's rpath, so `cargo run` and
//! the built program find the library without LD_LIBRARY_PATH.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=PERSISTING_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");

    let dir = match env::var_os("PERSISTING_LIB_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
                .join("../../build")
        }
    };
    let lib = dir.join("libpersisting.so");
    if !lib.is_file() {
        panic!(
            "{} not found: build it first with ./build.sh (or make lib) at the repository's root, \
             or set PERSISTING_LIB_DIR to the directory that holds it",
            lib.display()
        );
    }
    let dir = dir
        .canonicalize()
        .expect("the library's directory resolves");
    // Relink when the library is rebuilt (its exported functions may have changed).
    println!("cargo:rerun-if-changed={}", lib.display());
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib=persisting");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
}
