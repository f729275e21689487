//! One dataset version held in memory, columnar, with a bitmap of files for every tag:
//! it answers a filter, its count and a sorted page in milliseconds on a million files,
//! where SQL must count and sort large tag sets row by row.
//!
//! - Files are numbered by id (byte order); every predicate becomes a bitmap of those
//!   numbers, so `AND`, `OR` and `NOT` are bitmap operations and a count is a length.
//! - The semantics are the evaluator's ([`Expr::matches`]): the same value tests are
//!   called, and the property tests compare the two on random versions.
//! - The three sort orders are the database's own (ranks it computed with its
//!   collation), so a page read here and the next page read through SQL agree.
//! - It holds no URIs: a filter on `Uri` is answered by SQL ([`MemoryIndex::evaluate`]
//!   says `None`).

use std::collections::HashMap;

use roaring::RoaringBitmap;

use super::ast::{Expr, Field, NumberField, Predicate, TagGroup, TextField, TimeField};
use super::eval::{number_matches, text_matches, SearchableFile};
use crate::file_meta::SortOrder;
use crate::file_tags::AggregateBy;
use crate::page::Cursor;
use crate::search::SearchSort;

/// One file as the index loads it.
#[derive(Debug, Clone, Default)]
pub struct IndexedFile {
    /// The file id.
    pub file_id: String,
    /// What filters see of it; its `uri` and tag lists are not read (tags come through
    /// [`MemoryIndexBuilder::tag`]).
    pub file: SearchableFile,
    /// Position (from 0) in the database's order by name, then id.
    pub name_rank: u32,
    /// Position in the order by update time, then id.
    pub update_rank: u32,
    /// Position in the order by creation time, then id.
    pub create_rank: u32,
}

/// Why rows could not become an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

/// Strings stored end to end, with the offset where each starts.
#[derive(Default)]
struct Strings {
    text: String,
    starts: Vec<u32>,
}

impl Strings {
    fn push(&mut self, s: &str) -> Result<(), BuildError> {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        self.text.push_str(s);
        let end = u32::try_from(self.text.len())
            .map_err(|_| BuildError("more than 4 GiB of strings".into()))?;
        self.starts.push(end);
        Ok(())
    }

    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        &self.text[self.starts[i] as usize..self.starts[i + 1] as usize]
    }
}

/// A column of few distinct strings: each file's code, and the code's string.
#[derive(Default)]
struct Dict {
    values: Vec<String>,
    codes: Vec<u32>,
    lookup: HashMap<String, u32>,
}

/// The code of an absent value in a [`Dict`].
const ABSENT: u32 = u32::MAX;

impl Dict {
    fn push(&mut self, value: Option<&str>) {
        let code = match value {
            None => ABSENT,
            Some(v) => match self.lookup.get(v) {
                Some(code) => *code,
                None => {
                    let code = self.values.len() as u32;
                    self.values.push(v.to_string());
                    self.lookup.insert(v.to_string(), code);
                    code
                }
            },
        };
        self.codes.push(code);
    }
}

/// A numeric column whose values may be absent.
struct Numbers {
    values: Vec<i64>,
    present: RoaringBitmap,
}

/// One sort order: the files in it, and each file's place.
struct Order {
    files: Vec<u32>,
    place: Vec<u32>,
}

impl Order {
    fn new(ranks: Vec<u32>) -> Result<Self, BuildError> {
        let mut files = vec![u32::MAX; ranks.len()];
        for (file, rank) in ranks.iter().enumerate() {
            let slot = files
                .get_mut(*rank as usize)
                .filter(|slot| **slot == u32::MAX)
                .ok_or_else(|| BuildError(format!("rank {rank} is out of range or repeated")))?;
            *slot = file as u32;
        }
        Ok(Self {
            files,
            place: ranks,
        })
    }
}

fn group_slot(group: TagGroup) -> usize {
    match group {
        TagGroup::Ai => 0,
        TagGroup::User => 1,
        TagGroup::UserDeleteAiTags => 2,
        TagGroup::All => 3,
    }
}

/// Collects a version's files, then their tags, then becomes a [`MemoryIndex`]. Tags are
/// filed under their file's number as they come, so ten million of them never wait as
/// strings.
#[derive(Default)]
pub struct MemoryIndexBuilder {
    files: Vec<IndexedFile>,
    /// File id → number, made when the first tag comes (the files sorted by id).
    ordinals: Option<HashMap<String, u32>>,
    members: [HashMap<String, Vec<u32>>; 3],
    error: Option<BuildError>,
}

impl MemoryIndexBuilder {
    /// Adds one file; every file comes before the first tag.
    pub fn file(&mut self, file: IndexedFile) {
        match self.ordinals {
            Some(_) => self.fail("a file came after the tags"),
            None => self.files.push(file),
        }
    }

    /// Adds one stored tag (`ai`, `user` or `user-delete-ai-tags`) of a file.
    pub fn tag(&mut self, file_id: &str, group: TagGroup, tag: String) {
        self.tagged(group, tag, [file_id]);
    }

    /// Adds one stored tag of several files.
    pub fn tagged<'a>(
        &mut self,
        group: TagGroup,
        tag: String,
        file_ids: impl IntoIterator<Item = &'a str>,
    ) {
        if group == TagGroup::All {
            return self.fail("the all group is never stored");
        }
        let files = &mut self.files;
        let ordinals = self.ordinals.get_or_insert_with(|| {
            files.sort_unstable_by(|a, b| a.file_id.cmp(&b.file_id));
            files
                .iter()
                .enumerate()
                .map(|(n, f)| (f.file_id.clone(), n as u32))
                .collect()
        });
        let members = self.members[group_slot(group)].entry(tag).or_default();
        for file_id in file_ids {
            match ordinals.get(file_id) {
                Some(n) => members.push(*n),
                None => {
                    let why = format!("a tag names file {file_id}, not loaded");
                    self.error.get_or_insert(BuildError(why));
                    return;
                }
            }
        }
    }

    fn fail(&mut self, why: &str) {
        self.error
            .get_or_insert_with(|| BuildError(why.to_string()));
    }

    /// The index. Fails when the ranks are not an order of the files, an id is repeated,
    /// a tag names a file that is not there, or a group is `all` (computed, never stored).
    pub fn build(mut self) -> Result<MemoryIndex, BuildError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.ordinals.is_none() {
            self.files
                .sort_unstable_by(|a, b| a.file_id.cmp(&b.file_id));
        }
        drop(self.ordinals);
        if self.files.windows(2).any(|w| w[0].file_id == w[1].file_id) {
            return Err(BuildError("a file id is repeated".into()));
        }
        if u32::try_from(self.files.len()).is_err() {
            return Err(BuildError("more than 2^32 files".into()));
        }
        let count = self.files.len();
        let mut index = MemoryIndex {
            ids: Strings::default(),
            names: Strings::default(),
            dirs: Dict::default(),
            file_types: Dict::default(),
            content_types: Dict::default(),
            job_ids: Dict::default(),
            sizes: Vec::with_capacity(count),
            created: Vec::with_capacity(count),
            updated: Vec::with_capacity(count),
            widths: numbers(&self.files, |f| f.width),
            heights: numbers(&self.files, |f| f.height),
            tag_times: numbers(&self.files, |f| f.tag_update_time),
            index_times: numbers(&self.files, |f| f.semantic_index_update_time),
            by_name: Order::new(self.files.iter().map(|f| f.name_rank).collect())?,
            by_update: Order::new(self.files.iter().map(|f| f.update_rank).collect())?,
            by_create: Order::new(self.files.iter().map(|f| f.create_rank).collect())?,
            tags: Default::default(),
            any_tag: Default::default(),
            everything: RoaringBitmap::from_sorted_iter(0..count as u32).expect("sorted"),
        };
        for indexed in &self.files {
            let file = &indexed.file;
            index.ids.push(&indexed.file_id)?;
            index.names.push(&file.name)?;
            index.dirs.push(Some(&file.dir));
            index.file_types.push(Some(&file.file_type));
            index.content_types.push(Some(&file.content_type));
            index.job_ids.push(file.semantic_index_job_id.as_deref());
            index.sizes.push(file.size);
            index.created.push(file.created_at);
            index.updated.push(file.updated_at);
        }
        for (slot, group) in self.members.into_iter().enumerate() {
            for (tag, mut files) in group {
                files.sort_unstable();
                files.dedup();
                let bitmap = RoaringBitmap::from_sorted_iter(files).expect("sorted");
                index.any_tag[slot] |= &bitmap;
                index.tags[slot].insert(tag, bitmap);
            }
        }
        // all = (ai − user-delete-ai-tags) ∪ user, tag by tag.
        let [ai, user, rejected, _] = &index.tags;
        let mut all: HashMap<String, RoaringBitmap> = HashMap::new();
        for (tag, files) in ai {
            let kept = match rejected.get(tag) {
                Some(gone) => files - gone,
                None => files.clone(),
            };
            if !kept.is_empty() {
                all.insert(tag.clone(), kept);
            }
        }
        for (tag, files) in user {
            *all.entry(tag.clone()).or_default() |= files;
        }
        let slot = group_slot(TagGroup::All);
        index.any_tag[slot] = all.values().fold(RoaringBitmap::new(), |acc, b| acc | b);
        index.tags[slot] = all;
        Ok(index)
    }
}

fn numbers(files: &[IndexedFile], value: impl Fn(&SearchableFile) -> Option<i64>) -> Numbers {
    let mut present = RoaringBitmap::new();
    let values = files
        .iter()
        .enumerate()
        .map(|(n, f)| match value(&f.file) {
            Some(v) => {
                present.insert(n as u32);
                v
            }
            None => 0,
        })
        .collect();
    Numbers { values, present }
}

/// The in-memory index of one version.
pub struct MemoryIndex {
    ids: Strings,
    names: Strings,
    dirs: Dict,
    file_types: Dict,
    content_types: Dict,
    job_ids: Dict,
    sizes: Vec<i64>,
    created: Vec<i64>,
    updated: Vec<i64>,
    widths: Numbers,
    heights: Numbers,
    tag_times: Numbers,
    index_times: Numbers,
    by_name: Order,
    by_update: Order,
    by_create: Order,
    tags: [HashMap<String, RoaringBitmap>; 4],
    any_tag: [RoaringBitmap; 4],
    everything: RoaringBitmap,
}

/// The files whose position passes `test`.
fn select(len: usize, test: impl Fn(usize) -> bool) -> RoaringBitmap {
    RoaringBitmap::from_sorted_iter((0..len).filter(|n| test(*n)).map(|n| n as u32))
        .expect("ascending")
}

impl MemoryIndex {
    /// Files in the version.
    pub fn len(&self) -> u64 {
        self.everything.len()
    }

    /// Whether the version has no files.
    pub fn is_empty(&self) -> bool {
        self.everything.is_empty()
    }

    /// About how many bytes of memory the index holds.
    pub fn approximate_bytes(&self) -> u64 {
        let strings = |s: &Strings| s.text.len() + 4 * s.starts.len();
        let dict =
            |d: &Dict| 4 * d.codes.len() + 2 * d.values.iter().map(String::len).sum::<usize>();
        let numbers = |n: &Numbers| 8 * n.values.len() + n.present.serialized_size();
        let bitmaps: usize = self
            .tags
            .iter()
            .flat_map(|group| group.iter())
            .map(|(tag, files)| tag.len() + 48 + files.serialized_size())
            .sum();
        let total = strings(&self.ids)
            + strings(&self.names)
            + [
                &self.dirs,
                &self.file_types,
                &self.content_types,
                &self.job_ids,
            ]
            .into_iter()
            .map(dict)
            .sum::<usize>()
            + 8 * (self.sizes.len() + self.created.len() + self.updated.len())
            + [
                &self.widths,
                &self.heights,
                &self.tag_times,
                &self.index_times,
            ]
            .into_iter()
            .map(numbers)
            .sum::<usize>()
            + 3 * 8 * self.sizes.len()
            + bitmaps;
        total as u64
    }

    /// Every file.
    pub fn everything(&self) -> &RoaringBitmap {
        &self.everything
    }

    /// The id of file number `n`.
    pub fn file_id(&self, n: u32) -> &str {
        self.ids.get(n)
    }

    /// The number of the file with this id.
    pub fn ordinal(&self, file_id: &str) -> Option<u32> {
        let count = self.ids.starts.len().saturating_sub(1);
        let (mut lo, mut hi) = (0, count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.ids.get(mid as u32).cmp(file_id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// The files that pass `filter`, or `None` when it names a field the index does not
    /// hold (`Uri`).
    pub fn evaluate(&self, filter: &Expr) -> Option<RoaringBitmap> {
        Some(match filter {
            Expr::And(items) => {
                let mut sets = items
                    .iter()
                    .map(|e| self.evaluate(e))
                    .collect::<Option<Vec<_>>>()?;
                // Smallest first, so every intersection is at most that small.
                sets.sort_by_key(RoaringBitmap::len);
                let mut sets = sets.into_iter();
                let first = sets.next().unwrap_or_else(|| self.everything.clone());
                sets.fold(first, |acc, s| acc & s)
            }
            Expr::Or(items) => items
                .iter()
                .try_fold(RoaringBitmap::new(), |acc, e| Some(acc | self.evaluate(e)?))?,
            Expr::Not(inner) => &self.everything - self.evaluate(inner)?,
            Expr::Pred(predicate) => self.predicate(predicate)?,
        })
    }

    fn predicate(&self, predicate: &Predicate) -> Option<RoaringBitmap> {
        let count = self.sizes.len();
        Some(match predicate {
            Predicate::Has(field) => match field {
                Field::Tags(group) => self.any_tag[group_slot(*group)].clone(),
                Field::Text(TextField::Uri) => return None,
                Field::Text(TextField::SemanticIndexJobId) => {
                    select(count, |n| self.job_ids.codes[n] != ABSENT)
                }
                Field::Text(_) => self.everything.clone(),
                Field::Number(f) => match self.nullable_number(*f) {
                    Some(column) => column.present.clone(),
                    None => self.everything.clone(),
                },
                Field::Time(f) => match self.nullable_time(*f) {
                    Some(column) => column.present.clone(),
                    None => self.everything.clone(),
                },
            },
            Predicate::Text { field, op, value } => {
                let dict = match field {
                    TextField::Uri => return None,
                    TextField::FileName => {
                        return Some(select(count, |n| {
                            text_matches(*op, self.names.get(n as u32), value)
                        }))
                    }
                    TextField::FileDir => &self.dirs,
                    TextField::FileType => &self.file_types,
                    TextField::ContentType => &self.content_types,
                    TextField::SemanticIndexJobId => &self.job_ids,
                };
                let hits: Vec<bool> = dict
                    .values
                    .iter()
                    .map(|v| text_matches(*op, v, value))
                    .collect();
                select(count, |n| {
                    let code = dict.codes[n];
                    code != ABSENT && hits[code as usize]
                })
            }
            Predicate::Tag { group, op, value } => {
                let tags = &self.tags[group_slot(*group)];
                match op {
                    super::ast::TextOp::Exact => tags.get(value).cloned().unwrap_or_default(),
                    super::ast::TextOp::Contains => tags
                        .iter()
                        .filter(|(tag, _)| text_matches(*op, tag, value))
                        .fold(RoaringBitmap::new(), |acc, (_, files)| acc | files),
                }
            }
            Predicate::Number { field, op, value } => match self.nullable_number(*field) {
                Some(column) => select(count, |n| {
                    column.present.contains(n as u32)
                        && number_matches(*op, column.values[n], *value)
                }),
                None => select(count, |n| number_matches(*op, self.sizes[n], *value)),
            },
            Predicate::Time { field, op, value } => {
                let at = value.millis();
                match field {
                    TimeField::FileCreateTime => select(count, |n| op.holds(&self.created[n], &at)),
                    TimeField::FileUpdateTime => select(count, |n| op.holds(&self.updated[n], &at)),
                    _ => {
                        let column = self.nullable_time(*field).expect("a nullable time");
                        select(count, |n| {
                            column.present.contains(n as u32) && op.holds(&column.values[n], &at)
                        })
                    }
                }
            }
        })
    }

    fn nullable_number(&self, field: NumberField) -> Option<&Numbers> {
        match field {
            NumberField::DataSize => None,
            NumberField::ImageWidth => Some(&self.widths),
            NumberField::ImageHeight => Some(&self.heights),
        }
    }

    fn nullable_time(&self, field: TimeField) -> Option<&Numbers> {
        match field {
            TimeField::FileCreateTime | TimeField::FileUpdateTime => None,
            TimeField::TagUpdateTime => Some(&self.tag_times),
            TimeField::SemanticIndexUpdateTime => Some(&self.index_times),
        }
    }

    fn order(&self, sort: SearchSort) -> &Order {
        match sort {
            SearchSort::FileName => &self.by_name,
            SearchSort::FileUpdateTime => &self.by_update,
            SearchSort::FileCreateTime => &self.by_create,
        }
    }

    /// The place in `sort` order right after which a page continues, or `None` when the
    /// cursor does not point at a file of this index with the key it had (the version
    /// changed since): then SQL must read the page.
    fn place_after(&self, sort: SearchSort, cursor: &Cursor) -> Option<u32> {
        let n = self.ordinal(&cursor.id)?;
        let same = match sort {
            SearchSort::FileName => cursor.text.as_deref() == Some(self.names.get(n)),
            SearchSort::FileUpdateTime => cursor.key == self.updated[n as usize],
            SearchSort::FileCreateTime => cursor.key == self.created[n as usize],
        };
        same.then(|| self.order(sort).place[n as usize])
    }

    /// Up to `limit` files of `matches` in `sort` order after `after`, or `None` when
    /// the cursor is not one this index can continue (see [`Self::place_after`]).
    pub fn page(
        &self,
        matches: &RoaringBitmap,
        sort: SearchSort,
        order: SortOrder,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Option<Vec<u32>> {
        let sorted = self.order(sort);
        let start = match after {
            Some(cursor) => Some(self.place_after(sort, cursor)?),
            None => None,
        };
        // The places a page may take: after the cursor's, in the page's direction.
        let (from, to) = match (order, start) {
            (SortOrder::Asc, Some(p)) => (p as usize + 1, sorted.files.len()),
            (SortOrder::Desc, Some(p)) => (0, p as usize),
            (_, None) => (0, sorted.files.len()),
        };
        let count = matches.len() as usize;
        if limit == 0 || count == 0 || from >= to {
            return Some(Vec::new());
        }
        // Walking the order and probing the bitmap takes about `limit × files / count`
        // probes when the matches are spread out; collecting the matches and picking the
        // first `limit` takes `count` steps. The walk stops at that cost either way.
        let expected_walk = limit.saturating_mul(sorted.files.len()) / count;
        if expected_walk < count {
            let budget = 2 * count;
            let range = &sorted.files[from..to];
            let walk: Box<dyn Iterator<Item = &u32>> = match order {
                SortOrder::Asc => Box::new(range.iter()),
                SortOrder::Desc => Box::new(range.iter().rev()),
            };
            let mut found = Vec::with_capacity(limit);
            for file in walk.take(budget) {
                if matches.contains(*file) {
                    found.push(*file);
                    if found.len() == limit {
                        break;
                    }
                }
            }
            if found.len() == limit || range.len() <= budget {
                return Some(found);
            }
        }
        let mut places: Vec<u32> = matches
            .iter()
            .map(|file| sorted.place[file as usize])
            .filter(|place| (from..to).contains(&(*place as usize)))
            .collect();
        let key = |p: &u32| match order {
            SortOrder::Asc => *p as i64,
            SortOrder::Desc => -(*p as i64),
        };
        if places.len() > limit {
            places.select_nth_unstable_by_key(limit - 1, key);
            places.truncate(limit);
        }
        places.sort_unstable_by_key(key);
        Some(places.iter().map(|p| sorted.files[*p as usize]).collect())
    }

    /// How many of `matches` each folder, type, or tag of a group holds, in no order;
    /// keys that hold none are left out. A file counts once per tag (`all` included).
    pub fn buckets(&self, matches: &RoaringBitmap, by: AggregateBy) -> Vec<(String, u64)> {
        let per_value = |dict: &Dict| {
            let mut counts = vec![0_u64; dict.values.len()];
            for n in matches {
                if let Some(count) = counts.get_mut(dict.codes[n as usize] as usize) {
                    *count += 1;
                }
            }
            dict.values
                .iter()
                .cloned()
                .zip(counts)
                .filter(|(_, count)| *count > 0)
                .collect()
        };
        match by {
            AggregateBy::FileDir => per_value(&self.dirs),
            AggregateBy::FileType => per_value(&self.file_types),
            AggregateBy::Tags(group) => self.tags[group_slot(group)]
                .iter()
                .map(|(tag, files)| (tag.clone(), files.intersection_len(matches)))
                .filter(|(_, count)| *count > 0)
                .collect(),
        }
    }

    /// Up to `limit` ids of `matches`, only among `within` when given.
    pub fn file_ids(
        &self,
        matches: &RoaringBitmap,
        within: Option<&[String]>,
        limit: usize,
    ) -> Vec<String> {
        let within: Option<RoaringBitmap> =
            within.map(|ids| ids.iter().filter_map(|id| self.ordinal(id)).collect());
        let chosen = match within {
            Some(within) => within & matches,
            None => matches.clone(),
        };
        chosen
            .iter()
            .take(limit)
            .map(|n| self.file_id(n).to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests;
