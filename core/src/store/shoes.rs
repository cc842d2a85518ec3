//! Shoes, with their distance derived from the runs assigned to them.

use rusqlite::{OptionalExtension, Row};
use uuid::Uuid;

use super::{Store, StoreError, changes::ChangeOp, collection, non_negative, unique_prefix};
use crate::model::{Shoe, ShoeUsage};

const SHOE_COLUMNS: &str = "s.id, s.name, s.brand, s.model, s.start_distance_m, s.wear_at_m, s.replace_at_m, s.retired, s.is_default";

/// Which shoe a new run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShoeChoice {
    /// The default shoe, if there is one (what a runner with one pair expects).
    #[default]
    Default,
    /// This shoe; a retired one is refused.
    Shoe(Uuid),
    /// No shoe.
    None,
}

/// What [`Store::edit_shoe`] changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShoeEdit {
    pub name: Option<String>,
    pub brand: Option<Option<String>>,
    pub model: Option<Option<String>>,
    pub start_distance_m: Option<f64>,
    pub wear_at_m: Option<f64>,
    pub replace_at_m: Option<f64>,
}

fn shoe_from_row(r: &Row<'_>) -> rusqlite::Result<Result<Shoe, StoreError>> {
    let id: String = r.get(0)?;
    let parsed = Uuid::parse_str(&id);
    Ok(match parsed {
        Ok(uuid) => Ok(Shoe {
            id: uuid,
            name: r.get(1)?,
            brand: r.get(2)?,
            model: r.get(3)?,
            start_distance_m: r.get(4)?,
            wear_at_m: r.get(5)?,
            replace_at_m: r.get(6)?,
            retired: r.get(7)?,
            is_default: r.get(8)?,
        }),
        Err(e) => Err(StoreError::Corrupt {
            table: "shoes",
            id,
            reason: e.to_string(),
        }),
    })
}

impl Store {
    /// Adds a shoe. With `is_default` set it becomes the default, replacing the previous one;
    /// the first active shoe becomes the default whatever `is_default` says. Returns the shoe as
    /// stored.
    pub fn add_shoe(&mut self, shoe: &Shoe) -> Result<Shoe, StoreError> {
        let mut shoe = shoe.clone();
        shoe.name = shoe.name.trim().to_string();
        if !shoe.retired && self.default_shoe()?.is_none() {
            shoe.is_default = true;
        }
        let shoe = &shoe;
        validate_shoe(shoe)?;
        if shoe.is_default && shoe.retired {
            return Err(StoreError::Invalid {
                field: "default",
                reason: "a retired shoe cannot be the default".into(),
            });
        }
        self.write(|w| {
            // Checked under the write lock: two connections cannot add the same name.
            let taken: bool = w.tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM shoes WHERE name = ?1 COLLATE NOCASE)",
                [&shoe.name],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StoreError::DuplicateShoeName(shoe.name.clone()));
            }
            if shoe.is_default {
                clear_default(w)?;
            }
            w.tx.execute(
                "INSERT INTO shoes (id, name, brand, model, start_distance_m, wear_at_m, replace_at_m, retired, is_default)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                rusqlite::params![
                    shoe.id.to_string(),
                    shoe.name.trim(),
                    shoe.brand,
                    shoe.model,
                    shoe.start_distance_m,
                    shoe.wear_at_m,
                    shoe.replace_at_m,
                    shoe.retired,
                    shoe.is_default
                ],
            )?;
            w.log(collection::SHOES, &shoe.id.to_string(), ChangeOp::Put, &["*"])
        })?;
        Ok(shoe.clone())
    }

    /// The shoe with its distance and runs, as [`Store::shoes`] lists it.
    pub fn shoe_usage(&self, id: Uuid) -> Result<ShoeUsage, StoreError> {
        self.shoes()?
            .into_iter()
            .find(|u| u.shoe.id == id)
            .ok_or_else(|| StoreError::NotFound {
                what: "shoe",
                key: id.to_string(),
            })
    }

    /// The shoe id a new run gets for `choice`: the default shoe (or none), or the one named,
    /// which must exist and not be retired.
    pub fn shoe_for_new_run(&self, choice: ShoeChoice) -> Result<Option<Uuid>, StoreError> {
        match choice {
            ShoeChoice::None => Ok(None),
            ShoeChoice::Default => Ok(self.default_shoe()?.map(|s| s.id)),
            ShoeChoice::Shoe(id) => {
                let s = self.shoe(id)?.ok_or_else(|| StoreError::NotFound {
                    what: "shoe",
                    key: id.to_string(),
                })?;
                if s.retired {
                    return Err(StoreError::Invalid {
                        field: "shoe",
                        reason: format!("'{}' is retired and takes no new runs", s.name),
                    });
                }
                Ok(Some(s.id))
            }
        }
    }

    /// Deletes a shoe. Its runs keep their history but are on no shoe any more (each logged,
    /// so every device unassigns them); if it was the default, there is none until the runner
    /// picks one.
    pub fn delete_shoe(&mut self, id: Uuid) -> Result<Shoe, StoreError> {
        let shoe = self.shoe(id)?.ok_or_else(|| StoreError::NotFound {
            what: "shoe",
            key: id.to_string(),
        })?;
        let key = id.to_string();
        self.write(|w| {
            let runs: Vec<String> =
                w.tx.prepare("SELECT id FROM runs WHERE shoe_id = ?1")?
                    .query_map([&key], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
            w.tx.execute("UPDATE runs SET shoe_id = NULL WHERE shoe_id = ?1", [&key])?;
            for run in &runs {
                w.log(collection::RUNS, run, ChangeOp::Put, &["shoe_id"])?;
            }
            super::sync_records::fold_pending(w.tx, collection::SHOES, &key)?;
            w.tx.execute("DELETE FROM shoes WHERE id = ?1", [&key])?;
            w.log(collection::SHOES, &key, ChangeOp::Delete, &["*"])
        })?;
        Ok(shoe)
    }

    pub fn shoe(&self, id: Uuid) -> Result<Option<Shoe>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {SHOE_COLUMNS} FROM shoes s WHERE s.id = ?1"),
                [id.to_string()],
                shoe_from_row,
            )
            .optional()?
            .transpose()
    }

    /// Every shoe with its derived distance: active shoes first, then by name.
    pub fn shoes(&self) -> Result<Vec<ShoeUsage>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SHOE_COLUMNS}, COALESCE(SUM(r.distance_m), 0), COUNT(r.id)
             FROM shoes s LEFT JOIN runs r ON r.shoe_id = s.id
             GROUP BY s.id ORDER BY s.retired, s.name COLLATE NOCASE"
        ))?;
        let rows = stmt.query_map([], |r| {
            let shoe = shoe_from_row(r)?;
            let runs_m: f64 = r.get(9)?;
            let count: u32 = r.get(10)?;
            Ok(shoe.map(|shoe| ShoeUsage {
                distance_m: shoe.start_distance_m + runs_m,
                shoe,
                run_count: count,
            }))
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    /// The shoe new runs get when none is named.
    pub fn default_shoe(&self) -> Result<Option<Shoe>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {SHOE_COLUMNS} FROM shoes s WHERE s.is_default = 1"),
                [],
                shoe_from_row,
            )
            .optional()?
            .transpose()
    }

    /// Finds a shoe by full id, by name (ignoring case), or by a unique id prefix of 4+ characters.
    pub fn find_shoe(&self, key: &str) -> Result<Shoe, StoreError> {
        let key = key.trim();
        if let Ok(id) = Uuid::parse_str(key)
            && let Some(s) = self.shoe(id)?
        {
            return Ok(s);
        }
        let all: Vec<Shoe> = self.shoes()?.into_iter().map(|u| u.shoe).collect();
        let by_name: Vec<&Shoe> = all
            .iter()
            .filter(|s| s.name.eq_ignore_ascii_case(key))
            .collect();
        match by_name.len() {
            1 => return Ok(by_name[0].clone()),
            n if n > 1 => {
                return Err(StoreError::Ambiguous {
                    what: "shoe",
                    key: key.to_string(),
                    candidates: by_name.iter().map(|s| s.id.to_string()).collect(),
                });
            }
            _ => {}
        }
        unique_prefix(
            "shoe",
            key,
            all.into_iter().map(|s| (s.id.to_string(), s)).collect(),
        )
    }

    /// Changes a shoe's name, brand, model or distances, logging only the fields that changed
    /// (so a rename on one device and a new replacement distance on another both survive sync).
    pub fn edit_shoe(&mut self, id: Uuid, edit: &ShoeEdit) -> Result<Shoe, StoreError> {
        let old = self.shoe(id)?.ok_or_else(|| StoreError::NotFound {
            what: "shoe",
            key: id.to_string(),
        })?;
        let mut shoe = old.clone();
        if let Some(name) = &edit.name {
            shoe.name = name.trim().to_string();
        }
        if let Some(brand) = &edit.brand {
            shoe.brand = brand.clone();
        }
        if let Some(model) = &edit.model {
            shoe.model = model.clone();
        }
        if let Some(v) = edit.start_distance_m {
            shoe.start_distance_m = v;
        }
        if let Some(v) = edit.wear_at_m {
            shoe.wear_at_m = v;
        }
        if let Some(v) = edit.replace_at_m {
            shoe.replace_at_m = v;
        }
        validate_shoe(&shoe)?;
        if shoe.name != old.name
            && self
                .shoes()?
                .iter()
                .any(|s| s.shoe.id != id && s.shoe.name.eq_ignore_ascii_case(&shoe.name))
        {
            return Err(StoreError::DuplicateShoeName(shoe.name));
        }
        let fields: Vec<&str> = [
            ("name", shoe.name != old.name),
            ("brand", shoe.brand != old.brand),
            ("model", shoe.model != old.model),
            (
                "start_distance_m",
                shoe.start_distance_m != old.start_distance_m,
            ),
            ("wear_at_m", shoe.wear_at_m != old.wear_at_m),
            ("replace_at_m", shoe.replace_at_m != old.replace_at_m),
        ]
        .into_iter()
        .filter_map(|(f, changed)| changed.then_some(f))
        .collect();
        if fields.is_empty() {
            return Ok(shoe);
        }
        self.write(|w| {
            w.tx.execute(
                "UPDATE shoes SET name = ?2, brand = ?3, model = ?4, start_distance_m = ?5,
                 wear_at_m = ?6, replace_at_m = ?7 WHERE id = ?1",
                rusqlite::params![
                    id.to_string(),
                    shoe.name,
                    shoe.brand,
                    shoe.model,
                    shoe.start_distance_m,
                    shoe.wear_at_m,
                    shoe.replace_at_m
                ],
            )?;
            w.log(collection::SHOES, &id.to_string(), ChangeOp::Put, &fields)
        })?;
        Ok(shoe)
    }

    /// Makes `id` the default shoe (and no other).
    pub fn set_default_shoe(&mut self, id: Uuid) -> Result<(), StoreError> {
        let shoe = self.shoe(id)?.ok_or_else(|| StoreError::NotFound {
            what: "shoe",
            key: id.to_string(),
        })?;
        if shoe.retired {
            return Err(StoreError::Invalid {
                field: "default",
                reason: format!("'{}' is retired and cannot be the default", shoe.name),
            });
        }
        if shoe.is_default {
            return Ok(());
        }
        self.write(|w| {
            clear_default(w)?;
            w.tx.execute(
                "UPDATE shoes SET is_default = 1 WHERE id = ?1",
                [id.to_string()],
            )?;
            w.log(
                collection::SHOES,
                &id.to_string(),
                ChangeOp::Put,
                &["default"],
            )
        })
    }

    /// Retires a shoe: it keeps its history but gets no new runs (and stops being the default:
    /// then there is none until the runner picks one).
    pub fn retire_shoe(&mut self, id: Uuid) -> Result<(), StoreError> {
        let shoe = self.shoe(id)?.ok_or_else(|| StoreError::NotFound {
            what: "shoe",
            key: id.to_string(),
        })?;
        if shoe.retired {
            return Ok(());
        }
        self.write(|w| {
            super::sync_records::fold_pending(w.tx, collection::SHOES, &id.to_string())?;
            w.tx.execute(
                "UPDATE shoes SET retired = 1, is_default = 0 WHERE id = ?1",
                [id.to_string()],
            )?;
            // Only `retired` is logged: a retired shoe is never the default, and its choice as
            // the default stays the latest one, so no device falls back to an earlier choice
            // (which a `default` of false here would let them).
            w.log(
                collection::SHOES,
                &id.to_string(),
                ChangeOp::Put,
                &["retired"],
            )
        })
    }
}

fn clear_default(w: &mut super::Writer<'_, '_>) -> Result<(), StoreError> {
    let old: Option<String> =
        w.tx.query_row("SELECT id FROM shoes WHERE is_default = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(old) = old {
        w.tx.execute("UPDATE shoes SET is_default = 0 WHERE id = ?1", [&old])?;
        w.log(collection::SHOES, &old, ChangeOp::Put, &["default"])?;
    }
    Ok(())
}

fn validate_shoe(s: &Shoe) -> Result<(), StoreError> {
    if s.name.trim().is_empty() {
        return Err(StoreError::Invalid {
            field: "shoe name",
            reason: "the name is empty".into(),
        });
    }
    for (field, text) in [
        ("shoe name", Some(s.name.as_str())),
        ("brand", s.brand.as_deref()),
        ("model", s.model.as_deref()),
    ] {
        super::text_within(field, text, crate::ranges::NAME_MAX_CHARS)?;
    }
    non_negative("start distance", s.start_distance_m)?;
    non_negative("wear-check distance", s.wear_at_m)?;
    non_negative("replace distance", s.replace_at_m)?;
    if s.wear_at_m > s.replace_at_m {
        return Err(StoreError::Invalid {
            field: "wear-check distance",
            reason: "the wear check must come before the replacement distance".into(),
        });
    }
    Ok(())
}
