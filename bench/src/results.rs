//! Writing results: one JSON object per file under `bench/results/`.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::BenchError;

/// Adds `fields` to the JSON object in `out` (keeping figures other benchmarks wrote there).
pub fn merge_into(out: &Path, fields: Map<String, Value>) -> Result<(), BenchError> {
    let mut merged: Map<String, Value> = std::fs::read_to_string(out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    merged.extend(fields);
    write_result(out, merged)
}

/// Writes `fields` as the JSON object in `out`, replacing the file.
pub fn write_result(out: &Path, fields: Map<String, Value>) -> Result<(), BenchError> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        out,
        serde_json::to_string_pretty(&Value::Object(fields))? + "\n",
    )?;
    println!("wrote {}", out.display());
    Ok(())
}
