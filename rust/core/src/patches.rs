//! Patch scores and greedy non-overlapping patch selection for 3D active learning.
//!
//! **Pooling.** A patch score is the mean of a voxel map inside a box of the (clipped) patch
//! size, for every valid start position on a strided grid. Sums come from a summed-area table
//! in `f64`, built separably: per row a prefix sum along x (evaluated at the grid's x starts
//! only), then prefix sums along y and z over those partial sums. That is the 3D summed-area
//! table evaluated at the grid positions: O(voxels) whatever the patch size, with memory
//! O(Z x grid_y x grid_x) instead of a full-volume f64 table (and no cancellation between
//! large corner sums). The voxel map can be computed on the fly per row (see
//! [`pool_uncertainty`]), so no full-volume map is ever materialised.
//!
//! **Selection.** Candidates sorted by score (best first, ties by grid index) are accepted
//! greedily unless their box intersects a blocked box (already annotated, or accepted earlier).

use crate::error::{CoreError, Result};
use crate::parallel;
use crate::uncertainty::{MapKind, State};
use rayon::prelude::*;

/// Geometry of a strided grid of boxes over a 3D image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Image shape [Z, Y, X].
    pub shape: [usize; 3],
    /// Box size, the patch size clipped to the image.
    pub patch: [usize; 3],
    /// Stride between start positions per axis.
    pub stride: [usize; 3],
    /// Number of start positions per axis: (shape - patch) / stride + 1.
    pub dims: [usize; 3],
}

impl Grid {
    /// The grid of valid start positions.
    ///
    /// With `clip`, a patch larger than the image along an axis is clipped to the image there
    /// (one start position); without it, that is an error.
    ///
    /// # Errors
    /// Zero image size, patch size or stride, or (without `clip`) a patch larger than the image.
    pub fn new(
        shape: [usize; 3],
        patch: [usize; 3],
        stride: [usize; 3],
        clip: bool,
    ) -> Result<Self> {
        if shape.contains(&0) {
            return Err(CoreError::InvalidArgument(format!(
                "image shape must be positive, got {shape:?}"
            )));
        }
        if patch.contains(&0) || stride.contains(&0) {
            return Err(CoreError::InvalidArgument(format!(
                "patch size and stride must be positive, got patch {patch:?}, stride {stride:?}"
            )));
        }
        // Box coordinates are i64 sums of start and size: bound every axis so they never
        // overflow (far beyond any image).
        if [shape, patch, stride]
            .iter()
            .flatten()
            .any(|&v| v > MAX_AXIS)
        {
            return Err(CoreError::InvalidArgument(format!(
                "image shape, patch size and stride must be at most {MAX_AXIS} per axis, got \
                 shape {shape:?}, patch {patch:?}, stride {stride:?}"
            )));
        }
        let mut eff = patch;
        for a in 0..3 {
            if patch[a] > shape[a] {
                if !clip {
                    return Err(CoreError::InvalidArgument(format!(
                        "patch size {patch:?} is larger than the image {shape:?} (axis {a}); \
                         clip the patch to the image to score it"
                    )));
                }
                eff[a] = shape[a];
            }
        }
        let dims = [0, 1, 2].map(|a| (shape[a] - eff[a]) / stride[a] + 1);
        Ok(Grid {
            shape,
            patch: eff,
            stride,
            dims,
        })
    }

    /// Number of start positions.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether the grid has no positions (never, for a valid grid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Voxel start [z, y, x] of grid position `index` (row-major over `dims`).
    pub fn start(&self, index: usize) -> [usize; 3] {
        let x = index % self.dims[2];
        let y = (index / self.dims[2]) % self.dims[1];
        let z = index / (self.dims[2] * self.dims[1]);
        [z * self.stride[0], y * self.stride[1], x * self.stride[2]]
    }
}

/// Largest image edge, patch edge or stride accepted (voxels).
pub const MAX_AXIS: usize = (1 << 31) - 1;

/// An axis-aligned box `[start, start + size)` in voxel coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Box3 {
    /// First voxel [z, y, x].
    pub start: [i64; 3],
    /// Extent [z, y, x].
    pub size: [i64; 3],
}

impl Box3 {
    /// Whether the two boxes share at least one voxel.
    #[inline]
    pub fn intersects(&self, o: &Box3) -> bool {
        (0..3).all(|a| {
            // Saturating: boxes from callers (annotated patches) may sit anywhere in i64.
            self.start[a] < o.start[a].saturating_add(o.size[a])
                && o.start[a] < self.start[a].saturating_add(self.size[a])
        })
    }
}

/// Window sums of `row` (length `n`) at starts `0, s, 2s, ...` (`dims` of them), width `w`.
#[inline]
fn window_sums(
    row: impl Iterator<Item = f64>,
    prefix: &mut [f64],
    w: usize,
    s: usize,
    out: &mut [f64],
) {
    prefix[0] = 0.0;
    let mut acc = 0.0f64;
    for (i, v) in row.enumerate() {
        acc += v;
        prefix[i + 1] = acc;
    }
    for (k, o) in out.iter_mut().enumerate() {
        let a = k * s;
        *o = prefix[a + w] - prefix[a];
    }
}

/// [`window_sums`] of `N` rows at once, bit for bit: each row's running sum is its own
/// dependency chain, so `N` chains advance together instead of one after the other (a chain of
/// f64 adds is bound by the add's latency, not by memory). `prefix` holds at least
/// `N * (len + 1)` values; `outs[j]` receives row `j`'s sums.
#[inline]
fn window_sums_n<R: Copy + Into<f64>, const N: usize>(
    rows: [&[R]; N],
    prefix: &mut [f64],
    w: usize,
    s: usize,
    outs: [&mut [f64]; N],
) {
    let len = rows[0].len();
    let prefix = &mut prefix[..N * (len + 1)];
    let mut acc = [0.0f64; N];
    prefix[..N].fill(0.0);
    for (i, p) in prefix[N..].chunks_exact_mut(N).enumerate() {
        for (a, row) in acc.iter_mut().zip(rows) {
            *a += row[i].into();
        }
        p.copy_from_slice(&acc);
    }
    for (j, out) in outs.into_iter().enumerate() {
        for (k, o) in out.iter_mut().enumerate() {
            let a = k * s;
            *o = prefix[(a + w) * N + j] - prefix[a * N + j];
        }
    }
}

/// Box means of `n_maps` voxel maps on `grid`, the maps produced row by row.
///
/// `fill(z, y, rows)` must write map k's values of image row (z, y) into
/// `rows[k * X .. (k + 1) * X]`. Returns `[n_maps, gz, gy, gx]` (row-major) box means.
pub fn pool_rows<R, F>(grid: &Grid, n_maps: usize, fill: F) -> Vec<f64>
where
    R: Copy + Default + Into<f64> + Send,
    F: Fn(usize, usize, &mut [R]) + Sync,
{
    let [zs, ys, xs] = grid.shape;
    let [pz, py, px] = grid.patch;
    let [sz, sy, sx] = grid.stride;
    let [gz, gy, gx] = grid.dims;
    let plane = gy * gx;
    if n_maps == 0 {
        return Vec::new();
    }
    let padded = n_maps.next_multiple_of(4);
    // Pass 1 (per z slice): x then y window sums -> partial[z][k][gy][gx].
    let mut partial = vec![0.0f64; zs * n_maps * plane];
    let slice_pass = |rows: &mut Vec<R>,
                      xsum: &mut Vec<f64>,
                      prefix: &mut Vec<f64>,
                      col: &mut Vec<f64>,
                      z: usize,
                      out: &mut [f64]| {
        // xsum[k][y][gx], four maps' rows at a time (four independent add chains). `rows` and
        // `xsum` are padded to a multiple of four maps: the padding rows stay zero and their
        // sums are never read.
        for y in 0..ys {
            fill(z, y, &mut rows[..n_maps * xs]);
            for k in (0..padded).step_by(4) {
                let row = |j: usize| &rows[(k + j) * xs..(k + j + 1) * xs];
                let mut outs = xsum[k * ys * gx..(k + 4) * ys * gx]
                    .chunks_mut(ys * gx)
                    .map(|m| &mut m[y * gx..(y + 1) * gx]);
                let mut next = || outs.next().expect("four output rows");
                window_sums_n(
                    [row(0), row(1), row(2), row(3)],
                    prefix,
                    px,
                    sx,
                    [next(), next(), next(), next()],
                );
            }
        }
        for k in 0..n_maps {
            for ix in 0..gx {
                let column = (0..ys).map(|y| xsum[(k * ys + y) * gx + ix]);
                window_sums(column, prefix, py, sy, col);
                for iy in 0..gy {
                    out[k * plane + iy * gx + ix] = col[iy];
                }
            }
        }
    };
    let longest = xs.max(ys).max(zs) + 1;
    parallel::install(|| {
        partial
            .par_chunks_mut(n_maps * plane)
            .enumerate()
            .for_each_init(
                || {
                    (
                        vec![R::default(); padded * xs],
                        vec![0.0f64; padded * ys * gx],
                        vec![0.0f64; 4 * longest],
                        vec![0.0f64; gy],
                    )
                },
                |(rows, xsum, prefix, col), (z, out)| slice_pass(rows, xsum, prefix, col, z, out),
            )
    });
    // Pass 2: z window sums per (k, iy, ix) column; out[k][iz][iy][ix].
    let vol = (pz * py * px) as f64;
    let mut out = vec![0.0f64; n_maps * gz * plane];
    parallel::install(|| {
        out.par_chunks_mut(gz * plane).enumerate().for_each_init(
            || (vec![0.0f64; zs + 1], vec![0.0f64; gz]),
            |(prefix, col), (k, out_k)| {
                for j in 0..plane {
                    let column = (0..zs).map(|z| partial[(z * n_maps + k) * plane + j]);
                    window_sums(column, prefix, pz, sz, col);
                    for iz in 0..gz {
                        out_k[iz * plane + j] = col[iz] / vol;
                    }
                }
            },
        )
    });
    out
}

/// Box means of one voxel map `map` [Z, Y, X] (f32 or f64 values) on `grid`.
///
/// # Errors
/// `map` of the wrong length, or non-finite values.
pub fn pool_map<T>(map: &[T], grid: &Grid) -> Result<Vec<f64>>
where
    T: Copy + Default + Into<f64> + Send + Sync,
{
    let [zs, ys, xs] = grid.shape;
    if map.len() != zs * ys * xs {
        return Err(CoreError::lengths(
            "map length vs image shape (Z*Y*X)",
            map.len(),
            zs * ys * xs,
        ));
    }
    if let Some(i) = map.iter().position(|&v| !v.into().is_finite()) {
        return Err(CoreError::InvalidValue(format!(
            "the voxel map has a non-finite value at flat index {i}"
        )));
    }
    Ok(pool_rows(grid, 1, |z, y, rows: &mut [T]| {
        let start = (z * ys + y) * xs;
        rows.copy_from_slice(&map[start..start + xs]);
    }))
}

/// Box means of uncertainty maps `kinds` computed on the fly from an accumulator state
/// (no full-volume map is materialised). Returns `[len(kinds), gz, gy, gx]`.
///
/// # Errors
/// An invalid state, a state whose voxel count is not the grid's image size, or a class index
/// out of range.
pub fn pool_uncertainty(state: &State<'_>, kinds: &[MapKind], grid: &Grid) -> Result<Vec<f64>> {
    state.validate()?;
    state.check_maps(kinds)?;
    let [zs, ys, xs] = grid.shape;
    if state.n_voxels() != zs * ys * xs {
        return Err(CoreError::lengths(
            "accumulator voxels vs image shape (Z*Y*X)",
            state.n_voxels(),
            zs * ys * xs,
        ));
    }
    let k = kinds.len();
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    Ok(pool_rows(grid, k, |z, y, rows: &mut [f32]| {
        let start = (z * ys + y) * xs;
        let mut outs: Vec<&mut [f32]> = rows.chunks_mut(xs).collect();
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < xs {
                s.resize(xs, 0.0);
            }
            state.fill_maps(kinds, start..start + xs, &mut outs, &mut s);
        });
    }))
}

/// Greedy non-overlapping selection of up to `n` grid positions by `scores` (best first).
///
/// Candidates are visited by descending score, ties broken by ascending grid index; one is
/// accepted unless its box intersects a box of `blocked` or a box accepted before. `-inf`
/// scores are allowed (visited last). Returns the accepted grid indices in acceptance order.
///
/// # Errors
/// `scores` not of the grid's size, or NaN scores.
pub fn select_greedy(
    scores: &[f64],
    grid: &Grid,
    blocked: &[Box3],
    n: usize,
) -> Result<Vec<usize>> {
    if scores.len() != grid.len() {
        return Err(CoreError::lengths(
            "scores vs grid positions",
            scores.len(),
            grid.len(),
        ));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(CoreError::InvalidValue(format!(
            "patch score at grid index {i} is NaN"
        )));
    }
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        scores[b as usize]
            .partial_cmp(&scores[a as usize])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let size = grid.patch.map(|v| v as i64);
    let mut taken: Vec<Box3> = blocked.to_vec();
    let mut out = Vec::with_capacity(n.min(scores.len()));
    for &i in &order {
        if out.len() >= n {
            break;
        }
        let b = Box3 {
            start: grid.start(i as usize).map(|v| v as i64),
            size,
        };
        if !taken.iter().any(|t| t.intersects(&b)) {
            taken.push(b);
            out.push(i as usize);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;

    fn brute(map: &[f64], g: &Grid) -> Vec<f64> {
        let [_, ys, xs] = g.shape;
        let mut out = Vec::new();
        for i in 0..g.len() {
            let s = g.start(i);
            let mut acc = 0.0;
            for z in s[0]..s[0] + g.patch[0] {
                for y in s[1]..s[1] + g.patch[1] {
                    for x in s[2]..s[2] + g.patch[2] {
                        acc += map[(z * ys + y) * xs + x];
                    }
                }
            }
            out.push(acc / (g.patch.iter().product::<usize>() as f64));
        }
        out
    }

    #[test]
    fn huge_axes_are_refused_not_overflowed() {
        // Found by the validation proptest: a shape of usize::MAX overflowed the box sums.
        let r = Grid::new([1, 1, usize::MAX], [1, 1, 1 << 59], [1, 1, 1 << 61], false);
        assert!(matches!(r, Err(CoreError::InvalidArgument(m)) if m.contains("at most")));
        let far = Box3 {
            start: [i64::MAX; 3],
            size: [i64::MAX; 3],
        };
        let near = Box3 {
            start: [0; 3],
            size: [4; 3],
        };
        assert!(!near.intersects(&far) && !far.intersects(&near));
    }

    #[test]
    fn grid_geometry() {
        let g = Grid::new([160, 256, 256], [64, 64, 64], [8, 8, 8], false).expect("ok");
        assert_eq!(g.dims, [13, 25, 25]);
        assert_eq!(g.start(g.len() - 1), [96, 192, 192]);
        let g = Grid::new([10, 5, 7], [20, 3, 3], [1, 2, 3], true).expect("clip");
        assert_eq!((g.patch, g.dims), ([10, 3, 3], [1, 2, 2]));
        assert!(Grid::new([10, 5, 7], [20, 3, 3], [1, 1, 1], false).is_err());
        assert!(Grid::new([10, 5, 7], [2, 0, 3], [1, 1, 1], false).is_err());
        assert!(Grid::new([10, 5, 7], [2, 2, 3], [1, 0, 1], false).is_err());
    }

    #[test]
    fn pooling_matches_brute_force() {
        let mut rng = Rng::new(5);
        let shape = [9, 11, 13];
        let map: Vec<f32> = (0..9 * 11 * 13).map(|_| rng.next_f64() as f32).collect();
        let m64: Vec<f64> = map.iter().map(|&v| v as f64).collect();
        for (patch, stride) in [
            ([3, 4, 5], [1, 1, 1]),
            ([9, 11, 13], [1, 1, 1]),
            ([2, 5, 3], [2, 3, 4]),
            ([1, 1, 1], [3, 3, 3]),
        ] {
            let g = Grid::new(shape, patch, stride, false).expect("ok");
            let got = pool_map(&map, &g).expect("ok");
            let got64 = pool_map(&m64, &g).expect("ok");
            let want = brute(&m64, &g);
            for ((a, c), b) in got.iter().zip(&got64).zip(&want) {
                assert!((a - b).abs() < 1e-12, "{patch:?} {stride:?}: {a} vs {b}");
                assert!((c - b).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn fused_uncertainty_pooling_equals_pooling_the_maps() {
        use crate::uncertainty::{accumulate, maps};
        let (c, shape) = (3usize, [6usize, 7, 8]);
        let v = 6 * 7 * 8;
        let mut rng = Rng::new(9);
        let (mut sp, mut se) = (vec![0.0f32; c * v], vec![0.0f32; v]);
        for _ in 0..3 {
            let mut p = vec![0.0f32; c * v];
            for i in 0..v {
                let w: Vec<f64> = (0..c).map(|_| rng.next_f64()).collect();
                let t: f64 = w.iter().sum();
                for k in 0..c {
                    p[k * v + i] = (w[k] / t) as f32;
                }
            }
            accumulate(&p, c, &mut sp, &mut se, Some(1e-3)).expect("ok");
        }
        let st = State {
            sum_p: &sp,
            sum_ent: &se,
            n_classes: c,
            n_members: 3,
        };
        let all_kinds = [
            MapKind::ClassWeightedEntropy(1),
            MapKind::PredictiveEntropy,
            MapKind::MutualInformation,
            MapKind::ClassWeightedEntropy(0),
            MapKind::ExpectedEntropy,
            MapKind::MeanProb(2),
            MapKind::MaxProb,
        ];
        let g = Grid::new(shape, [3, 2, 5], [2, 1, 2], false).expect("ok");
        // 1 to 7 maps: the rows are summed four maps at a time (padded with zero rows); each
        // map's box means must be those of pooling it alone, bit for bit.
        for n in 1..=all_kinds.len() {
            let kinds = &all_kinds[..n];
            let fused = pool_uncertainty(&st, kinds, &g).expect("ok");
            let full = maps(&st, kinds).expect("ok");
            for k in 0..n {
                let want = pool_map(&full[k * v..(k + 1) * v], &g).expect("ok");
                assert_eq!(&fused[k * g.len()..(k + 1) * g.len()], &want[..]);
            }
        }
        let kinds = &all_kinds[..3];
        let g_bad = Grid::new([6, 7, 9], [3, 2, 5], [2, 1, 2], false).expect("ok");
        assert!(pool_uncertainty(&st, kinds, &g_bad).is_err());
    }

    #[test]
    fn selection_is_greedy_and_deterministic() {
        // 1D-like grid: 6 x positions, patch 2, stride 1.
        let g = Grid::new([1, 1, 7], [1, 1, 2], [1, 1, 1], false).expect("ok");
        let s = [0.1, 0.9, 0.9, 0.5, 0.2, 0.9];
        // 1 (tie with 2, 5: lowest index first) blocks 2 and 0; then 5; then 3.
        assert_eq!(select_greedy(&s, &g, &[], 10).expect("ok"), vec![1, 5, 3]);
        let blocked = [Box3 {
            start: [0, 0, 5],
            size: [1, 1, 1],
        }];
        assert_eq!(select_greedy(&s, &g, &blocked, 2).expect("ok"), vec![1, 3]);
        assert!(select_greedy(&[f64::NAN; 6], &g, &[], 1).is_err());
        assert!(select_greedy(&s[..3], &g, &[], 1).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn selected_boxes_never_overlap(seed in 0u64..10_000, n in 1usize..30,
                                        p in 1usize..6, s in 1usize..4) {
            let g = Grid::new([12, 10, 9], [p, p + 1, p], [s, 1, s], true).expect("ok");
            let mut rng = Rng::new(seed);
            let scores: Vec<f64> = (0..g.len()).map(|_| (rng.below(4) as f64).ln()).collect();
            let blocked = vec![Box3 { start: [rng.below(10) as i64, 2, 3], size: [3, 3, 3] }];
            let sel = select_greedy(&scores, &g, &blocked, n).expect("ok");
            let boxes: Vec<Box3> = sel.iter().map(|&i| Box3 {
                start: g.start(i).map(|v| v as i64), size: g.patch.map(|v| v as i64) }).collect();
            for (i, a) in boxes.iter().enumerate() {
                prop_assert!(!a.intersects(&blocked[0]));
                for b in &boxes[i + 1..] {
                    prop_assert!(!a.intersects(b));
                }
            }
            // Greedy: every rejected candidate before the last accepted one overlaps something.
            prop_assert!(sel.len() <= n);
        }
    }
}
