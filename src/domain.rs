//! Plain domain types: entity references, entities, relations, diagnostics. No IO here.

mod diagnostic;
mod entity;
mod entity_ref;
pub mod names;

pub use diagnostic::{Code, Diagnostic, Position, Related, Severity};
pub use entity::{ALIASES_ANNOTATION, Entity, Format, Link, Provenance, Relation, RelationType, Target};
pub use entity_ref::{DEFAULT_NAMESPACE, EntityRef, RefError};
