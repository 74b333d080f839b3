//! The capture's offline store: every photo is written to IndexedDB as soon as it is taken,
//! keyed by the SHA-256 of its bytes (as the server deduplicates), so a reload, a closed tab or
//! no network loses nothing. Once the server has confirmed a photo its bytes are dropped and
//! only a small "sent" record stays, so the list still shows the whole capture after a reload.
//!
//! Plain `web-sys` IndexedDB: one database, one object store, requests turned into futures.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use sha2::{Digest, Sha256};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbObjectStoreParameters, IdbRequest, IdbTransaction};

const DB_NAME: &str = "splatpod-capture";
/// 2 added the scenes store (a capture trained on this device).
const DB_VERSION: u32 = 2;
const STORE: &str = "photos";
/// Scenes trained on this device, next to the photos they came from: one record, [`SCENE_KEY`].
const SCENES: &str = "scenes";
const SCENE_KEY: &str = "capture";

/// One photo of the capture as kept in IndexedDB.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Lower-case hex SHA-256 of the photo's bytes: the key.
    pub sha: String,
    pub name: String,
    /// Milliseconds since the epoch when it was taken, for the list's order.
    pub added: f64,
    /// The project it goes to (`None` until a desktop's "Send to the server" creates one).
    pub project: Option<String>,
    /// Whether the server confirmed it (then `blob` is `None`).
    pub sent: bool,
    /// The GPU check's result as JSON, so a reload need not check again.
    pub analysis: Option<String>,
    /// The photo itself, until the server has it.
    pub blob: Option<web_sys::Blob>,
}

/// A scene trained on this device from the capture, kept until it has reached the server.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedScene {
    /// The scene as a 3DGS PLY (`splatpod::formats::save_ply`), what the server imports.
    pub ply: web_sys::Blob,
    /// How many photos it was trained from, and how many iterations.
    pub photos: u32,
    pub iterations: u32,
    /// Milliseconds since the epoch when it was trained.
    pub trained: f64,
    /// The project it was imported into, once "Upload scene" succeeded.
    pub project: Option<String>,
}

impl SavedScene {
    fn to_js(&self) -> Result<JsValue, String> {
        let obj = js_sys::Object::new();
        set(&obj, "ply", self.ply.as_ref())?;
        set(&obj, "photos", &self.photos.into())?;
        set(&obj, "iterations", &self.iterations.into())?;
        set(&obj, "trained", &self.trained.into())?;
        set_opt(&obj, "project", self.project.as_deref())?;
        Ok(obj.into())
    }

    fn from_js(v: &JsValue) -> Option<SavedScene> {
        Some(SavedScene {
            ply: get(v, "ply").dyn_into::<web_sys::Blob>().ok()?,
            photos: get(v, "photos").as_f64().unwrap_or(0.0) as u32,
            iterations: get(v, "iterations").as_f64().unwrap_or(0.0) as u32,
            trained: get(v, "trained").as_f64().unwrap_or(0.0),
            project: get(v, "project").as_string(),
        })
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn js_err(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) -> Result<(), String> {
    js_sys::Reflect::set(obj, &key.into(), value)
        .map(|_| ())
        .map_err(js_err)
}

/// Sets `key` to the string, or to `null` when there is none.
fn set_opt(obj: &js_sys::Object, key: &str, value: Option<&str>) -> Result<(), String> {
    set(obj, key, &value.map_or(JsValue::NULL, JsValue::from_str))
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

impl Record {
    fn to_js(&self) -> Result<JsValue, String> {
        let obj = js_sys::Object::new();
        set(&obj, "sha", &self.sha.as_str().into())?;
        set(&obj, "name", &self.name.as_str().into())?;
        set(&obj, "added", &self.added.into())?;
        set_opt(&obj, "project", self.project.as_deref())?;
        set(&obj, "sent", &self.sent.into())?;
        set_opt(&obj, "analysis", self.analysis.as_deref())?;
        set(
            &obj,
            "blob",
            self.blob.as_ref().map_or(&JsValue::NULL, |b| b.as_ref()),
        )?;
        Ok(obj.into())
    }

    /// A stored record, or `None` for anything else found in the store.
    fn from_js(v: &JsValue) -> Option<Record> {
        Some(Record {
            sha: get(v, "sha").as_string()?,
            name: get(v, "name").as_string().unwrap_or_default(),
            added: get(v, "added").as_f64().unwrap_or(0.0),
            project: get(v, "project").as_string(),
            sent: get(v, "sent").as_bool().unwrap_or(false),
            analysis: get(v, "analysis").as_string(),
            blob: get(v, "blob").dyn_into::<web_sys::Blob>().ok(),
        })
    }
}

/// Waits for `req` to succeed (its `result`) or fail. The handlers are set before returning,
/// so no event is missed.
fn request_done(req: &IdbRequest) -> impl std::future::Future<Output = Result<JsValue, String>> {
    let (tx, rx) = oneshot::channel::<Result<JsValue, String>>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let on_ok = {
        let (tx, req) = (Rc::clone(&tx), req.clone());
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(req.result().map_err(js_err));
            }
        })
    };
    let on_err = {
        let (tx, req) = (Rc::clone(&tx), req.clone());
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(tx) = tx.borrow_mut().take() {
                let message = match req.error() {
                    Ok(Some(e)) => e.message(),
                    _ => "IndexedDB request failed".into(),
                };
                let _ = tx.send(Err(message));
            }
        })
    };
    req.set_onsuccess(Some(on_ok.as_ref().unchecked_ref()));
    req.set_onerror(Some(on_err.as_ref().unchecked_ref()));
    async move {
        let out = rx
            .await
            .unwrap_or_else(|_| Err("IndexedDB request dropped".into()));
        drop((on_ok, on_err));
        out
    }
}

/// Waits for `tx` to commit (its writes are on disk) or fail.
fn transaction_done(tx: &IdbTransaction) -> impl std::future::Future<Output = Result<(), String>> {
    let (send, rx) = oneshot::channel::<Result<(), String>>();
    let send = Rc::new(RefCell::new(Some(send)));
    let make = |ok: bool| {
        let (send, tx) = (Rc::clone(&send), tx.clone());
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(send) = send.borrow_mut().take() {
                let _ = send.send(if ok {
                    Ok(())
                } else {
                    Err(tx
                        .error()
                        .map_or("IndexedDB transaction aborted".into(), |e| e.message()))
                });
            }
        })
    };
    let (on_ok, on_err, on_abort) = (make(true), make(false), make(false));
    tx.set_oncomplete(Some(on_ok.as_ref().unchecked_ref()));
    tx.set_onerror(Some(on_err.as_ref().unchecked_ref()));
    tx.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
    async move {
        let out = rx
            .await
            .unwrap_or_else(|_| Err("IndexedDB transaction dropped".into()));
        drop((on_ok, on_err, on_abort));
        out
    }
}

/// Asks the browser not to evict this site's storage under pressure (best effort: browsers may
/// decide by themselves, and the answer changes nothing here).
fn ask_to_persist() {
    if let Some(storage) = web_sys::window().map(|w| w.navigator().storage()) {
        if let Ok(promise) = storage.persist() {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            });
        }
    }
}

/// The open database.
pub struct Queue {
    db: IdbDatabase,
}

impl Queue {
    /// Opens (creating on first use) the capture database.
    pub async fn open() -> Result<Queue, String> {
        let factory = web_sys::window()
            .ok_or("no window")?
            .indexed_db()
            .map_err(js_err)?
            .ok_or("this browser has no IndexedDB (private mode?)")?;
        let req = factory.open_with_u32(DB_NAME, DB_VERSION).map_err(js_err)?;
        let on_upgrade = {
            let req = req.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                let Ok(db) = req.result().and_then(|r| r.dyn_into::<IdbDatabase>()) else {
                    return;
                };
                if !db.object_store_names().contains(STORE) {
                    let params = IdbObjectStoreParameters::new();
                    params.set_key_path(&"sha".into());
                    let _ = db.create_object_store_with_optional_parameters(STORE, &params);
                }
                if !db.object_store_names().contains(SCENES) {
                    let _ = db.create_object_store(SCENES);
                }
            })
        };
        req.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        let db = request_done(&req).await;
        drop(on_upgrade);
        let db = db?.dyn_into::<IdbDatabase>().map_err(js_err)?;
        ask_to_persist();
        Ok(Queue { db })
    }

    fn store(
        &self,
        mode: web_sys::IdbTransactionMode,
    ) -> Result<(IdbTransaction, web_sys::IdbObjectStore), String> {
        self.store_named(STORE, mode)
    }

    fn store_named(
        &self,
        name: &str,
        mode: web_sys::IdbTransactionMode,
    ) -> Result<(IdbTransaction, web_sys::IdbObjectStore), String> {
        let tx = self
            .db
            .transaction_with_str_and_mode(name, mode)
            .map_err(js_err)?;
        let store = tx.object_store(name).map_err(js_err)?;
        Ok((tx, store))
    }

    /// Keeps the scene trained on this device (replacing an earlier one); resolves once
    /// committed.
    pub async fn put_scene(&self, scene: &SavedScene) -> Result<(), String> {
        let (tx, store) = self.store_named(SCENES, web_sys::IdbTransactionMode::Readwrite)?;
        store
            .put_with_key(&scene.to_js()?, &SCENE_KEY.into())
            .map_err(js_err)?;
        transaction_done(&tx).await
    }

    /// The scene trained on this device, if one is kept.
    pub async fn scene(&self) -> Result<Option<SavedScene>, String> {
        let (_tx, store) = self.store_named(SCENES, web_sys::IdbTransactionMode::Readonly)?;
        let req = store.get(&SCENE_KEY.into()).map_err(js_err)?;
        let value = request_done(&req).await?;
        Ok(SavedScene::from_js(&value))
    }

    /// Marks the kept scene as imported into `project`.
    pub async fn scene_uploaded(&self, project: &str) -> Result<(), String> {
        if let Some(mut scene) = self.scene().await? {
            scene.project = Some(project.to_owned());
            self.put_scene(&scene).await?;
        }
        Ok(())
    }

    /// Forgets the scene trained on this device ("Start over").
    pub async fn clear_scene(&self) -> Result<(), String> {
        let (tx, store) = self.store_named(SCENES, web_sys::IdbTransactionMode::Readwrite)?;
        store.delete(&SCENE_KEY.into()).map_err(js_err)?;
        transaction_done(&tx).await
    }

    /// Every record, oldest first.
    pub async fn all(&self) -> Result<Vec<Record>, String> {
        let (_tx, store) = self.store(web_sys::IdbTransactionMode::Readonly)?;
        let req = store.get_all().map_err(js_err)?;
        let list = request_done(&req).await?;
        let mut records: Vec<Record> = js_sys::Array::from(&list)
            .iter()
            .filter_map(|v| Record::from_js(&v))
            .collect();
        records.sort_by(|a, b| a.added.total_cmp(&b.added));
        Ok(records)
    }

    /// Writes `record` (replacing the one with its SHA-256); resolves once committed.
    pub async fn put(&self, record: &Record) -> Result<(), String> {
        let (tx, store) = self.store(web_sys::IdbTransactionMode::Readwrite)?;
        store.put(&record.to_js()?).map_err(js_err)?;
        transaction_done(&tx).await
    }

    /// Removes the record of `sha`.
    pub async fn delete(&self, sha: &str) -> Result<(), String> {
        let (tx, store) = self.store(web_sys::IdbTransactionMode::Readwrite)?;
        store.delete(&sha.into()).map_err(js_err)?;
        transaction_done(&tx).await
    }

    /// Removes every record ("Start over").
    pub async fn clear(&self) -> Result<(), String> {
        let (tx, store) = self.store(web_sys::IdbTransactionMode::Readwrite)?;
        store.clear().map_err(js_err)?;
        transaction_done(&tx).await
    }
}
