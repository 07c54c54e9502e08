//! Plain domain types: entity references, entities, relations, diagnostics. No IO here.

mod cycles;
mod diagnostic;
mod entity;
mod entity_ref;
pub mod names;

pub use cycles::{Loop, MAX_LOOPS_PER_TANGLE, find_cycles, tangle_note};
pub use diagnostic::{Code, Diagnostic, Position, Related, Severity};
pub use entity::{ALIASES_ANNOTATION, Entity, Format, Link, Provenance, Relation, RelationType, Target};
pub use entity_ref::{DEFAULT_NAMESPACE, EntityRef, RefError};
