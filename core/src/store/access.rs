//! Lending the store for one short step at a time. Long work (a sync, an import of many files)
//! does its network IO, key derivation and parsing without the store, and borrows it only to
//! read or commit; so an app's other calls, made meanwhile on the same database, wait for at
//! most one step, never for the network.

use std::cell::RefCell;
use std::sync::Mutex;

use super::Store;

/// Something that hands out the store for a moment: a `Mutex<Store>` in an app that calls from
/// many threads, a `RefCell<&mut Store>` in the command line.
pub trait StoreAccess {
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T;
}

impl StoreAccess for Mutex<Store> {
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        // A panic inside a step leaves SQLite consistent (its transaction rolled back).
        let mut guard = self.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

impl StoreAccess for RefCell<&mut Store> {
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.borrow_mut())
    }
}
