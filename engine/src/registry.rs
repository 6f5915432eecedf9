//! The explicit list of component kinds a binary knows, looked up by `kind` name.

use std::sync::Arc;

use crate::component::{OperatorKind, SinkKind, SourceKind};
use crate::metrics::Role;

/// Component kinds by name. The binary fills it from each component crate's
/// `register` function; the engine itself registers nothing.
#[derive(Default, Clone)]
pub struct Registry {
    sources: Vec<Arc<dyn SourceKind>>,
    operators: Vec<Arc<dyn OperatorKind>>,
    sinks: Vec<Arc<dyn SinkKind>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a source kind.
    pub fn add_source(&mut self, kind: impl SourceKind + 'static) -> &mut Self {
        self.sources.push(Arc::new(kind));
        self
    }

    /// Adds an operator kind.
    pub fn add_operator(&mut self, kind: impl OperatorKind + 'static) -> &mut Self {
        self.operators.push(Arc::new(kind));
        self
    }

    /// Adds a sink kind.
    pub fn add_sink(&mut self, kind: impl SinkKind + 'static) -> &mut Self {
        self.sinks.push(Arc::new(kind));
        self
    }

    /// The source kind named `kind`.
    pub fn source(&self, kind: &str) -> Option<&Arc<dyn SourceKind>> {
        self.sources.iter().find(|k| k.kind() == kind)
    }

    /// The operator kind named `kind`.
    pub fn operator(&self, kind: &str) -> Option<&Arc<dyn OperatorKind>> {
        self.operators.iter().find(|k| k.kind() == kind)
    }

    /// The sink kind named `kind`.
    pub fn sink(&self, kind: &str) -> Option<&Arc<dyn SinkKind>> {
        self.sinks.iter().find(|k| k.kind() == kind)
    }

    /// Names of the kinds registered for a role, sorted.
    pub fn kinds(&self, role: Role) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = match role {
            Role::Source => self.sources.iter().map(|k| k.kind()).collect(),
            Role::Operator => self.operators.iter().map(|k| k.kind()).collect(),
            Role::Sink => self.sinks.iter().map(|k| k.kind()).collect(),
        };
        kinds.sort_unstable();
        kinds
    }

    /// `(kind, summary)` of every registered component, for `gridflow kinds`.
    pub fn summaries(&self, role: Role) -> Vec<(&'static str, &'static str)> {
        match role {
            Role::Source => self
                .sources
                .iter()
                .map(|k| (k.kind(), k.summary()))
                .collect(),
            Role::Operator => self
                .operators
                .iter()
                .map(|k| (k.kind(), k.summary()))
                .collect(),
            Role::Sink => self.sinks.iter().map(|k| (k.kind(), k.summary())).collect(),
        }
    }
}
