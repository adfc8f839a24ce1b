//! The label element types every label-map kernel accepts (overlap, aggregation):
//! shared by those modules, owned by none of them.

/// An integer (or boolean) label type. `index` widens to i64 without loss.
pub trait Label: Copy + Send + Sync + 'static {
    /// The label as a signed integer.
    fn index(self) -> i64;
}

macro_rules! impl_label {
    ($($t:ty),*) => {$(
        impl Label for $t {
            #[inline(always)]
            fn index(self) -> i64 {
                self as i64
            }
        }
    )*};
}
impl_label!(u8, u16, i32, i64);

impl Label for bool {
    #[inline(always)]
    fn index(self) -> i64 {
        self as i64
    }
}
