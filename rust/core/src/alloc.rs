//! Fallible allocation of buffers whose size comes from an argument.
//!
//! Rust aborts the process when an allocation fails, and an abort cannot be caught: a size that
//! a user controls (bins, resamples, classes) must go through here, so that an absurd value
//! becomes an error naming the argument instead of killing the interpreter.

use crate::error::{CoreError, Result};

/// The error for a buffer of `len` values of `T` that cannot be allocated.
fn too_large<T>(what: &str, len: String) -> CoreError {
    CoreError::InvalidArgument(format!(
        "{what} is too large: {len} elements of {} bytes cannot be allocated",
        std::mem::size_of::<T>()
    ))
}

/// A vector of `len` default values, or an `InvalidArgument` error naming `what` when `len`
/// overflowed (`None`) or the memory cannot be reserved.
///
/// # Errors
/// Overflowed or unallocatable sizes.
pub fn zeroed<T: Clone + Default>(len: Option<usize>, what: &str) -> Result<Vec<T>> {
    let too_large = |len: String| too_large::<T>(what, len);
    let Some(len) = len else {
        return Err(too_large("more than 2^64".into()));
    };
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| too_large(len.to_string()))?;
    v.resize(len, T::default());
    Ok(v)
}

/// Advise the kernel that `buf`'s whole 2 MiB pages may be backed by transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`, for THP in `madvise` mode, the common default): a large buffer
/// then takes one page fault per 2 MiB instead of one per 4 KiB. Call it before the pages are
/// first touched; where huge pages are unavailable (or off Linux) nothing changes.
pub fn advise_huge_pages<T>(buf: &[T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = buf.as_ptr() as usize;
        let end = start + std::mem::size_of_val(buf);
        let (a, b) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if b > a {
            // SAFETY: [a, b) lies inside `buf`, borrowed for the call; madvise only changes
            // how its pages are backed, never their contents. A failure changes nothing.
            unsafe {
                libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}

/// Element types whose all-zero bit pattern is their zero (`T::default()`), so a buffer of
/// them can come zeroed from the allocator (`calloc`: fresh pages, no write).
pub trait ZeroBits: Copy + Default {}
impl ZeroBits for f32 {}
impl ZeroBits for f64 {}
impl ZeroBits for u32 {}
impl ZeroBits for u64 {}

/// A zeroed buffer left lazy (`calloc`: pages mapped on first touch) whose pages the kernel may
/// back by 2 MiB huge pages ([`advise_huge_pages`]): for large outputs and scratch that a
/// parallel pass writes first, one page fault per 2 MiB instead of one per 4 KiB (on virtual
/// machines the faults of a 4 KiB-paged 40 MB buffer can cost more than the pass itself).
pub fn huge_zeroed<T: ZeroBits>(n: usize) -> Vec<T> {
    let v = vec![T::default(); n];
    advise_huge_pages(&v);
    v
}

/// A zeroed buffer for state that parallel kernels accumulate into, its pages mapped now, from
/// one thread (the policy for every accumulator state). Left lazy, the pages would be first
/// touched by the parallel kernel, and concurrent page faults are slow on virtual machines
/// (measured: ~0.45 s for a KiTS-size ensemble state vs ~0.13 s touched serially). The buffer
/// comes zeroed from the allocator and one element per 4 KiB page is written (the page fault
/// maps the page; writing every element, as [`zeroed`] does, would zero it a second time), after
/// asking for huge pages ([`advise_huge_pages`]: a 2 MiB page takes one fault, not 512).
///
/// # Errors
/// As [`zeroed`].
pub fn prefaulted_zeros<T: ZeroBits>(len: Option<usize>, what: &str) -> Result<Vec<T>> {
    let size = std::mem::size_of::<T>();
    let too_large = |len: String| too_large::<T>(what, len);
    let Some(len) = len else {
        return Err(too_large("more than 2^64".into()));
    };
    if len == 0 {
        return Ok(Vec::new());
    }
    let layout = std::alloc::Layout::array::<T>(len).map_err(|_| too_large(len.to_string()))?;
    // SAFETY: the layout has a non-zero size (len > 0; every `ZeroBits` type has a size).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) } as *mut T;
    if ptr.is_null() {
        return Err(too_large(len.to_string()));
    }
    // SAFETY: the `len` values are initialised (all-zero bits are `T::default()`, `ZeroBits`);
    // the slice lives only for the advice, before any page is touched.
    advise_huge_pages(unsafe { std::slice::from_raw_parts(ptr, len) });
    let per_page = (4096 / size).max(1);
    for i in (0..len).step_by(per_page) {
        // SAFETY: i < len, inside the allocation; a volatile write so the touch is kept.
        unsafe { std::ptr::write_volatile(ptr.add(i), T::default()) };
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `len` values of
    // `T`, and all `len` values are initialised (all-zero bits are `T::default()`, `ZeroBits`).
    Ok(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

/// Words of scratch that [`Scratch`] keeps between calls (256 MiB: the fused sort path's
/// packed samples of 3.3 x 10^7 inputs); a larger buffer is freed after its call.
const SCRATCH_KEPT_WORDS: usize = 1 << 25;

/// A slot for one kept scratch buffer (empty when none is kept or a call holds it).
struct Kept(std::sync::Mutex<Vec<u64>>);

impl Kept {
    /// An empty slot.
    const fn new() -> Kept {
        Kept(std::sync::Mutex::new(Vec::new()))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The process's slot of [`Scratch::take`].
static KEPT: Kept = Kept::new();

/// A large scratch buffer of u64 words whose every word the caller writes before reading it,
/// taken from a buffer kept between calls when it is large enough ([`huge_zeroed`] otherwise)
/// and kept again when dropped (at most [`SCRATCH_KEPT_WORDS`], the larger of two).
///
/// Why: a fresh buffer's pages are mapped and cleared by the kernel on first touch. For the
/// 80 MB of packed samples of 10^7 inputs that was about a tenth of `metrics()` in a profile
/// (`clear_page_erms`), paid again by every call. A kept buffer pays it once per process, as
/// the accumulator's state does per pool. The contents of a reused buffer are those of an
/// earlier call, so it is only for buffers written whole before being read.
///
/// ```
/// let mut a = medtrust_core::alloc::Scratch::take(1000);
/// a.words()[999] = 7;
/// drop(a);
/// assert_eq!(medtrust_core::alloc::Scratch::take(10).words().len(), 10);
/// ```
pub struct Scratch {
    buf: Vec<u64>,
    len: usize,
    slot: &'static Kept,
}

impl Scratch {
    /// A buffer of `len` words (contents unspecified: write before reading), kept in the
    /// process's slot.
    pub fn take(len: usize) -> Scratch {
        Scratch::take_from(&KEPT, len)
    }

    /// [`Scratch::take`] with the buffer kept in `slot` (a test's own slot).
    fn take_from(slot: &'static Kept, len: usize) -> Scratch {
        let kept = std::mem::take(&mut *slot.slot());
        let buf = if kept.len() >= len {
            kept
        } else {
            drop(kept); // too small: freed before the larger one is mapped
            huge_zeroed(len)
        };
        Scratch { buf, len, slot }
    }

    /// The `len` words.
    pub fn words(&mut self) -> &mut [u64] {
        &mut self.buf[..self.len]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if buf.len() > SCRATCH_KEPT_WORDS {
            return;
        }
        let mut kept = self.slot.slot();
        if buf.len() > kept.len() {
            *kept = buf; // the smaller (a concurrent call's) is freed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_kept_and_reused_within_the_cap() {
        static SLOT: Kept = Kept::new(); // this test's own: other tests use the process's
        let mut a = Scratch::take_from(&SLOT, 5000);
        let p = a.words().as_ptr();
        a.words()[4999] = 3;
        drop(a);
        // A smaller request reuses the kept buffer (its old contents are the caller's to
        // overwrite); while it is taken, a concurrent call gets a fresh one.
        let mut b = Scratch::take_from(&SLOT, 100);
        assert_eq!((b.words().len(), b.words().as_ptr()), (100, p));
        let mut c = Scratch::take_from(&SLOT, 200);
        assert_ne!(c.words().as_ptr(), p);
        drop(c);
        assert_eq!(SLOT.slot().len(), 200);
        drop(b); // the larger of the two stays
        assert_eq!(SLOT.slot().len(), 5000);
        // Beyond the cap nothing is kept.
        drop(Scratch::take_from(&SLOT, SCRATCH_KEPT_WORDS + 1));
        assert_eq!(SLOT.slot().len(), 0);
        drop(Scratch::take_from(&SLOT, 7));
        assert_eq!(SLOT.slot().len(), 7);
    }

    #[test]
    fn absurd_sizes_are_errors_not_aborts() {
        assert!(zeroed::<f64>(None, "n").is_err());
        let e = zeroed::<f64>(Some(usize::MAX / 4), "n_resamples").expect_err("must fail");
        assert!(e.to_string().contains("n_resamples"), "{e}");
        assert_eq!(zeroed::<u8>(Some(3), "n").expect("ok"), vec![0, 0, 0]);
        assert!(prefaulted_zeros::<f32>(None, "n").is_err());
        let e = prefaulted_zeros::<f64>(Some(usize::MAX / 4), "sum_p").expect_err("must fail");
        assert!(e.to_string().contains("sum_p"), "{e}");
    }

    #[test]
    fn prefaulted_zeros_are_zeros() {
        for len in [0usize, 1, 1023, 1024, 1025, 3 << 20] {
            let v = prefaulted_zeros::<f32>(Some(len), "n").expect("ok");
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|x| x.to_bits() == 0));
        }
        let v = prefaulted_zeros::<f64>(Some(5000), "n").expect("ok");
        assert!(v.iter().all(|x| x.to_bits() == 0));
    }
}
