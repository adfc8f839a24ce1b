//! The polars plugin ABI of `polars_expr.rs`, written out instead of pyo3-polars' derive.
//!
//! The plugin ABI (polars-ffi version 0.1, what Python polars 2.1 loads) is exported by the
//! `plugin!` macro below rather than pyo3-polars' `#[polars_expr]`: that derive needs the
//! `polars-plan` crate, which would add polars-io, -ops, -parquet and -time to every clean
//! build of the extension. The ABI is five symbols per function family and two per library:
//!
//! - `_polars_plugin_get_version() -> u32`: (major << 16) + minor of `polars_ffi`;
//! - `_polars_plugin_get_last_error_message() -> *const c_char`: this thread's last error;
//! - `_polars_plugin_<f>(inputs, n, kwargs, kwargs_len, out, context)`: compute; on error leave
//!   `out` empty and set the last error;
//! - `_polars_plugin_field_<f>(fields, n, out, kwargs, kwargs_len)`: the output field.
//!
//! Kwargs arrive pickled (`register_plugin_function`), read with `serde-pickle`. Panics are
//! caught and reported as `medtrust[InternalError]` errors, never unwound into polars.

use crate::polars_expr::{err, Kwargs};
use polars_core::prelude::*;
use std::cell::RefCell;
use std::ffi::{c_char, CString};

thread_local! {
    /// The last error of a plugin call on this thread (polars reads it right after the call).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(msg: String) {
    let msg = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = msg);
}

/// # Safety
/// Called by polars through the plugin ABI; returns a pointer valid until the next call.
#[no_mangle]
pub unsafe extern "C" fn _polars_plugin_get_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The plugin ABI version polars checks before any call.
#[no_mangle]
pub extern "C" fn _polars_plugin_get_version() -> u32 {
    let (major, minor) = polars_ffi::get_version();
    (u32::from(major) << 16) + u32::from(minor)
}

/// # Safety
/// `ptr` / `len` describe the pickled kwargs buffer polars passes.
pub(crate) unsafe fn parse_kwargs(ptr: *const u8, len: usize) -> PolarsResult<Kwargs> {
    let bytes = if len == 0 {
        &[][..]
    } else {
        // SAFETY: polars passes a live buffer of `len` bytes.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    serde_pickle::from_slice(bytes, Default::default()).map_err(|e| {
        err(
            "InvalidArgumentError",
            format!("unreadable plugin kwargs: {e}"),
        )
    })
}

/// A caught panic as the error polars reports (never a crash of the Python process).
pub(crate) fn panic_message() -> String {
    "medtrust[InternalError]: internal error in the medtrust polars plugin (please report)".into()
}

/// Export `compute` as `_polars_plugin_<sym>` and `output` as `_polars_plugin_field_<sym>`.
#[macro_export]
macro_rules! plugin {
    ($compute:ident, $output:ident, $sym:ident, $field_sym:ident) => {
        /// # Safety
        /// Called by polars through the plugin ABI (see the module docs).
        #[no_mangle]
        pub unsafe extern "C" fn $sym(
            inputs: *mut polars_ffi::version_0::SeriesExport,
            n_inputs: usize,
            kwargs_ptr: *const u8,
            kwargs_len: usize,
            out: *mut polars_ffi::version_0::SeriesExport,
            _context: *mut polars_ffi::version_0::CallerContext,
        ) {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> PolarsResult<Series> {
                // SAFETY: polars passes `n_inputs` exported series and the kwargs buffer.
                let series = unsafe { polars_ffi::version_0::import_series_buffer(inputs, n_inputs)? };
                let kwargs = unsafe { $crate::polars_expr_abi::parse_kwargs(kwargs_ptr, kwargs_len)? };
                $compute(&series, kwargs)
            }));
            match result {
                // SAFETY: `out` points to an empty SeriesExport owned by polars.
                Ok(Ok(s)) => unsafe { *out = polars_ffi::version_0::export_series(&s) },
                Ok(Err(e)) => $crate::polars_expr_abi::set_last_error(e.to_string()),
                Err(_) => $crate::polars_expr_abi::set_last_error($crate::polars_expr_abi::panic_message()),
            }
        }

        /// # Safety
        /// Called by polars through the plugin ABI (see the module docs).
        #[no_mangle]
        pub unsafe extern "C" fn $field_sym(
            fields: *mut polars_arrow::ffi::ArrowSchema,
            n_fields: usize,
            out: *mut polars_arrow::ffi::ArrowSchema,
            kwargs_ptr: *const u8,
            kwargs_len: usize,
        ) {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> PolarsResult<Field> {
                // SAFETY: polars passes `n_fields` exported input fields.
                let fields = unsafe { std::slice::from_raw_parts(fields, n_fields) };
                let fields = fields
                    .iter()
                    .map(|f| unsafe { polars_arrow::ffi::import_field_from_c(f) }.map(|a| Field::from(&a)))
                    .collect::<PolarsResult<Vec<_>>>()?;
                let kwargs = unsafe { $crate::polars_expr_abi::parse_kwargs(kwargs_ptr, kwargs_len)? };
                $output(&fields, &kwargs)
            }));
            match result {
                Ok(Ok(f)) => {
                    let schema = polars_arrow::ffi::export_field_to_c(&f.to_arrow(CompatLevel::newest()));
                    // SAFETY: `out` points to an empty ArrowSchema owned by polars.
                    unsafe { *out = schema }
                }
                Ok(Err(e)) => $crate::polars_expr_abi::set_last_error(e.to_string()),
                Err(_) => $crate::polars_expr_abi::set_last_error($crate::polars_expr_abi::panic_message()),
            }
        }
    };
}
