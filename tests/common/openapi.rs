//! Checks responses against the server's own `/openapi.json`: the operation (method and path
//! template) must be described, the status documented, the media type among the documented
//! ones, and a JSON body valid against that response's schema (JSON Schema 2020-12, the
//! document's `#/components/schemas/…` references resolved inside it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// Responses whose JSON body was validated against a schema, over all servers of this test
/// binary.
pub static VALIDATED: AtomicUsize = AtomicUsize::new(0);

/// A parsed `/openapi.json` with the validators compiled so far; reports the running count of
/// validated responses when dropped.
pub struct Spec {
    doc: Value,
    validators: Mutex<HashMap<(String, String, String), Arc<jsonschema::Validator>>>,
}

impl Drop for Spec {
    fn drop(&mut self) {
        eprintln!(
            "openapi: {} JSON responses of this test binary validated against /openapi.json",
            VALIDATED.load(Ordering::Relaxed)
        );
    }
}

impl Spec {
    /// The document a running server serves at `url`.
    pub async fn fetch(http: &reqwest::Client, url: &str) -> Spec {
        let res = http.get(url).send().await.expect("GET /openapi.json");
        assert_eq!(res.status(), 200, "GET /openapi.json");
        Spec::new(res.json().await.expect("/openapi.json is JSON"))
    }

    pub fn new(doc: Value) -> Spec {
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "not an OpenAPI 3.1 document: {}",
            doc["openapi"]
        );
        Spec {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The document's path template that `path` (no query) falls under: segments match one to
    /// one, `{param}` matching any segment, except that a final `{param}` may take several
    /// (artifact names such as `sparse/0/cameras.bin`); among several matches the one with the
    /// most literal segments wins.
    pub fn template(&self, path: &str) -> Option<String> {
        let got: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        paths
            .keys()
            .filter_map(|tpl| {
                let want: Vec<&str> = tpl.split('/').collect();
                let is_param = |s: &str| s.starts_with('{') && s.ends_with('}');
                let tail = want.last().is_some_and(|s| is_param(s)) && got.len() > want.len();
                if got.len() != want.len() && !tail {
                    return None;
                }
                let literal = want.iter().filter(|s| !is_param(s)).count();
                let fits = want
                    .iter()
                    .zip(&got)
                    .all(|(w, g)| (is_param(w) && !g.is_empty()) || w == g);
                fits.then(|| (literal, tpl.clone()))
            })
            .max()
            .map(|(_, tpl)| tpl)
    }

    /// Panics unless the response is what the document says `method path` answers.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &str,
    ) {
        if let Err(e) = self.check_result(method, path, status, content_type, body) {
            panic!("{} {path} → {status}: {e}\n{body}", method.to_uppercase());
        }
    }

    /// As [`Spec::check`], the mismatch as an error.
    pub fn check_result(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<(), String> {
        let method = method.to_ascii_lowercase();
        let tpl = self
            .template(path)
            .ok_or_else(|| "no path of /openapi.json matches".to_owned())?;
        let op = &self.doc["paths"][&tpl][&method];
        if !op.is_object() {
            return Err(format!("/openapi.json has no {method} {tpl}"));
        }
        let code = status.to_string();
        let response = match &op["responses"][&code] {
            Value::Null => &op["responses"]["default"],
            r => r,
        };
        if !response.is_object() {
            return Err(format!("{method} {tpl} does not document status {status}"));
        }
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        let (Some(media), false) = (media, body.is_empty()) else {
            return Ok(());
        };
        let documented = response["content"].as_object();
        let Some(content) = documented.and_then(|c| c.get(&media)) else {
            // Errors axum answers itself before a handler runs (a malformed query, an
            // over-limit body) are plain text; any other undocumented type is a mismatch.
            if media == "text/plain" && status >= 400 {
                return Ok(());
            }
            let known: Vec<&String> = documented.map(|c| c.keys().collect()).unwrap_or_default();
            return Err(format!(
                "{method} {tpl} {status} documents {known:?}, not `{media}`"
            ));
        };
        if media != "application/json" {
            return Ok(());
        }
        let instance: Value =
            serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let validator = self.validator(&tpl, &method, &code, &content["schema"])?;
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            return Err(format!(
                "the body does not match its schema in /openapi.json: {}",
                errors.join("; ")
            ));
        }
        VALIDATED.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The compiled schema of one response: the schema with the document's `components` beside
    /// it, so `#/components/schemas/…` resolves within the same root.
    fn validator(
        &self,
        tpl: &str,
        method: &str,
        code: &str,
        schema: &Value,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        let key = (tpl.to_owned(), method.to_owned(), code.to_owned());
        let mut cache = self.validators.lock().expect("validator cache");
        if let Some(v) = cache.get(&key) {
            return Ok(v.clone());
        }
        let mut root = json!({ "components": self.doc["components"].clone() });
        match schema {
            Value::Object(map) => {
                for (k, v) in map {
                    root[k] = v.clone();
                }
            }
            Value::Null => {}
            other => {
                return Err(format!(
                    "{method} {tpl} {code}: schema {other} is not an object"
                ))
            }
        }
        let v = Arc::new(
            jsonschema::draft202012::new(&root)
                .map_err(|e| format!("{method} {tpl} {code}: invalid schema: {e}"))?,
        );
        cache.insert(key, v.clone());
        Ok(v)
    }
}
