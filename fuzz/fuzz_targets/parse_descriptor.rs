//! Fuzz target: any bytes, read as a Backstage file and as a Compass file, must yield
//! diagnostics with positions (never a panic, hang or position-less message), and the
//! cross-file checks must accept whatever entities come out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant::descriptor::parse_bytes;

fuzz_target!(|bytes: &[u8]| {
    let mut entities = Vec::new();
    for name in ["catalog-info.yaml", "compass.yml"] {
        let parsed = parse_bytes(name, bytes);
        for diagnostic in &parsed.diagnostics {
            assert!(diagnostic.line >= 1 && diagnostic.column >= 1, "{diagnostic:?}");
            assert!(!diagnostic.message.is_empty());
        }
        entities.extend(parsed.entities);
    }
    let _ = sextant::validate::check_across_files(&entities, true);
});
