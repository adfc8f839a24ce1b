//! medtrust-core: the pure-Rust kernels behind medtrust.
//!
//! No PyO3 here: every kernel takes slices, returns [`Result`], and is testable with plain
//! `cargo test`. The Python bindings (crate `medtrust-python`) only parse arguments, release the
//! GIL and map [`CoreError`] to Python exceptions.
//!
//! Modules are named after the job of their kernels:
//! - [`risk`]: risk-coverage curves and the selective-classification metric family;
//! - [`bootstrap`]: (paired) bootstrap of those metrics via multiplicity vectors;
//! - [`rng`]: the small, seedable generator every stochastic kernel uses;
//! - [`label`]: the label element types of every label-map kernel;
//! - [`overlap`]: per-class confusion counts and pairwise agreement of ensemble members;
//! - [`surface`]: surface distances (HD, HD95, ASSD, NSD) with an exact distance transform;
//! - [`aggregate`]: aggregation of pixel-confidence maps to one confidence per case;
//! - [`alloc`]: fallible allocation of argument-sized buffers (an error, never an abort);
//! - [`parallel`]: the lazily built rayon pool sized by `MEDTRUST_NUM_THREADS`;
//! - [`patches`]: strided box means (summed-area table) and greedy non-overlapping selection;
//! - [`sampling`]: power (Gumbel) noising and Gumbel-top-k sampling of patch scores;
//! - [`uncertainty`]: streaming ensemble uncertainty maps (PE, EE, BALD, ClaSP's U_c).

pub mod aggregate;
pub mod alloc;
pub mod bootstrap;
pub mod calibration;
pub mod describe;
pub mod error;
pub mod label;
pub mod overlap;
pub mod parallel;
pub mod patches;
pub mod risk;
pub mod rng;
pub mod sampling;
pub mod simd;
pub mod surface;
pub mod uncertainty;

pub use error::{CoreError, Result};
