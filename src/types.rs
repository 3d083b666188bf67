//! Static types of values: what the checker knows about a variable or expression.

use std::fmt;
use std::sync::Arc;

use crate::ast::{Shape, ShapeKind};

/// A value's type. `Json` means "anything": it is never a mismatch.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// Text.
    Text,
    /// A number.
    Number,
    /// `true` / `false`.
    Bool,
    /// Unknown structure.
    Json,
    /// `null`.
    Null,
    /// A list of one type.
    List(Box<Ty>),
    /// An object with declared keys.
    Object(Arc<Vec<Field>>),
    /// The result of `split NAME =`: text, with `.category`, `.value` and `.extra`.
    SplitResult,
}

/// A declared key of an object type.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The key.
    pub key: String,
    /// Whether it may be missing.
    pub optional: bool,
    /// Its type.
    pub ty: Ty,
}

/// The outcome of reading `.key` from a type.
pub enum Lookup {
    /// The key's type.
    Found(Ty),
    /// An object type without that key; the declared keys are given for did-you-mean.
    NoSuchKey(Vec<String>),
    /// The type has no keys at all.
    NotAnObject,
}

impl Ty {
    /// The type a declared shape describes.
    pub fn from_shape(shape: &Shape) -> Ty {
        match &shape.kind {
            ShapeKind::Text => Ty::Text,
            ShapeKind::Number => Ty::Number,
            ShapeKind::Bool => Ty::Bool,
            ShapeKind::Json => Ty::Json,
            ShapeKind::List(inner) => Ty::List(Box::new(Ty::from_shape(inner))),
            ShapeKind::Object(fields) => Ty::Object(Arc::new(
                fields
                    .iter()
                    .map(|f| Field { key: f.key.node.clone(), optional: f.optional, ty: Ty::from_shape(&f.shape) })
                    .collect(),
            )),
        }
    }

    /// Reads `.key`.
    pub fn field(&self, key: &str) -> Lookup {
        match self {
            Ty::Json => Lookup::Found(Ty::Json),
            Ty::Object(fields) => match fields.iter().find(|f| f.key == key) {
                Some(f) => Lookup::Found(f.ty.clone()),
                None => Lookup::NoSuchKey(fields.iter().map(|f| f.key.clone()).collect()),
            },
            Ty::SplitResult => match key {
                "category" | "value" => Lookup::Found(Ty::Text),
                "extra" => Lookup::Found(Ty::Json),
                _ => Lookup::NoSuchKey(vec!["category".into(), "value".into(), "extra".into()]),
            },
            // Lists take numeric segments (`@extra.items.0`).
            Ty::List(inner) if key.bytes().all(|b| b.is_ascii_digit()) => Lookup::Found((**inner).clone()),
            _ => Lookup::NotAnObject,
        }
    }

    /// The common type of two values that may reach one place.
    pub fn join(a: &Ty, b: &Ty) -> Ty {
        match (a, b) {
            _ if a == b => a.clone(),
            (Ty::Object(x), Ty::Object(y)) => {
                let mut fields: Vec<Field> = (**x).clone();
                for f in y.iter() {
                    match fields.iter_mut().find(|g| g.key == f.key) {
                        Some(g) => {
                            g.ty = Ty::join(&g.ty, &f.ty);
                            g.optional |= f.optional;
                        }
                        None => fields.push(Field { optional: true, ..f.clone() }),
                    }
                }
                Ty::Object(Arc::new(fields))
            }
            _ => Ty::Json,
        }
    }

    /// Whether the value can stand where a number is needed.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Number | Ty::Json)
    }

    /// Whether the value can stand where a bool is needed.
    pub fn is_boolean(&self) -> bool {
        matches!(self, Ty::Bool | Ty::Json)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Text | Ty::SplitResult => f.write_str("text"),
            Ty::Number => f.write_str("number"),
            Ty::Bool => f.write_str("bool"),
            Ty::Json => f.write_str("json"),
            Ty::Null => f.write_str("null"),
            Ty::List(inner) => write!(f, "[{inner}]"),
            Ty::Object(_) => f.write_str("object"),
        }
    }
}
