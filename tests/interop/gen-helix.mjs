// A splat-transform generator (its `.mjs` input): a helix of `n` splats (default 64) with SH
// degree 1, every attribute varying, so the interop test has a scene that splat-transform
// itself makes. Deterministic; parameters `-p n=...`.
class Generator {
    static create(params) {
        // The CLI passes `-p` as a list of `{ name, value }`.
        const n = Number((params ?? []).find((p) => p.name === 'n')?.value ?? 64);
        const columnNames = ['x', 'y', 'z', 'scale_0', 'scale_1', 'scale_2',
            'rot_0', 'rot_1', 'rot_2', 'rot_3', 'opacity', 'f_dc_0', 'f_dc_1', 'f_dc_2'];
        for (let i = 0; i < 9; i++) columnNames.push(`f_rest_${i}`);
        return {
            count: n,
            columnNames,
            getRow(i, row) {
                const t = i / n;
                const a = 6 * Math.PI * t;
                row.x = 2 * Math.cos(a);
                row.y = 3 * t - 1.5;
                row.z = 2 * Math.sin(a);
                row.scale_0 = -4 + 2 * t;
                row.scale_1 = -3 - t;
                row.scale_2 = -5 + Math.sin(a);
                // A unit quaternion turning with the helix (w, x, y, z).
                const h = a / 2;
                const axis = [Math.sin(3 * t), Math.cos(5 * t), 0.5];
                const len = Math.hypot(...axis);
                row.rot_0 = Math.cos(h);
                row.rot_1 = Math.sin(h) * axis[0] / len;
                row.rot_2 = Math.sin(h) * axis[1] / len;
                row.rot_3 = Math.sin(h) * axis[2] / len;
                row.opacity = 4 * Math.cos(2 * a);
                row.f_dc_0 = 1.5 * Math.sin(a);
                row.f_dc_1 = 1.5 * Math.cos(a);
                row.f_dc_2 = 3 * t - 1.5;
                for (let k = 0; k < 9; k++) row[`f_rest_${k}`] = 0.8 * Math.sin(a + k);
            }
        };
    }
}

export { Generator };
