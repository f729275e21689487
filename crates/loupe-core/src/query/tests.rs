//! Parser tests: PAI's example, precedence, case, escapes, every error with its
//! position, the placement of `Content` and options, the limits, and random input.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::time::Timestamp;
use crate::ErrorCode;

/// PAI's published example, verbatim from the SDK (JSON escaping removed).
const PAI_EXAMPLE: &str = r#"(FileUpdateTime > "2025-02-28T00:00:00Z" AND FileUpdateTime < "2025-05-30T09:27:29Z") AND FileDir:"blue_car" AND NOT FileName="toyota.jpg" AND (( Tags.all="lane line" AND Tags.all="barrier gate") OR NOT Tags.user="rainy days" ) AND HAS SemanticIndexJobId AND Content:"a fallen water horse" AND TopK=100 AND SignMode="PUBLIC""#;

fn filter(expression: &str) -> Expr {
    parse(expression)
        .unwrap_or_else(|e| panic!("{expression}: {}", e.message()))
        .filter
        .expect("a filter")
}

fn error(expression: &str) -> String {
    let err = parse(expression).expect_err(expression);
    assert_eq!(err.code(), ErrorCode::InvalidQueryExpression);
    err.message().to_string()
}

fn text(field: TextField, op: TextOp, value: &str) -> Expr {
    Expr::Pred(Predicate::Text {
        field,
        op,
        value: value.into(),
    })
}

fn tag(group: TagGroup, value: &str) -> Expr {
    Expr::Pred(Predicate::Tag {
        group,
        op: TextOp::Exact,
        value: value.into(),
    })
}

fn time(field: TimeField, op: RangeOp, iso: &str) -> Expr {
    Expr::Pred(Predicate::Time {
        field,
        op,
        value: parse_time(iso).unwrap(),
    })
}

#[test]
fn pai_example_parses_into_filter_content_and_options() {
    let query = parse(PAI_EXAMPLE).unwrap();
    assert_eq!(query.content.as_deref(), Some("a fallen water horse"));
    assert_eq!(
        query.options,
        QueryOptions {
            top_k: Some(100),
            score_threshold: None,
            sign_mode: Some("PUBLIC".into()),
        }
    );
    let expected = Expr::And(vec![
        time(
            TimeField::FileUpdateTime,
            RangeOp::Gt,
            "2025-02-28T00:00:00Z",
        ),
        time(
            TimeField::FileUpdateTime,
            RangeOp::Lt,
            "2025-05-30T09:27:29Z",
        ),
        text(TextField::FileDir, TextOp::Contains, "blue_car"),
        Expr::Not(Box::new(text(
            TextField::FileName,
            TextOp::Exact,
            "toyota.jpg",
        ))),
        Expr::Or(vec![
            Expr::And(vec![
                tag(TagGroup::All, "lane line"),
                tag(TagGroup::All, "barrier gate"),
            ]),
            Expr::Not(Box::new(tag(TagGroup::User, "rainy days"))),
        ]),
        Expr::Pred(Predicate::Has(Field::Text(TextField::SemanticIndexJobId))),
    ]);
    assert_eq!(query.filter, Some(expected));
}

#[test]
fn pai_example_parses_across_lines_as_the_reference_prints_it() {
    let multiline = PAI_EXAMPLE
        .replace(r#" AND FileDir"#, "\nAND FileDir")
        .replace(" AND ((", "\nAND ((")
        .replace(" AND HAS", "\nAND HAS");
    assert_eq!(parse(&multiline).unwrap(), parse(PAI_EXAMPLE).unwrap());
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    let a = || text(TextField::FileName, TextOp::Exact, "a");
    let b = || text(TextField::FileName, TextOp::Exact, "b");
    let c = || text(TextField::FileName, TextOp::Exact, "c");
    assert_eq!(
        filter(r#"FileName="a" OR FileName="b" AND FileName="c""#),
        Expr::Or(vec![a(), Expr::And(vec![b(), c()])])
    );
    assert_eq!(
        filter(r#"NOT FileName="a" AND FileName="b""#),
        Expr::And(vec![Expr::Not(Box::new(a())), b()])
    );
    assert_eq!(
        filter(r#"(FileName="a" OR FileName="b") AND FileName="c""#),
        Expr::And(vec![Expr::Or(vec![a(), b()]), c()])
    );
    assert_eq!(
        filter(r#"NOT (FileName="a" OR FileName="b")"#),
        Expr::Not(Box::new(Expr::Or(vec![a(), b()])))
    );
    assert_eq!(
        filter(r#"FileName="a" OR (FileName="b" OR FileName="c")"#),
        Expr::Or(vec![a(), b(), c()])
    );
}

#[test]
fn not_has_is_the_negation_of_has() {
    let has = Expr::Pred(Predicate::Has(Field::Number(NumberField::ImageWidth)));
    assert_eq!(filter("NOT HAS ImageWidth"), Expr::Not(Box::new(has)));
}

#[test]
fn keywords_and_names_are_case_insensitive_and_canonicalised() {
    assert_eq!(
        parse(r#"(filename:"x" and not has TAGS.USER-DELETE-AI-TAGS or datasize>=3) And content:"y" AND topk=5"#).unwrap(),
        parse(r#"(FileName:"x" AND NOT HAS Tags.user-delete-ai-tags OR DataSize>=3) AND Content:"y" AND TopK=5"#).unwrap(),
    );
}

#[test]
fn strings_resolve_their_escapes() {
    let expected = "quote \" backslash \\ slash / nl \n cr \r tab \t é 😀";
    let expression =
        r#"FileName="quote \" backslash \\ slash \/ nl \n cr \r tab \t \u00e9 \ud83d\ude00""#;
    assert_eq!(
        filter(expression),
        text(TextField::FileName, TextOp::Exact, expected)
    );
}

#[test]
fn numbers_and_times_parse_to_typed_values() {
    assert_eq!(
        filter("DataSize > -12"),
        Expr::Pred(Predicate::Number {
            field: NumberField::DataSize,
            op: RangeOp::Gt,
            value: Number::Int(-12),
        })
    );
    assert_eq!(
        filter("ImageHeight<=10.25"),
        Expr::Pred(Predicate::Number {
            field: NumberField::ImageHeight,
            op: RangeOp::Le,
            value: Number::Float(10.25),
        })
    );
    let millis = |iso: &str| parse_time(iso).map(Timestamp::millis);
    assert_eq!(millis("2025-02-28T00:00:00Z"), Some(1_740_700_800_000));
    assert_eq!(millis("2025-02-28"), Some(1_740_700_800_000));
    assert_eq!(millis("2025-02-28T08:00:00+08:00"), Some(1_740_700_800_000));
    assert_eq!(millis("2025-02-28T00:00:00.1239Z"), Some(1_740_700_800_123));
    assert_eq!(millis("2025-02-28T00:00:00"), None);
    assert_eq!(millis("2025-02-30"), None);
}

#[test]
fn options_and_content_are_taken_out_of_the_filter() {
    let query = parse(r#"ScoreThreshold=0.25 AND (Content:"cat" AND TopK=3)"#).unwrap();
    assert_eq!(query.filter, None);
    assert_eq!(query.content.as_deref(), Some("cat"));
    assert_eq!(query.options.top_k, Some(3));
    assert_eq!(query.options.score_threshold, Some(0.25));
    assert_eq!(parse("  \n ").unwrap(), Query::default());
}

#[test]
fn content_under_or_or_not_is_refused_at_its_position() {
    assert_eq!(
        error(r#"FileName:"a" OR Content:"cat""#),
        r#"QueryExpression: at position 17: Content:"…" must be a clause of the top-level AND (filter AND Content:"…"), but it is under OR"#
    );
    assert_eq!(
        error(r#"NOT Content:"cat""#),
        r#"QueryExpression: at position 5: Content:"…" must be a clause of the top-level AND (filter AND Content:"…"), but it is under NOT"#
    );
    assert!(
        error(r#"(FileName:"a" OR (HAS Tags.ai AND Content:"cat")) AND TopK=1"#)
            .starts_with("QueryExpression: at position 35: Content")
    );
    assert!(error(r#"FileName:"a" OR TopK=3"#)
        .contains("at position 17: TopK must be a clause of the top-level AND"));
    assert!(error(r#"NOT (ScoreThreshold=1 AND FileName:"a")"#)
        .contains("at position 6: ScoreThreshold must be a clause of the top-level AND (filter AND ScoreThreshold), but it is under NOT"));
}

#[test]
fn content_and_options_at_most_once() {
    assert_eq!(
        error(r#"Content:"a" AND Content:"b""#),
        "QueryExpression: at position 17: a second Content clause; a query has at most one"
    );
    assert_eq!(
        error("TopK=1 AND TopK=2"),
        "QueryExpression: at position 12: TopK is given twice"
    );
}

/// Every syntax and type error, with the exact message.
#[test]
fn errors_say_where_and_what_was_expected() {
    let cases: &[(&str, &str)] = &[
        (r#"FileName = AND"#, "at position 12: expected a value after '=' but found 'AND'"),
        (r#"FileName ="#, "at position 11: expected a value after '=' but found the end of the expression"),
        (r#"FileName "a""#, r#"at position 10: expected an operator (':', '=', '>', '>=', '<' or '<=') after 'FileName' but found "a""#),
        (r#"FileName:"a" FileDir:"b""#, "at position 14: expected AND, OR or the end of the expression but found 'FileDir' (join clauses with AND or OR)"),
        (r#"(FileName:"a""#, "at position 14: expected AND, OR or ')' to close the '(' at position 1 but found the end of the expression"),
        (r#"FileName:"a")"#, "at position 13: expected AND, OR or the end of the expression but found ')'"),
        ("()", "at position 2: expected a clause (a field, HAS, NOT or '(') but found ')'"),
        (r#"FileName:"a" AND"#, "at position 17: expected a clause (a field, HAS, NOT or '(') but found the end of the expression"),
        ("HAS 3", "at position 5: expected a field name after HAS but found '3'"),
        ("HAS Content", "at position 5: HAS applies to fields, not to 'Content'"),
        (r#"Colour="red""#, "at position 1: unknown field 'Colour'; the fields are FileName, FileDir, Uri, DataSize, FileType, ContentType, FileCreateTime, FileUpdateTime, TagUpdateTime, Tags.ai, Tags.user, Tags.user-delete-ai-tags, Tags.all, SemanticIndexJobId, SemanticIndexUpdateTime, ImageWidth, ImageHeight, and Content, TopK, ScoreThreshold, SignMode"),
        (r#"Tags.people="x""#, "at position 1: unknown tag group 'Tags.people'; the groups are Tags.ai, Tags.user, Tags.user-delete-ai-tags and Tags.all"),
        (r#"FileName > "a""#, "at position 10: '>' does not apply to FileName; FileName takes ':' (contains, ignoring ASCII case) or '=' (exact)"),
        (r#"Tags.all >= "a""#, "at position 10: '>=' does not apply to Tags.all; Tags.all takes ':' (contains, ignoring ASCII case) or '=' (exact)"),
        ("DataSize : 3", "at position 10: ':' does not apply to DataSize; DataSize takes =, >, >=, < or <= with a number"),
        (r#"FileUpdateTime:"2025-01-01""#, "at position 15: ':' does not apply to FileUpdateTime; FileUpdateTime takes =, >, >=, < or <= with an ISO 8601 time"),
        (r#"DataSize > "3""#, r#"at position 12: DataSize takes a number, but found "3""#),
        ("FileName = 3", "at position 12: FileName takes a string in double quotes, but found '3'"),
        (r#"FileUpdateTime > "yesterday""#, r#"at position 18: "yesterday" is not a time; FileUpdateTime takes an ISO 8601 time in double quotes with a zone, such as "2025-02-28T00:00:00Z" or "2025-02-28T08:00:00.250+08:00", or a date such as "2025-02-28" (midnight UTC)"#),
        ("FileUpdateTime > 5", "at position 18: FileUpdateTime takes an ISO 8601 time in double quotes with a zone"),
        (r#"Content = "cat""#, r#"at position 9: '=' does not apply to Content; write Content:"text to search for""#),
        ("Content:3", "at position 9: Content takes a string in double quotes, but found '3'"),
        (r#"Content:"  ""#, "at position 9: Content needs some text to search for"),
        ("TopK=0", "at position 6: TopK takes a whole number from 1 to 4294967295, but found '0'"),
        ("TopK=2.5", "at position 6: TopK takes a whole number from 1 to 4294967295, but found '2.5'"),
        ("TopK>5", "at position 5: '>' does not apply to TopK; write TopK=…"),
        (r#"ScoreThreshold="high""#, r#"at position 16: ScoreThreshold takes a number, but found "high""#),
        ("SignMode=1", "at position 10: SignMode takes a string in double quotes, but found '1'"),
        (r#"FileName="a"#, r#"at position 10: this string has no closing '"' (write \" for a quote inside a string)"#),
        (r#"FileName="a\qb""#, r#"at position 12: unknown escape '\q' (known: \" \\ \/ \n \r \t \uXXXX)"#),
        (r#"FileName="\u12""#, r#"at position 11: expected four hex digits after '\u'"#),
        (r#"FileName="\ud800""#, r#"at position 11: a \u escape of a high surrogate needs its low surrogate (\uDC00-\uDFFF) right after it"#),
        (r#"FileName="\udc00""#, "at position 11: a lone low surrogate is not a character"),
        (r#"FileName="\u0000""#, "at position 11: strings may not contain NUL"),
        ("FileName='a'", "at position 10: strings are written in double quotes, e.g. FileName = \"a.jpg\""),
        (r#"FileName != "a""#, "at position 10: '!=' is not an operator; write NOT field = value"),
        (r#"FileName = "a" && FileDir = "b""#, "at position 16: unexpected character '&'"),
        ("DataSize > -", "at position 12: expected a digit after '-'"),
        ("DataSize > 99999999999999999999", "at position 12: the number 99999999999999999999 is out of range"),
        ("éFileName = 1", "at position 1: unexpected character 'é'"),
    ];
    for (expression, expected) in cases {
        let message = error(expression);
        let expected = format!("QueryExpression: {expected}");
        assert!(
            message.starts_with(&expected),
            "{expression}\n got: {message}\nwant: {expected}"
        );
    }
}

#[test]
fn positions_count_characters_and_lines() {
    assert_eq!(
        error("Tags.all = \"é😀\" AND\n  DataSize : 3"),
        "QueryExpression: at line 2, column 12: ':' does not apply to DataSize; DataSize takes =, >, >=, < or <= with a number"
    );
    assert!(error("\"é\" ").starts_with("QueryExpression: at position 1: expected a clause"));
}

#[test]
fn too_long_expressions_are_refused() {
    let long = format!(r#"FileName:"{}""#, "a".repeat(9000));
    assert_eq!(
        error(&long),
        "QueryExpression: the expression is 9011 bytes long; at most 8192 are allowed"
    );
}

#[test]
fn deep_nesting_is_refused_before_recursing() {
    let limits = Limits {
        max_bytes: usize::MAX,
        ..Limits::default()
    };
    let nested = |depth: usize| format!("{}HAS Tags.ai{}", "(".repeat(depth), ")".repeat(depth));
    assert!(parse_with(&nested(64), &limits).is_ok());
    let err = parse_with(&nested(65), &limits).unwrap_err();
    assert_eq!(
        err.message(),
        "QueryExpression: at position 65: parentheses and NOTs nest deeper than 64 levels"
    );
    for deep in [
        nested(10_000),
        format!("{}HAS Tags.ai", "NOT ".repeat(10_000)),
        "(NOT ".repeat(10_000),
    ] {
        let err = parse_with(&deep, &limits).unwrap_err();
        assert!(
            err.message().contains("nest deeper than 64 levels"),
            "{}",
            err.message()
        );
        // Within the default byte limit too.
        assert_eq!(
            parse(&deep).unwrap_err().code(),
            ErrorCode::InvalidQueryExpression
        );
    }
}

#[test]
fn too_many_clauses_are_refused() {
    let clauses = vec!["HAS Tags.ai"; 257].join(" OR ");
    assert_eq!(
        error(&clauses),
        "QueryExpression: at position 3841: more than 256 clauses"
    );
    assert!(parse(&vec!["HAS Tags.ai"; 256].join(" OR ")).is_ok());
}

/// Random token soup and random characters never panic: each ends in a query or an
/// `InvalidQueryExpression` (the fuzz target in `fuzz/` does the same at scale).
#[test]
fn random_input_never_panics() {
    const PIECES: &[&str] = &[
        "(",
        ")",
        " AND ",
        " OR ",
        "NOT ",
        "HAS ",
        ":",
        "=",
        ">",
        ">=",
        "<",
        "<=",
        "!=",
        "FileName",
        "Tags.all",
        "Tags.",
        "DataSize",
        "FileUpdateTime",
        "Content",
        "TopK",
        "ScoreThreshold",
        "SignMode",
        "\"",
        "\"a b\"",
        "\"2025-02-28T00:00:00Z\"",
        "\\",
        "\\u",
        "\\ud83d",
        "12",
        "-",
        "3.5",
        "é",
        "😀",
        "\n",
        " ",
        "\0",
        "'",
        "%",
        "_",
    ];
    let mut rng = StdRng::seed_from_u64(6);
    for round in 0..20_000 {
        let mut input = String::new();
        for _ in 0..rng.gen_range(0..24) {
            if round % 4 == 0 {
                input.push(char::from_u32(rng.gen_range(0..0x11_0000)).unwrap_or('x'));
            } else {
                input.push_str(PIECES[rng.gen_range(0..PIECES.len())]);
            }
        }
        if let Err(err) = parse(&input) {
            assert_eq!(err.code(), ErrorCode::InvalidQueryExpression, "{input:?}");
            assert!(err.message().starts_with("QueryExpression: "), "{input:?}");
        }
    }
}

/// The README's grammar section stays true: its examples parse, its PAI example is the one above.
#[test]
fn examples_in_the_grammar_page_parse() {
    let page = include_str!("../../../../README.md");
    assert!(page.contains(&format!("```\n{PAI_EXAMPLE}\n```")));
    let examples = page
        .split("### More examples\n\n```\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a block of examples");
    for line in examples.lines() {
        assert!(parse(line).is_ok(), "{line}: {:?}", parse(line).err());
    }
    for (ok, error) in [
        (r#"FileDir:"cars" AND Content:"a red car" AND TopK=20"#, ""),
        (
            r#"(FileDir:"cars" AND Content:"a red car") AND TopK=20"#,
            "",
        ),
        (
            r#"FileDir:"cars" OR Content:"a red car""#,
            "at position 19: Content",
        ),
    ] {
        assert!(page.contains(ok));
        match parse(ok) {
            Ok(_) => assert!(error.is_empty(), "{ok}"),
            Err(e) => assert!(e.message().contains(error) && !error.is_empty(), "{ok}"),
        }
    }
}
