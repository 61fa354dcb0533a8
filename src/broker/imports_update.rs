//! Imports re-done while clients stay connected (an account JWT update): stream imports
//! added to and taken from the subscriptions that exist, service imports replaced, and the
//! shadow subscriptions that follow. See the parent module for how imports route.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{
    new_service_import, new_stream_import, shadows_of, take_responses, ServiceImport,
    ServiceImportSpec, StreamImport,
};
use crate::broker::account::Account;
use crate::broker::server::Server;
use crate::broker::sublist::Subscription;

impl StreamImport {
    /// Whether this import takes `from` of `exporter` to `to` (an update keeps it then).
    fn same(&self, exporter: &Arc<Account>, from: &str, to: &str) -> bool {
        std::ptr::eq(self.exporter.as_ptr(), Arc::as_ptr(exporter))
            && self.from == from
            && self.to == to
    }
}

impl ServiceImport {
    /// Whether this import routes as `spec` says to `exporter` (an update keeps it then).
    fn same(&self, exporter: &Arc<Account>, spec: &ServiceImportSpec) -> bool {
        std::ptr::eq(self.exporter.as_ptr(), Arc::as_ptr(exporter))
            && self.local == spec.local
            && self.subject == spec.subject
            && self.response_type == spec.response_type
            && self.threshold == spec.threshold
            && self.share == spec.share
            && self.latency == spec.latency
    }

    /// Stops routing requests: the internal subscription goes (a publisher's cached match
    /// sees it closed).
    fn stop(&self) {
        if let Some(sub) = self.sub.lock().take() {
            sub.client.unsubscribe(&sub);
        }
    }
}

/// A subscription's shadows in the exporters it imports streams from. Set when the
/// subscription is made; an account JWT update that adds stream imports adds to it (under
/// the lock, so that an UNSUB meanwhile takes the new shadows too).
#[derive(Debug, Default)]
pub struct Shadows(parking_lot::Mutex<Vec<Arc<Subscription>>>);

impl Shadows {
    pub fn new(shadows: Vec<Arc<Subscription>>) -> Self {
        Shadows(parking_lot::Mutex::new(shadows))
    }

    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }
}

/// Puts one shadow into its exporter's sublist, unless its import was taken away (checked
/// under the sublist's lock, which the removal sweeps under too).
fn insert_shadow(shadow: &Arc<Subscription>) {
    let Some(import) = shadow.import.as_ref() else {
        return;
    };
    let Some(exporter) = import.exporter.upgrade() else {
        return;
    };
    let mut sublist = exporter.sublist.write();
    if import.removed.load(Ordering::Acquire) {
        return;
    }
    // The subject came from a valid subscription and a checked import.
    let _ = sublist.insert(shadow.clone());
}

/// Puts shadow subscriptions into their exporters' sublists.
pub(crate) fn insert_shadows(shadows: &Shadows) {
    for shadow in shadows.0.lock().iter() {
        insert_shadow(shadow);
    }
}

/// Takes shadow subscriptions out of their exporters' sublists.
pub(crate) fn remove_shadows(shadows: &Shadows) {
    let taken = std::mem::take(&mut *shadows.0.lock());
    for shadow in &taken {
        if !shadow.close() {
            continue;
        }
        if let Some(exporter) = shadow.import.as_ref().and_then(|i| i.exporter.upgrade()) {
            exporter.sublist.write().remove(shadow);
        }
    }
}

/// Replaces `importer`'s stream imports with `wanted` (exporter, subject there, subject
/// here), as nats-server re-does them on an account JWT update: an import that stays keeps
/// its shadows (no message is lost or doubled), one that goes has its shadows taken out of
/// the exporter, and a new one gets shadows for every subscription the account's clients
/// hold already. Invalid mappings are logged and left out.
pub(crate) fn set_stream_imports(
    server: &Arc<Server>,
    importer: &Arc<Account>,
    wanted: Vec<(Arc<Account>, String, String)>,
) {
    let (added, removed) = {
        let mut current = importer.stream_imports.write();
        let mut next: Vec<Arc<StreamImport>> = Vec::with_capacity(wanted.len());
        let mut added = Vec::new();
        for (exporter, from, to) in wanted {
            if let Some(kept) = current.iter().find(|i| i.same(&exporter, &from, &to)) {
                if !next.iter().any(|n| Arc::ptr_eq(n, kept)) {
                    next.push(kept.clone());
                }
                continue;
            }
            match new_stream_import(&exporter, &from, &to) {
                Some(import) => {
                    added.push(import.clone());
                    next.push(import);
                }
                None => crate::log_debug!(
                    "Error adding stream import to account [{}]: {:?} does not map to {:?}",
                    importer.name,
                    from,
                    to
                ),
            }
        }
        let removed: Vec<Arc<StreamImport>> = current
            .iter()
            .filter(|i| !next.iter().any(|n| Arc::ptr_eq(n, i)))
            .cloned()
            .collect();
        *current = next;
        (added, removed)
    };
    for import in &removed {
        sweep_shadows(import);
    }
    if added.is_empty() {
        return;
    }
    for client in server.clients() {
        if !Arc::ptr_eq(&client.account(), importer) {
            continue;
        }
        let subs: Vec<Arc<Subscription>> = client.subs.lock().values().cloned().collect();
        for sub in subs {
            add_shadows(&sub, &added);
        }
    }
}

/// Takes every shadow of a removed stream import out of its exporter.
fn sweep_shadows(import: &Arc<StreamImport>) {
    import.removed.store(true, Ordering::Release);
    let Some(exporter) = import.exporter.upgrade() else {
        return;
    };
    let mut sublist = exporter.sublist.write();
    let shadows: Vec<Arc<Subscription>> = sublist
        .subscriptions()
        .into_iter()
        .filter(|s| s.import.as_ref().is_some_and(|i| Arc::ptr_eq(i, import)))
        .collect();
    for shadow in &shadows {
        if shadow.close() {
            sublist.remove(shadow);
        }
    }
}

/// Gives an existing subscription the shadows of `imports` it lacks.
fn add_shadows(sub: &Arc<Subscription>, imports: &[Arc<StreamImport>]) {
    let mut shadows = sub.shadows.0.lock();
    if sub.is_closed() {
        return;
    }
    // Shadows of imports taken away since are closed: forget them.
    shadows.retain(|s| !s.is_closed());
    let missing: Vec<Arc<StreamImport>> = imports
        .iter()
        .filter(|i| {
            !shadows
                .iter()
                .any(|s| s.import.as_ref().is_some_and(|si| Arc::ptr_eq(si, i)))
        })
        .cloned()
        .collect();
    let new = shadows_of(
        &missing,
        &sub.client,
        &sub.subject,
        sub.queue.as_deref(),
        &sub.sid,
        &sub.perms,
    );
    for shadow in new {
        insert_shadow(&shadow);
        shadows.push(shadow);
    }
}

/// Replaces the service imports `importer`'s JWT declares with `wanted` (exporter and what
/// to route), keeping the server's own (the system account's): an import that stays keeps
/// its subscription, one that goes stops routing requests, a new one starts.
pub(crate) fn set_claim_service_imports(
    server: &Arc<Server>,
    importer: &Arc<Account>,
    wanted: Vec<(Arc<Account>, ServiceImportSpec)>,
) {
    let current: Vec<Arc<ServiceImport>> = importer
        .service_imports
        .read()
        .iter()
        .filter(|i| i.claim)
        .cloned()
        .collect();
    let mut kept: Vec<Arc<ServiceImport>> = Vec::new();
    let mut added: Vec<Arc<ServiceImport>> = Vec::new();
    for (exporter, spec) in wanted {
        if let Some(same) = current.iter().find(|i| i.same(&exporter, &spec)) {
            if !kept.iter().any(|k| Arc::ptr_eq(k, same)) {
                kept.push(same.clone());
            }
            continue;
        }
        match new_service_import(server, importer, &exporter, spec.clone(), true) {
            Ok(service) => {
                take_responses(server, &exporter);
                added.push(service);
            }
            Err(e) => crate::log_debug!(
                "Error adding service import to account [{}]: {}",
                importer.name,
                e
            ),
        }
    }
    let removed: Vec<Arc<ServiceImport>> = current
        .into_iter()
        .filter(|i| !kept.iter().any(|k| Arc::ptr_eq(k, i)))
        .collect();
    for import in &removed {
        import.stop();
    }
    let mut imports = importer.service_imports.write();
    imports.retain(|i| !removed.iter().any(|r| Arc::ptr_eq(r, i)));
    imports.extend(added);
}
