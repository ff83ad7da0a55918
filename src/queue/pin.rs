//! Stack pinning for toolchains older than `core::pin::pin!` (Rust 1.68),
//! without allocating.

/// Pins the value bound to the local `$value` where it stands, rebinding
/// `$value` as a `Pin<&mut _>` to it.
macro_rules! pin_on_stack {
    ($value:ident) => {
        let mut $value = $value;
        // SAFETY: the value now lives in a local that the next binding
        // shadows, so no code can name it, and so it can never be moved
        // again; it is dropped in place when the scope ends.
        #[allow(unused_mut)]
        let mut $value = unsafe { ::core::pin::Pin::new_unchecked(&mut $value) };
    };
}

pub(crate) use pin_on_stack;
