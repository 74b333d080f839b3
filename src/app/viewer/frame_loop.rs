//! The frame loop: one `requestAnimationFrame` tick applies held fly keys, notices resizes, and
//! renders a frame when the view changed, one frame at a time.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser_helpers::now_ms;

use super::{Viewer, ViewerError, FLY_SPEED};

impl Viewer {
    /// Renders the current view and presents it; one at a time (`busy`).
    pub(super) async fn frame(self: Rc<Self>) {
        let generation = self.generation.get();
        let Some(mut renderer) = self.renderer.borrow_mut().take() else {
            self.busy.set(false);
            return;
        };
        let Some((width, height)) = self.sync_surface_size() else {
            *self.renderer.borrow_mut() = Some(renderer);
            self.busy.set(false);
            return;
        };
        let camera = self.orbit.get().camera(width, height);
        let start = now_ms();
        let rendered = renderer
            .render(&camera, splatpod::render::VIEWER_BACKGROUND)
            .await;
        let outcome = match rendered {
            Ok(_) => self.present(&renderer).await,
            Err(e) => Err(ViewerError::from_gpu(&e)),
        };
        match outcome {
            Ok(true) => {
                self.ui.frame_ms.set(Some(now_ms() - start));
                self.ui.frames.update(|n| *n += 1);
            }
            Ok(false) => self.dirty.set(true),
            Err(e) => self.set_error(e),
        }
        if self.generation.get() == generation {
            *self.renderer.borrow_mut() = Some(renderer);
        }
        self.busy.set(false);
    }

    /// One animation frame: applies held fly keys, notices resizes, starts a frame when dirty.
    pub(super) fn tick(self: &Rc<Self>) {
        let now = now_ms();
        let dt = self
            .last_tick
            .replace(Some(now))
            .map(|t| ((now - t) / 1000.0).clamp(0.0, 0.1) as f32)
            .unwrap_or(0.0);
        let (mut forward, mut right, mut up) = (0.0f32, 0.0f32, 0.0f32);
        for key in self.keys.borrow().iter() {
            match key.as_str() {
                "KeyW" | "ArrowUp" => forward += 1.0,
                "KeyS" | "ArrowDown" => forward -= 1.0,
                "KeyD" | "ArrowRight" => right += 1.0,
                "KeyA" | "ArrowLeft" => right -= 1.0,
                "KeyE" => up += 1.0,
                "KeyQ" => up -= 1.0,
                _ => {}
            }
        }
        if (forward, right, up) != (0.0, 0.0, 0.0) && dt > 0.0 {
            let step = FLY_SPEED * dt;
            self.update_orbit(|o| o.fly(forward * step, right * step, up * step));
        }
        if self.size_changed() {
            self.dirty.set(true);
        }
        let has_scene = self.renderer.borrow().is_some();
        if self.dirty.get() && !self.busy.get() && has_scene {
            self.dirty.set(false);
            self.busy.set(true);
            spawn_local(Rc::clone(self).frame());
        }
        let rendering = self.busy.get() || (self.dirty.get() && has_scene);
        if self.rendering.get() != rendering {
            self.rendering.set(rendering);
            self.ui.rendering.set(rendering);
        }
    }
}

/// Keeps calling [`Viewer::tick`] once per animation frame until `alive` turns false.
pub(super) fn run_loop(viewer: Rc<Viewer>, alive: Arc<AtomicBool>) {
    if !alive.load(Ordering::Relaxed) {
        return;
    }
    viewer.tick();
    request_animation_frame(move || run_loop(viewer, alive));
}
