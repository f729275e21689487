//! The index agrees with the evaluator on random versions and filters, and its pages,
//! read with cursors to the end in every order, are the sorted matches. The store's
//! property tests repeat this on indexes loaded from PostgreSQL and SQLite.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::*;
use crate::query::{parse, SearchableFile};

const WORDS: &[&str] = &["cat", "Cat", "dog", "a_b", "50%", "É", "lane line", "x"];

fn random_file(rng: &mut StdRng, n: usize) -> (IndexedFile, SearchableFile) {
    let pick = |rng: &mut StdRng| WORDS.choose(rng).unwrap().to_string();
    let tags = |rng: &mut StdRng| -> Vec<String> {
        let mut t: Vec<String> = (0..rng.gen_range(0..3)).map(|_| pick(rng)).collect();
        t.sort();
        t.dedup();
        t
    };
    let maybe = |rng: &mut StdRng| rng.gen_bool(0.7).then(|| rng.gen_range(0..4));
    let searchable = SearchableFile {
        name: format!("{}{}", pick(rng), rng.gen_range(0..3)),
        dir: pick(rng),
        uri: String::new(),
        size: rng.gen_range(0..5),
        file_type: "image".into(),
        content_type: pick(rng),
        created_at: rng.gen_range(0..4),
        updated_at: rng.gen_range(0..4),
        width: maybe(rng),
        height: maybe(rng),
        semantic_index_job_id: rng.gen_bool(0.5).then(|| pick(rng)),
        semantic_index_update_time: maybe(rng),
        tag_update_time: maybe(rng),
        tags_ai: tags(rng),
        tags_user: tags(rng),
        tags_user_delete_ai_tags: tags(rng),
    };
    let indexed = IndexedFile {
        file_id: format!("f{n:03}"),
        file: searchable.clone(),
        ..IndexedFile::default()
    };
    (indexed, searchable)
}

/// A version of `count` random files, its index (ranks in byte order, as SQLite sorts),
/// and what the evaluator sees of each file, by id.
fn version(rng: &mut StdRng, count: usize) -> (MemoryIndex, Vec<(String, SearchableFile)>) {
    let mut files: Vec<(IndexedFile, SearchableFile)> =
        (0..count).map(|n| random_file(rng, n)).collect();
    files.shuffle(rng);
    let rank = |files: &mut Vec<(IndexedFile, SearchableFile)>,
                key: fn(&IndexedFile) -> (String, i64),
                set: fn(&mut IndexedFile, u32)| {
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by_key(|i| (key(&files[*i].0), files[*i].0.file_id.clone()));
        for (place, i) in order.into_iter().enumerate() {
            set(&mut files[i].0, place as u32);
        }
    };
    rank(
        &mut files,
        |f| (f.file.name.clone(), 0),
        |f, r| f.name_rank = r,
    );
    rank(
        &mut files,
        |f| (String::new(), f.file.updated_at),
        |f, r| f.update_rank = r,
    );
    rank(
        &mut files,
        |f| (String::new(), f.file.created_at),
        |f, r| f.create_rank = r,
    );
    let mut builder = MemoryIndexBuilder::default();
    for (indexed, _) in &files {
        builder.file(indexed.clone());
    }
    for (indexed, searchable) in &files {
        for (group, tags) in [
            (TagGroup::Ai, &searchable.tags_ai),
            (TagGroup::User, &searchable.tags_user),
            (
                TagGroup::UserDeleteAiTags,
                &searchable.tags_user_delete_ai_tags,
            ),
        ] {
            for tag in tags {
                builder.tag(&indexed.file_id, group, tag.clone());
            }
        }
    }
    let index = builder.build().expect("an index");
    let files = files.into_iter().map(|(i, s)| (i.file_id, s)).collect();
    (index, files)
}

fn random_clause(rng: &mut StdRng) -> String {
    let word = *WORDS.choose(rng).unwrap();
    let op = ["=", ":"].choose(rng).unwrap();
    let cmp = ["=", ">", ">=", "<", "<="].choose(rng).unwrap();
    let n = rng.gen_range(0..4);
    match rng.gen_range(0..9) {
        0 => format!("FileName{op}\"{word}\""),
        1 => format!("FileDir{op}\"{word}\""),
        2 => format!("ContentType{op}\"{word}\""),
        3 => format!("SemanticIndexJobId{op}\"{word}\""),
        4 => format!(
            "Tags.{}{op}\"{word}\"",
            ["ai", "user", "user-delete-ai-tags", "all"]
                .choose(rng)
                .unwrap()
        ),
        5 => format!(
            "{} {cmp} {n}",
            ["ImageWidth", "ImageHeight", "DataSize"]
                .choose(rng)
                .unwrap()
        ),
        6 => format!(
            "{} {cmp} \"1970-01-01T00:00:00.00{n}Z\"",
            [
                "FileUpdateTime",
                "FileCreateTime",
                "TagUpdateTime",
                "SemanticIndexUpdateTime"
            ]
            .choose(rng)
            .unwrap()
        ),
        7 => format!(
            "HAS {}",
            [
                "ImageWidth",
                "SemanticIndexJobId",
                "Tags.all",
                "Tags.ai",
                "FileName"
            ]
            .choose(rng)
            .unwrap()
        ),
        _ => format!("DataSize > {}.5", n),
    }
}

fn random_expression(rng: &mut StdRng, depth: usize) -> String {
    match (depth, rng.gen_range(0..4)) {
        (0, _) | (_, 0) => random_clause(rng),
        (_, 1) => format!("NOT ({})", random_expression(rng, depth - 1)),
        (_, k) => {
            let keyword = if k == 2 { " AND " } else { " OR " };
            let operands: Vec<String> = (0..rng.gen_range(2..4))
                .map(|_| format!("({})", random_expression(rng, depth - 1)))
                .collect();
            operands.join(keyword)
        }
    }
}

fn ids(index: &MemoryIndex, files: &RoaringBitmap) -> Vec<String> {
    files.iter().map(|n| index.file_id(n).to_string()).collect()
}

#[test]
fn filters_select_what_the_evaluator_selects() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut splits = 0;
    for _ in 0..20 {
        let (index, files) = version(&mut rng, 40);
        for _ in 0..100 {
            let expression = random_expression(&mut rng, 3);
            let filter = parse(&expression).unwrap().filter.unwrap();
            let expected = filter.select(&files);
            let selected = index.evaluate(&filter).expect("no Uri");
            assert_eq!(ids(&index, &selected), expected, "{expression}");
            splits += usize::from(!expected.is_empty() && expected.len() < files.len());
        }
    }
    assert!(splits > 800, "{splits} of 2000 filters split the files");
}

#[test]
fn a_filter_on_uris_is_left_to_sql() {
    let (index, _) = version(&mut StdRng::seed_from_u64(1), 5);
    for expression in [r#"Uri:"s3""#, r#"Tags.all="cat" OR NOT HAS Uri"#] {
        let filter = parse(expression).unwrap().filter.unwrap();
        assert!(index.evaluate(&filter).is_none(), "{expression}");
    }
}

/// Reads every page of `matches` with cursors, as the store hands them out.
fn all_pages(
    index: &MemoryIndex,
    matches: &RoaringBitmap,
    sort: SearchSort,
    order: SortOrder,
    limit: usize,
) -> Vec<u32> {
    let (mut read, mut cursor) = (Vec::new(), None::<Cursor>);
    loop {
        let page = index
            .page(matches, sort, order, cursor.as_ref(), limit)
            .expect("the cursor is the index's own");
        read.extend(&page);
        let Some(last) = page.last().filter(|_| page.len() == limit) else {
            return read;
        };
        let n = *last as usize;
        let mut next = Cursor::new("files", 0, index.file_id(*last));
        match sort {
            SearchSort::FileName => next.text = Some(index.names.get(*last).to_string()),
            SearchSort::FileUpdateTime => next.key = index.updated[n],
            SearchSort::FileCreateTime => next.key = index.created[n],
        }
        cursor = Some(next);
    }
}

#[test]
fn pages_in_every_order_are_the_sorted_matches() {
    let mut rng = StdRng::seed_from_u64(11);
    let (index, _) = version(&mut rng, 300);
    // From every match (the walk) to a handful (collecting them) and none.
    for expression in [
        "HAS FileName",
        "NOT FileName=\"cat0\"",
        r#"Tags.ai="cat""#,
        r#"Tags.ai="cat" AND Tags.user="dog" AND DataSize = 1"#,
        r#"FileName="nothing""#,
    ] {
        let matches = index
            .evaluate(&parse(expression).unwrap().filter.unwrap())
            .unwrap();
        for sort in [
            SearchSort::FileName,
            SearchSort::FileUpdateTime,
            SearchSort::FileCreateTime,
        ] {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                let mut expected: Vec<u32> = matches.iter().collect();
                expected.sort_by_key(|n| index.order(sort).place[*n as usize]);
                if order == SortOrder::Desc {
                    expected.reverse();
                }
                for limit in [1, 7, 1000] {
                    let read = all_pages(&index, &matches, sort, order, limit);
                    assert_eq!(read, expected, "{expression} {sort:?} {order:?} {limit}");
                }
            }
        }
    }
}

#[test]
fn a_cursor_the_index_does_not_hold_is_left_to_sql() {
    let (index, _) = version(&mut StdRng::seed_from_u64(3), 10);
    let all = index.everything().clone();
    let gone = Cursor::new("files", 0, "no-such-file");
    assert!(index
        .page(
            &all,
            SearchSort::FileUpdateTime,
            SortOrder::Asc,
            Some(&gone),
            5
        )
        .is_none());
    // A file that is there, but whose key moved since the cursor was made.
    let moved = Cursor::new("files", 99, index.file_id(0));
    assert!(index
        .page(
            &all,
            SearchSort::FileUpdateTime,
            SortOrder::Asc,
            Some(&moved),
            5
        )
        .is_none());
}

#[test]
fn candidate_ids_come_from_the_matches_within_the_given_ids() {
    let (index, _) = version(&mut StdRng::seed_from_u64(5), 20);
    let all = index.everything().clone();
    let within = vec![
        index.file_id(3).to_string(),
        "absent".to_string(),
        index.file_id(1).to_string(),
        index.file_id(3).to_string(),
    ];
    let found = index.file_ids(&all, Some(&within), 10);
    assert_eq!(found, vec![index.file_id(1), index.file_id(3)]);
    assert_eq!(index.file_ids(&all, None, 4).len(), 4);
}

#[test]
fn ranks_that_are_not_an_order_are_refused() {
    let mut builder = MemoryIndexBuilder::default();
    for id in ["a", "b"] {
        builder.file(IndexedFile {
            file_id: id.into(),
            ..IndexedFile::default()
        });
    }
    assert!(builder.build().is_err(), "both files at place 0");
}

#[test]
fn tags_of_unknown_files_and_files_after_tags_are_refused() {
    let file = |id: &str| IndexedFile {
        file_id: id.into(),
        ..IndexedFile::default()
    };
    let mut builder = MemoryIndexBuilder::default();
    builder.file(file("a"));
    builder.tag("b", TagGroup::Ai, "cat".into());
    assert!(builder.build().is_err(), "a tag of a file not loaded");
    let mut builder = MemoryIndexBuilder::default();
    builder.file(file("a"));
    builder.tag("a", TagGroup::Ai, "cat".into());
    builder.file(file("b"));
    assert!(builder.build().is_err(), "a file after the tags");
    let mut builder = MemoryIndexBuilder::default();
    builder.file(file("a"));
    builder.tag("a", TagGroup::Ai, "cat".into());
    assert_eq!(builder.build().unwrap().len(), 1);
}
