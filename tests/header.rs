//! The committed C header must be exactly what cbindgen generates from the current source.
//! Regenerate with `make header` (or `PVM_UPDATE_HEADER=1 cargo test --test header`).

use std::path::Path;

#[test]
fn committed_header_matches_the_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/c_api/mod.rs"))
        .generate()
        .expect("cbindgen failed")
        .write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    let path = root.join("include/polkavm_ffi.h");
    if std::env::var_os("PVM_UPDATE_HEADER").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/polkavm_ffi.h is out of date with src/c_api/: run `make header` and commit the result"
    );
}
