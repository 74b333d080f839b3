//! Camera input: orbit, pan and zoom with mouse, pen and touch pointers, the wheel, W/A/S/D/E/Q
//! fly keys, and "Reset view" (the start view or the framed box).

use splatpod::render::OrbitCamera;

use super::{ActivePointer, Bounds, Viewer};

impl Viewer {
    pub(super) fn update_orbit(&self, f: impl FnOnce(&mut OrbitCamera)) {
        let mut orbit = self.orbit.get();
        f(&mut orbit);
        self.orbit.set(orbit);
        self.dirty.set(true);
    }

    pub(super) fn reset_view(&self) {
        if let Some(home) = self.home.get() {
            self.orbit.set(self.home_orbit(home));
            self.dirty.set(true);
        }
    }

    /// The view of `home`: the start view (the owner's or a capture camera) if there is one,
    /// else framing the box about the up axis.
    pub(super) fn home_orbit(&self, (lo, hi): Bounds) -> OrbitCamera {
        let radius = 0.5 * (hi - lo).length();
        self.start
            .get()
            .and_then(|v| OrbitCamera::from_start(&v, radius))
            .unwrap_or_else(|| {
                OrbitCamera::framing_about(lo, hi, self.aspect(), self.frame_up.get())
            })
    }

    pub(super) fn pointer_down(&self, ev: &web_sys::PointerEvent) {
        ev.prevent_default();
        if let Some(canvas) = self.canvas.borrow().as_ref() {
            let _ = canvas.set_pointer_capture(ev.pointer_id());
            let _ = canvas.focus();
        }
        let mouse = ev.pointer_type() == "mouse";
        let pan = mouse && (ev.button() == 1 || ev.button() == 2 || ev.shift_key());
        let mut pointers = self.pointers.borrow_mut();
        pointers.retain(|p| p.id != ev.pointer_id());
        pointers.push(ActivePointer {
            id: ev.pointer_id(),
            x: ev.client_x() as f64,
            y: ev.client_y() as f64,
            pan,
        });
    }

    pub(super) fn pointer_move(&self, ev: &web_sys::PointerEvent) {
        let (x, y) = (ev.client_x() as f64, ev.client_y() as f64);
        let height = self.css_size().1 as f32;
        let mut pointers = self.pointers.borrow_mut();
        let Some(index) = pointers.iter().position(|p| p.id == ev.pointer_id()) else {
            return;
        };
        ev.prevent_default();
        let old = pointers[index];
        if pointers.len() == 1 {
            let (dx, dy) = ((x - old.x) as f32, (y - old.y) as f32);
            if old.pan || ev.shift_key() {
                self.update_orbit(|o| o.pan(dx, dy, height));
            } else {
                self.update_orbit(|o| o.orbit(dx, dy, height));
            }
        } else if index < 2 {
            // Pinch: the first two pointers. Zoom by the change of their distance, pan by the
            // motion of their midpoint.
            let other = pointers[1 - index];
            let span = |ax: f64, ay: f64| ((ax - other.x).hypot(ay - other.y)) as f32;
            let (before, after) = (span(old.x, old.y), span(x, y));
            let mid_dx = (0.5 * (x - old.x)) as f32;
            let mid_dy = (0.5 * (y - old.y)) as f32;
            self.update_orbit(|o| {
                if before > 1.0 && after > 1.0 {
                    o.zoom(before / after);
                }
                o.pan(mid_dx, mid_dy, height);
            });
        }
        pointers[index].x = x;
        pointers[index].y = y;
    }

    pub(super) fn pointer_up(&self, ev: &web_sys::PointerEvent) {
        self.pointers
            .borrow_mut()
            .retain(|p| p.id != ev.pointer_id());
    }

    pub(super) fn wheel(&self, ev: &web_sys::WheelEvent) {
        ev.prevent_default();
        let lines = match ev.delta_mode() {
            web_sys::WheelEvent::DOM_DELTA_LINE => 16.0,
            web_sys::WheelEvent::DOM_DELTA_PAGE => self.css_size().1,
            _ => 1.0,
        };
        let delta = (ev.delta_y() * lines).clamp(-500.0, 500.0) as f32;
        self.update_orbit(|o| o.zoom((delta * 0.0015).exp()));
    }

    pub(super) fn key(&self, ev: &web_sys::KeyboardEvent, down: bool) {
        let code = ev.code();
        let handled = matches!(
            code.as_str(),
            "KeyW"
                | "KeyA"
                | "KeyS"
                | "KeyD"
                | "KeyQ"
                | "KeyE"
                | "ArrowUp"
                | "ArrowDown"
                | "ArrowLeft"
                | "ArrowRight"
        );
        if !handled || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        ev.prevent_default();
        let mut keys = self.keys.borrow_mut();
        if down {
            keys.insert(code);
        } else {
            keys.remove(&code);
        }
    }
}
