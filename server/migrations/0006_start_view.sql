-- The owner's choices for a project's first view. Portable SQL (SQLite and PostgreSQL).

-- A view the owner saved from the viewer (`splatpod::api::StartView` as JSON); it comes before
-- the capture cameras' view.
ALTER TABLE projects ADD COLUMN start_view TEXT;

-- World up (`+x`, `-x`, `+y`, `-y`, `+z`, `-z`) for framing a scene without camera poses; none
-- is −y, the 3DGS/COLMAP convention.
ALTER TABLE projects ADD COLUMN up_axis TEXT;
