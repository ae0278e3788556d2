//! The limiter of one function's `#[limit(.., key = EXPR)]` with limits written inline:
//! a `static` whose key type the macro cannot name, so it holds a [`KeyedLimiter`] per
//! key type, made at the first call with that type.

use std::any::Any;
use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, OnceLock, PoisonError};

use super::keyed::KeyedLimiter;
use super::limiter::Limiter;

/// What `#[limit(concurrency = 8, key = user.id)]` keeps in its `static`: the limits,
/// and the keyed limiter of each key type it is called with (one, but for a generic
/// function whose key type depends on its type parameters).
///
/// NOTE: the keyed limiters are leaked, as a `static`'s contents are never dropped
/// anyway: one per key type, made once.
#[doc(hidden)]
pub struct KeyedSite {
    /// The limits of each key; never used itself.
    template: Limiter,
    /// The keyed limiter of the first key type: one load and a type check per call.
    first: OnceLock<&'static (dyn Any + Send + Sync)>,
    /// Those of any other key types (a generic function's other instantiations).
    others: Mutex<Vec<&'static (dyn Any + Send + Sync)>>,
}

impl KeyedSite {
    /// A site whose every key gets `template`'s limits.
    pub const fn new(template: Limiter) -> Self {
        Self { template, first: OnceLock::new(), others: Mutex::new(Vec::new()) }
    }

    /// The keyed limiter for keys of type `K`, made at the first call with that type.
    #[inline]
    pub(super) fn limiter<K: Hash + Eq + Clone + Send + Sync + 'static>(
        &'static self,
    ) -> &'static KeyedLimiter<K> {
        let first = self.first.get_or_init(|| self.leak::<K>() as &(dyn Any + Send + Sync));
        match first.downcast_ref::<KeyedLimiter<K>>() {
            Some(limiter) => limiter,
            None => self.other(),
        }
    }

    #[cold]
    #[inline(never)]
    fn other<K: Hash + Eq + Clone + Send + Sync + 'static>(
        &'static self,
    ) -> &'static KeyedLimiter<K> {
        // Nothing under this lock can panic but an allocation: poison is harmless.
        let mut others = self.others.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(limiter) = others.iter().find_map(|other| other.downcast_ref()) {
            return limiter;
        }
        let limiter = self.leak::<K>();
        others.push(limiter);
        limiter
    }

    fn leak<K: Hash + Eq + Clone + Send + Sync + 'static>(&self) -> &'static KeyedLimiter<K> {
        Box::leak(Box::new(KeyedLimiter::<K>::from_template(self.template.fresh())))
    }

    /// Names the limits in events, as a [`KeyedLimiter`] does.
    pub(super) fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per key", self.template)
    }
}

impl fmt::Debug for KeyedSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedSite").field("limits", &self.template).finish_non_exhaustive()
    }
}
