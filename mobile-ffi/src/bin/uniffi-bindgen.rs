//! The bindings generator, built from the workspace so its version always matches the library.
fn main() {
    uniffi::uniffi_bindgen_main()
}
