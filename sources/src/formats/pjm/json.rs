//! Lenient, borrowing deserialization of Data Miner answers, streamed item by item.
//!
//! A field of an item is read as whatever JSON value it holds ([`Scalar`]), so a wrong
//! type in one item never fails the document: the row loop rejects that item with a reason
//! and goes on. Only malformed JSON (a syntax error) stops the file. Strings are borrowed
//! from the input unless they contain escapes; objects and arrays nested in items are
//! skipped without being built.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One JSON value of an item's field, as published.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) enum Scalar<'a> {
    /// The item has no such field (a field-restricted query leaves columns out).
    #[default]
    Absent,
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer below zero.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A number with a fraction or exponent (serde_json reads it as `f64`).
    Float(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// An array or object, skipped.
    Nested(&'static str),
}

impl Scalar<'_> {
    /// Whether the item has the field at all (even as `null`).
    pub(super) fn is_present(&self) -> bool {
        !matches!(self, Scalar::Absent)
    }

    /// What kind of value this is, for reasons.
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Scalar::Absent => "absent",
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Nested(kind) => kind,
        }
    }

    /// The number's decimal text, written into `text` (cleared first); `false` when the
    /// value is not a number. A float is written in Rust's shortest round-trip form, which
    /// is the text the publisher wrote for any number of up to 15 significant digits (every
    /// PJM price: at most 6 decimals), and never uses an exponent.
    pub(super) fn number_text(&self, text: &mut String) -> bool {
        text.clear();
        // Writing into a String cannot fail.
        let _ = match self {
            Scalar::Int(value) => write!(text, "{value}"),
            Scalar::UInt(value) => write!(text, "{value}"),
            Scalar::Float(value) => write!(text, "{value}"),
            _ => return false,
        };
        true
    }

    /// The value as JSON text, for a reject's `raw`.
    fn write_json(&self, out: &mut String) {
        let _ = match self {
            Scalar::Absent => Ok(()),
            Scalar::Null => out.write_str("null"),
            Scalar::Bool(value) => write!(out, "{value}"),
            Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_) => {
                let mut text = String::new();
                self.number_text(&mut text);
                out.write_str(&text)
            }
            Scalar::Str(text) => {
                out.write_str(&serde_json::to_string(text.as_ref()).unwrap_or_default())
            }
            Scalar::Nested("an array") => out.write_str("[...]"),
            Scalar::Nested(_) => out.write_str("{...}"),
        };
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Scalar::UInt(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(value))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(value)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested("an object"))
    }
}

/// The day-ahead (`_da`) or real-time (`_rt`) column of a pair.
pub(super) const DA: usize = 0;
/// See [`DA`].
pub(super) const RT: usize = 1;

/// The fields of one Data Miner item that gridflow reads; the others are skipped.
#[derive(Debug, Default)]
pub(super) struct Item<'a> {
    /// `Some(kind)` when the element of `items` is not an object at all.
    pub(super) not_object: Option<&'static str>,
    /// Every key in document order, when the sink asked for them ([`ItemSink::wants_keys`]).
    pub(super) keys: Vec<String>,
    pub(super) utc: Scalar<'a>,
    pub(super) ept: Scalar<'a>,
    pub(super) pnode_id: Scalar<'a>,
    pub(super) pnode_name: Scalar<'a>,
    pub(super) kind: Scalar<'a>,
    /// `total_lmp_da`, `total_lmp_rt`.
    pub(super) total: [Scalar<'a>; 2],
    /// `system_energy_price_da`, `system_energy_price_rt`.
    pub(super) energy: [Scalar<'a>; 2],
    /// `congestion_price_da`, `congestion_price_rt`.
    pub(super) congestion: [Scalar<'a>; 2],
    /// `marginal_loss_price_da`, `marginal_loss_price_rt`.
    pub(super) loss: [Scalar<'a>; 2],
    pub(super) row_is_current: Scalar<'a>,
    pub(super) version_nbr: Scalar<'a>,
}

/// The column suffix of each side.
const SUFFIX: [&str; 2] = ["da", "rt"];

impl Item<'_> {
    /// The item rebuilt as compact JSON from the fields gridflow reads, for a reject.
    pub(super) fn raw(&self) -> String {
        if let Some(kind) = self.not_object {
            return format!("<{kind}, not an item object>");
        }
        let mut out = String::from("{");
        let mut field = |name: &str, value: &Scalar<'_>| {
            if value.is_present() {
                if out.len() > 1 {
                    out.push(',');
                }
                let _ = write!(out, "\"{name}\":");
                value.write_json(&mut out);
            }
        };
        field("datetime_beginning_utc", &self.utc);
        field("datetime_beginning_ept", &self.ept);
        field("pnode_id", &self.pnode_id);
        field("pnode_name", &self.pnode_name);
        field("type", &self.kind);
        for side in [DA, RT] {
            let suffix = SUFFIX[side];
            field(&format!("total_lmp_{suffix}"), &self.total[side]);
            field(&format!("system_energy_price_{suffix}"), &self.energy[side]);
            field(
                &format!("congestion_price_{suffix}"),
                &self.congestion[side],
            );
            field(&format!("marginal_loss_price_{suffix}"), &self.loss[side]);
        }
        field("row_is_current", &self.row_is_current);
        field("version_nbr", &self.version_nbr);
        out.push('}');
        out
    }
}

/// A key of an item object.
enum Key {
    Utc,
    Ept,
    PnodeId,
    PnodeName,
    Type,
    Total(usize),
    Energy(usize),
    Congestion(usize),
    Loss(usize),
    RowIsCurrent,
    VersionNbr,
    Other,
}

impl Key {
    fn from_name(name: &str) -> Key {
        match name {
            "datetime_beginning_utc" => return Key::Utc,
            "datetime_beginning_ept" => return Key::Ept,
            "pnode_id" => return Key::PnodeId,
            "pnode_name" => return Key::PnodeName,
            "type" => return Key::Type,
            "row_is_current" => return Key::RowIsCurrent,
            "version_nbr" => return Key::VersionNbr,
            _ => {}
        }
        let Some((stem, suffix)) = name.rsplit_once('_') else {
            return Key::Other;
        };
        let side = match suffix {
            "da" => DA,
            "rt" => RT,
            _ => return Key::Other,
        };
        match stem {
            "total_lmp" => Key::Total(side),
            "system_energy_price" => Key::Energy(side),
            "congestion_price" => Key::Congestion(side),
            "marginal_loss_price" => Key::Loss(side),
            _ => Key::Other,
        }
    }
}

/// Reads a key, appending its name to `keys` when given.
struct KeySeed<'k> {
    keys: Option<&'k mut Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, name: &str) -> Result<Key, E> {
        if let Some(keys) = self.keys {
            keys.push(name.to_owned());
        }
        Ok(Key::from_name(name))
    }
}

/// Reads one item, recording its keys if `keys`.
struct ItemVisitor {
    keys: bool,
}

impl<'de> DeserializeSeed<'de> for ItemVisitor {
    type Value = Item<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Item<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ItemVisitor {
    fn not_object<'a, E>(kind: &'static str) -> Result<Item<'a>, E> {
        Ok(Item {
            not_object: Some(kind),
            ..Item::default()
        })
    }
}

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an item object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut item = Item::default();
        while let Some(key) = map.next_key_seed(KeySeed {
            keys: self.keys.then_some(&mut item.keys),
        })? {
            let slot = match key {
                Key::Utc => &mut item.utc,
                Key::Ept => &mut item.ept,
                Key::PnodeId => &mut item.pnode_id,
                Key::PnodeName => &mut item.pnode_name,
                Key::Type => &mut item.kind,
                Key::Total(side) => &mut item.total[side],
                Key::Energy(side) => &mut item.energy[side],
                Key::Congestion(side) => &mut item.congestion[side],
                Key::Loss(side) => &mut item.loss[side],
                Key::RowIsCurrent => &mut item.row_is_current,
                Key::VersionNbr => &mut item.version_nbr,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            // A repeated key keeps its last value, as most JSON readers do.
            *slot = map.next_value()?;
        }
        Ok(item)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Self::not_object("an array")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Self::not_object("a boolean")
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Self::not_object("a number")
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Self::not_object("a number")
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Self::not_object("a number")
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Self::not_object("a string")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Self::not_object("null")
    }
}

/// Receives items in document order while the document is read.
pub(super) trait ItemSink {
    /// Whether the next item should record its keys (to report a file's fields).
    fn wants_keys(&self) -> bool;

    /// Handles one element of `items`; `Err` stops the file (the reason is kept by the sink).
    fn item(&mut self, item: Item<'_>) -> Result<(), ()>;
}

/// What the top level of the document turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// `{..., "items": [...], ...}`: the Data Miner envelope.
    Envelope,
    /// `[...]`: a bare array of items.
    Array,
    /// An object without `items`.
    NoItems,
    /// Something else (a number, a string, ...).
    Other(&'static str),
}

/// Reads a whole document, handing every item to `sink`.
pub(super) struct Document<'s, S>(pub(super) &'s mut S);

/// The message of the serde error that stops the file when the sink refuses it.
const STOPPED: &str = "gridflow: stopped by the item sink";

fn items<'de, A: SeqAccess<'de>, S: ItemSink>(sink: &mut S, mut seq: A) -> Result<(), A::Error> {
    while let Some(item) = seq.next_element_seed(ItemVisitor {
        keys: sink.wants_keys(),
    })? {
        sink.item(item).map_err(|()| de::Error::custom(STOPPED))?;
    }
    Ok(())
}

impl<'de, S: ItemSink> DeserializeSeed<'de> for Document<'_, S> {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: ItemSink> Visitor<'de> for Document<'_, S> {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Data Miner answer {\"items\": [...]} or an array of items")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut shape = Shape::NoItems;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" && shape == Shape::NoItems {
                map.next_value_seed(Items(&mut *self.0))?;
                shape = Shape::Envelope;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(shape)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Shape, A::Error> {
        items(self.0, seq)?;
        Ok(Shape::Array)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Other("a string"))
    }

    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other("null"))
    }
}

/// The value of the envelope's `items` key.
struct Items<'s, S>(&'s mut S);

impl<'de, S: ItemSink> DeserializeSeed<'de> for Items<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, S: ItemSink> Visitor<'de> for Items<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`items` to be an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        items(self.0, seq)
    }
}
