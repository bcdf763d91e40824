//! What reading a PDF's signatures costs, counted as it happens (for the fuzz target that checks
//! the work stays in proportion to the input, and for tests): bytes parsed, bytes hashed, objects
//! compared. Counted per thread: [`crate::signatures_measured`] runs on the caller's thread.
use std::cell::Cell;

/// The work [`crate::signatures`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Bytes of PDF parsed (the file once, and each signed revision read again).
    pub bytes_parsed: u64,
    /// Bytes hashed for the signatures' digests.
    pub bytes_hashed: u64,
    /// Objects of a later revision compared with a signed one.
    pub objects_compared: u64,
}

thread_local! {
    static WORK: Cell<Work> = const { Cell::new(Work { bytes_parsed: 0, bytes_hashed: 0, objects_compared: 0 }) };
}

fn add(f: impl FnOnce(&mut Work)) {
    WORK.with(|w| {
        let mut v = w.get();
        f(&mut v);
        w.set(v);
    });
}

pub(crate) fn parsed(n: usize) {
    add(|w| w.bytes_parsed += n as u64);
}

pub(crate) fn hashed(n: usize) {
    add(|w| w.bytes_hashed += n as u64);
}

pub(crate) fn compared(n: usize) {
    add(|w| w.objects_compared += n as u64);
}

/// Run `f` and return what it cost on this thread.
pub(crate) fn measure<T>(f: impl FnOnce() -> T) -> (T, Work) {
    let before = WORK.with(Cell::get);
    let out = f();
    let after = WORK.with(Cell::get);
    (
        out,
        Work {
            bytes_parsed: after.bytes_parsed - before.bytes_parsed,
            bytes_hashed: after.bytes_hashed - before.bytes_hashed,
            objects_compared: after.objects_compared - before.objects_compared,
        },
    )
}
