//! The timed searches: each kind makes a different request per repetition (tags drawn
//! from the whole vocabulary, or from its 50 most frequent tags, sorts rotating), run
//! through `Loupe::search` in process; one kind goes over HTTP. Prints p50 and p99.

use std::time::{Duration, Instant};

use loupe_core::auth::WorkspaceCtx;
use loupe_core::file_meta::SortOrder;
use loupe_core::ids::DatasetId;
use loupe_core::search::{SearchRequest, SearchSort};
use loupe_core::service::StatisticsRequest;
use loupe_tests::TestApp;
use serde_json::json;

use crate::data::{day_time, scene, tag_name, Rng, VOCABULARY};

/// Requests measured before the timed ones, per kind.
const WARM_UP: usize = 5;
/// Tags among the most frequent ones (the bare object names).
const FREQUENT: usize = 50;

/// A latency goal of the issue.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

const TAGS: Target = Target {
    p50_ms: Some(20.0),
    p99_ms: Some(100.0),
};
const DSL: Target = Target {
    p50_ms: Some(50.0),
    p99_ms: None,
};
const VECTOR: Target = Target {
    p50_ms: Some(100.0),
    p99_ms: None,
};
const REPORTED: Target = Target {
    p50_ms: None,
    p99_ms: None,
};

impl Target {
    fn describe(self) -> String {
        match (self.p50_ms, self.p99_ms) {
            (Some(a), Some(b)) => format!("p50 ≤ {a}, p99 ≤ {b}"),
            (Some(a), None) => format!("p50 ≤ {a}"),
            _ => "reported".to_string(),
        }
    }

    fn verdict(self, p50: f64, p99: f64) -> &'static str {
        let ok = self.p50_ms.is_none_or(|t| p50 <= t) && self.p99_ms.is_none_or(|t| p99 <= t);
        match (self.p50_ms, ok) {
            (None, _) => "",
            (_, true) => "met",
            (_, false) => "MISSED",
        }
    }
}

/// How a kind of search is sent.
pub enum Via {
    /// `Loupe::search` in process.
    Service,
    /// `POST …/datasetfilemetas/search`.
    Http,
    /// `Loupe::file_meta_statistics` in process, within the request's filter, counting
    /// the files per value of this aggregation (`MaxResults` 100).
    Statistics(&'static str),
}

/// One kind of search.
pub struct Kind {
    pub name: &'static str,
    pub target: Target,
    pub via: Via,
    /// Share of the base repetitions (slow kinds run fewer).
    pub reps_divisor: usize,
    pub make: fn(&mut Rng, usize) -> SearchRequest,
}

fn any_tag(rng: &mut Rng) -> String {
    tag_name(rng.below(VOCABULARY))
}

fn frequent_tag(rng: &mut Rng) -> String {
    tag_name(rng.below(FREQUENT))
}

fn base(i: usize) -> SearchRequest {
    let (sort, order) = match i % 3 {
        0 => (SearchSort::FileName, SortOrder::Asc),
        1 => (SearchSort::FileUpdateTime, SortOrder::Desc),
        _ => (SearchSort::FileCreateTime, SortOrder::Desc),
    };
    SearchRequest {
        dataset_version: "v1".into(),
        sort_by: Some(sort),
        order: Some(order),
        max_results: Some(100),
        ..SearchRequest::default()
    }
}

/// The searches on the 512-d index (tags, DSL, vector with a tag filter, HTTP).
pub fn filtered_kinds() -> Vec<Kind> {
    vec![
        Kind {
            name: "tags include-any, 2 tags",
            target: TAGS,
            via: Via::Service,
            reps_divisor: 1,
            make: |rng, i| SearchRequest {
                query_tags_include_any: vec![any_tag(rng), any_tag(rng)],
                ..base(i)
            },
        },
        Kind {
            name: "tags include-any, 2 frequent tags",
            target: TAGS,
            via: Via::Service,
            reps_divisor: 1,
            make: |rng, i| SearchRequest {
                query_tags_include_any: vec![frequent_tag(rng), frequent_tag(rng)],
                ..base(i)
            },
        },
        Kind {
            name: "tags include-all, frequent + any",
            target: TAGS,
            via: Via::Service,
            reps_divisor: 1,
            make: |rng, i| SearchRequest {
                query_tags_include_all: vec![frequent_tag(rng), any_tag(rng)],
                ..base(i)
            },
        },
        Kind {
            name: "tags include-all, 2 frequent tags",
            target: TAGS,
            via: Via::Service,
            reps_divisor: 1,
            make: |rng, i| SearchRequest {
                query_tags_include_all: vec![frequent_tag(rng), frequent_tag(rng)],
                ..base(i)
            },
        },
        Kind {
            name: "tags exclude, 1 tag",
            target: TAGS,
            via: Via::Service,
            reps_divisor: 1,
            make: |rng, i| SearchRequest {
                query_tags_exclude: vec![any_tag(rng)],
                ..base(i)
            },
        },
        Kind {
            name: "tags exclude, 1 frequent tag",
            target: TAGS,
            via: Via::Service,
            reps_divisor: 1,
            make: |rng, i| SearchRequest {
                query_tags_exclude: vec![frequent_tag(rng)],
                ..base(i)
            },
        },
        Kind {
            name: "DSL, 5 predicates",
            target: DSL,
            via: Via::Service,
            reps_divisor: 1,
            make: |rng, i| SearchRequest {
                query_expression: Some(format!(
                    r#"Tags.all="{}" AND FileDir:"{}" AND ImageWidth >= 1920 AND FileUpdateTime > "{}" AND NOT Tags.all="{}""#,
                    frequent_tag(rng),
                    scene(rng.below(12)),
                    day_time(rng.below(120)),
                    any_tag(rng)
                )),
                ..base(i)
            },
        },
        Kind {
            name: "vector top-100 + tag",
            target: VECTOR,
            via: Via::Service,
            reps_divisor: 2,
            make: |rng, _| SearchRequest {
                query_text: Some(any_tag(rng)),
                query_tags_include_any: vec![any_tag(rng)],
                top_k: Some(100),
                max_results: Some(100),
                dataset_version: "v1".into(),
                ..SearchRequest::default()
            },
        },
        Kind {
            name: "vector top-100 + frequent tag",
            target: VECTOR,
            via: Via::Service,
            reps_divisor: 2,
            make: |rng, _| SearchRequest {
                query_text: Some(any_tag(rng)),
                query_tags_include_any: vec![frequent_tag(rng)],
                top_k: Some(100),
                max_results: Some(100),
                dataset_version: "v1".into(),
                ..SearchRequest::default()
            },
        },
        Kind {
            name: "statistics: tags.all within a frequent tag",
            target: REPORTED,
            via: Via::Statistics("tags.all"),
            reps_divisor: 2,
            make: |rng, _| SearchRequest {
                query_tags_include_any: vec![frequent_tag(rng)],
                dataset_version: "v1".into(),
                ..SearchRequest::default()
            },
        },
        Kind {
            name: "statistics: filedir, DSL filter",
            target: REPORTED,
            via: Via::Statistics("filedir"),
            reps_divisor: 2,
            make: |rng, _| SearchRequest {
                query_expression: Some(format!(
                    r#"Tags.all="{}" AND ImageWidth >= 1920"#,
                    any_tag(rng)
                )),
                dataset_version: "v1".into(),
                ..SearchRequest::default()
            },
        },
        Kind {
            name: "HTTP: tags include-any, 2 tags",
            target: TAGS,
            via: Via::Http,
            reps_divisor: 2,
            make: |rng, i| SearchRequest {
                query_tags_include_any: vec![any_tag(rng), any_tag(rng)],
                ..base(i)
            },
        },
    ]
}

/// Text searches ranked by the local ConSE text encoder (384-d index).
pub fn text_kinds() -> Vec<Kind> {
    vec![
        Kind {
            name: "text (ConSE) top-100, no filter",
            target: REPORTED,
            via: Via::Service,
            reps_divisor: 4,
            make: |rng, _| SearchRequest {
                query_text: Some(format!("a {}", any_tag(rng))),
                top_k: Some(100),
                max_results: Some(100),
                dataset_version: "v1".into(),
                ..SearchRequest::default()
            },
        },
        Kind {
            name: "text (ConSE) top-100 + tag",
            target: REPORTED,
            via: Via::Service,
            reps_divisor: 4,
            make: |rng, _| SearchRequest {
                query_text: Some(format!("a {}", any_tag(rng))),
                query_tags_include_any: vec![any_tag(rng)],
                top_k: Some(100),
                max_results: Some(100),
                dataset_version: "v1".into(),
                ..SearchRequest::default()
            },
        },
    ]
}

/// What a kind measured.
pub struct Measured {
    pub p50: Duration,
    pub p99: Duration,
    pub median_hits: i64,
    pub reps: usize,
}

/// Runs a kind `reps` times (after a warm-up) with requests from a fixed seed.
pub async fn measure(
    app: &TestApp,
    ctx: &WorkspaceCtx,
    dataset: &DatasetId,
    kind: &Kind,
    reps: usize,
) -> Measured {
    let mut rng = Rng::new(0x5eed ^ kind.name.len() as u64);
    let mut times = Vec::with_capacity(reps);
    let mut hits = Vec::with_capacity(reps);
    for i in 0..WARM_UP + reps {
        let request = (kind.make)(&mut rng, i);
        let started = Instant::now();
        let total = match kind.via {
            Via::Service => {
                app.loupe
                    .search(ctx, dataset, &request)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {}", kind.name, e.message()))
                    .total_count
            }
            Via::Http => http_search(app, dataset, &request).await,
            Via::Statistics(by) => {
                let statistics = StatisticsRequest {
                    search: &request,
                    aggregate_by: Some(by),
                    max_results: Some(100),
                };
                app.loupe
                    .file_meta_statistics(ctx, dataset, &statistics)
                    .await
                    .unwrap_or_else(|e| panic!("{}: {}", kind.name, e.message()))
                    .total_count
            }
        };
        if i >= WARM_UP {
            times.push(started.elapsed());
            hits.push(total);
        }
    }
    times.sort_unstable();
    hits.sort_unstable();
    Measured {
        p50: times[times.len() / 2],
        p99: times[(times.len() * 99 / 100).min(times.len() - 1)],
        median_hits: hits[hits.len() / 2],
        reps,
    }
}

/// The request as `POST …/search` sends it (the fields the kinds use).
async fn http_search(app: &TestApp, dataset: &DatasetId, r: &SearchRequest) -> i64 {
    let sort = match r.sort_by {
        Some(SearchSort::FileUpdateTime) => "FileUpdateTime",
        Some(SearchSort::FileCreateTime) => "FileCreateTime",
        _ => "FileName",
    };
    let order = match r.order {
        Some(SortOrder::Desc) => "DESC",
        _ => "ASC",
    };
    let body = json!({
        "DatasetVersion": r.dataset_version,
        "QueryTagsIncludeAny": r.query_tags_include_any,
        "QueryTagsIncludeAll": r.query_tags_include_all,
        "QueryTagsExclude": r.query_tags_exclude,
        "SortBy": sort,
        "Order": order,
        "MaxResults": r.max_results,
    });
    let path = format!("/api/v1/datasets/{dataset}/datasetfilemetas/search");
    let reply = app.post(&path, &app.owner_key, body).await.ok();
    reply["TotalCount"].as_i64().expect("TotalCount")
}

/// One line of the table.
pub fn row(engine: &str, kind: &Kind, m: &Measured) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p99) = (ms(m.p50), ms(m.p99));
    format!(
        "{engine}\t{}\t{}\t{p50:.1}\t{p99:.1}\t{}\t{}\t{}",
        kind.name,
        m.reps,
        kind.target.describe(),
        kind.target.verdict(p50, p99),
        m.median_hits
    )
}

/// The table's header.
pub const HEADER: &str = "engine\tsearch\treps\tp50 ms\tp99 ms\ttarget\t\tmedian TotalCount";
