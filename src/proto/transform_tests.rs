#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// Cases from nats-server's own tests of its transforms (`TestSubjectTransforms`), whose
/// results were also observed on nats-server 2.15.1 through a stream's subject transform.
#[test]
fn transforms_map_subjects_as_nats_server_does() {
    let cases = [
        ("", "prefix.>", "foo", "prefix.foo"),
        ("foo", "bar", "foo", "bar"),
        ("foo.*.bar.*.baz", "req.$2.$1", "foo.A.bar.B.baz", "req.B.A"),
        (
            "foo.*.bar.*.baz",
            "req.{{wildcard(2)}}.{{wildcard(1)}}",
            "foo.A.bar.B.baz",
            "req.B.A",
        ),
        ("baz.>", "my.pre.>", "baz.1.2.3", "my.pre.1.2.3"),
        ("baz.>", "foo.bar.>", "baz.1.2.3", "foo.bar.1.2.3"),
        ("*", "foo.bar.$1", "foo", "foo.bar.foo"),
        ("*", "{{splitfromleft(1,3)}}", "12345", "123.45"),
        ("*", "{{SplitFromRight(1,3)}}", "12345", "12.345"),
        ("*", "{{SliceFromLeft(1,3)}}", "1234567890", "123.456.789.0"),
        (
            "*",
            "{{SliceFromRight(1,3)}}",
            "1234567890",
            "1.234.567.890",
        ),
        ("*", "{{split(1,-)}}", "-abc-def--ghi-", "abc.def.ghi"),
        ("*", "{{split(1,-)}}", "abc-def--ghi-", "abc.def.ghi"),
        (
            "*.*",
            "{{split(2,-)}}.{{splitfromleft(1,2)}}",
            "foo.-abc-def--ghij-",
            "abc.def.ghij.fo.o",
        ),
        ("*", "{{right(1,1)}}", "1234", "4"),
        ("*", "{{right(1,3)}}", "1234", "234"),
        ("*", "{{right(1,6)}}", "1234", "1234"),
        ("*", "{{left(1,1)}}", "1234", "1"),
        ("*", "{{left(1,3)}}", "1234", "123"),
        ("*", "{{left(1,6)}}", "1234", "1234"),
        ("*", "bar.{{partition(0)}}", "baz", "bar.0"),
        ("*", "bar.{{partition(10, 0)}}", "foo", "bar.3"),
        ("*.*", "bar.{{partition(10)}}", "foo.bar", "bar.6"),
        ("*", "bar.{{partition(10)}}", "foo", "bar.3"),
        ("*", "bar.{{partition(10)}}", "baz", "bar.0"),
        ("*", "bar.{{partition(10)}}", "qux", "bar.9"),
        ("*", "bar.{{random(0)}}", "qux", "bar.0"),
        ("foo.bar", "baz.{{partition(10)}}", "foo.bar", "baz.6"),
        ("foo.baz", "qux.{{partition(10)}}", "foo.baz", "qux.4"),
        (
            "test.subject",
            "result.{{partition(5)}}",
            "test.subject",
            "result.0",
        ),
        (
            "orders.*",
            "archive.{{wildcard(1)}}.x",
            "orders.eu",
            "archive.eu.x",
        ),
        (">", ">", "a.b.c", "a.b.c"),
        ("a.>", "b.>", "a.x.y", "b.x.y"),
        // Observed on nats-server 2.15.1 through streams' subject transforms.
        ("in.*.*", "out.$2.$1", "in.a.b", "out.b.a"),
        (
            "in.*",
            "p.{{partition(4,1)}}.$1",
            "in.order-7",
            "p.3.order-7",
        ),
    ];
    for (src, dest, subject, want) in cases {
        let tr =
            SubjectTransform::new(src, dest).unwrap_or_else(|e| panic!("{src} -> {dest}: {e}"));
        assert_eq!(
            tr.apply(subject).as_deref(),
            Some(want),
            "{src} -> {dest} on {subject}"
        );
    }
}

#[test]
fn subjects_outside_the_source_and_empty_destinations_are_not_transformed() {
    let tr = SubjectTransform::new("foo.*", "bar.$1").unwrap();
    assert_eq!(tr.apply("baz.x"), None);
    assert_eq!(tr.apply("foo.x.y"), None);
    assert_eq!(
        tr.apply("foo.*"),
        None,
        "wildcards are not literal subjects"
    );
    let none = SubjectTransform::new("foo", "").unwrap();
    assert_eq!(none.apply("foo"), None);
    let missing = SubjectTransform::new("foo.*", "one.two.{{wildcard(1)}}").unwrap();
    assert_eq!(missing.apply("foo.x").as_deref(), Some("one.two.x"));
}

#[test]
fn random_stays_below_its_ceiling() {
    let tr = SubjectTransform::new("*", "bar.{{random(6)}}").unwrap();
    for _ in 0..50 {
        let out = tr.apply("qux").unwrap();
        let n: u32 = out.strip_prefix("bar.").unwrap().parse().unwrap();
        assert!(n < 6);
    }
}

#[test]
fn bad_transforms_get_nats_servers_errors() {
    let max = i64::from(i32::MAX);
    let cases: Vec<(&str, String, bool, &str)> = vec![
        ("foo..", "bar".into(), false, "invalid subject"),
        ("foo.*", "bar.*".into(), false, "invalid subject"),
        ("foo.*", "bar.$1.>".into(), false, "invalid subject"),
        ("foo.>", "bar.baz".into(), false, "invalid subject"),
        (
            "foo.*",
            "bar.$2".into(),
            false,
            "invalid mapping destination: wildcard index out of range in $2: [2]",
        ),
        (
            "foo.*.*",
            "bar.$2".into(),
            true,
            "invalid mapping destination: not using all of the token wildcard(s) in bar.$2",
        ),
        (
            "foo.*",
            "bar.{{Partition(2,1)}}".into(),
            true,
            "invalid mapping destination: the only mapping function allowed for import \
             transforms is {{Wildcard()}} in {{Partition(2,1)}}",
        ),
        (
            "foo.*",
            "foo.{{wildcard(2)}}".into(),
            false,
            "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]",
        ),
        (
            "foo.*",
            "foo.{{unimplemented(1)}}".into(),
            false,
            "invalid mapping destination: unknown function in {{unimplemented(1)}}",
        ),
        (
            "foo.*",
            "foo.{{partition()}}".into(),
            false,
            "invalid mapping destination: function argument is invalid or in the wrong format \
             in {{partition()}}",
        ),
        (
            "foo.*",
            "foo.{{random()}}".into(),
            false,
            "invalid mapping destination: function argument is invalid or in the wrong format \
             in {{random()}}",
        ),
        (
            "foo.*",
            "foo.{{wildcard(foo)}}".into(),
            false,
            "invalid mapping destination: function argument is invalid or in the wrong format \
             in {{wildcard(foo)}}",
        ),
        (
            "foo.*",
            "foo.{{wildcard()}}".into(),
            false,
            "invalid mapping destination: not enough arguments passed to the function in \
             {{wildcard()}}",
        ),
        (
            "foo.*",
            "foo.{{wildcard(1,2)}}".into(),
            false,
            "invalid mapping destination: too many arguments passed to the function in \
             {{wildcard(1,2)}}",
        ),
        (
            "foo.*",
            "foo.{{splitLeft(2,2}}".into(),
            false,
            "invalid mapping destination: unknown function in {{splitLeft(2,2}}",
        ),
        (
            "foo",
            "bla.{{wildcard(1)}}".into(),
            false,
            "invalid mapping destination: wildcard index out of range in {{wildcard(1)}}",
        ),
        (
            "foo.*",
            format!("foo.{{{{partition({})}}}}", max + 1),
            false,
            "invalid mapping destination: function argument is invalid or in the wrong format \
             in {{partition(2147483648)}}",
        ),
        (
            "foo.*",
            format!("foo.{{{{random({})}}}}", max + 1),
            false,
            "invalid mapping destination: function argument is invalid or in the wrong format \
             in {{random(2147483648)}}",
        ),
    ];
    for (src, dest, strict, want) in cases {
        let got = if strict {
            SubjectTransform::new_strict(src, &dest)
        } else {
            SubjectTransform::new(src, &dest)
        };
        assert_eq!(got.unwrap_err().to_string(), want, "{src} -> {dest}");
    }
    for (src, dest, strict) in [
        ("foo.*", "bar.{{Wildcard(1)}}".to_string(), true),
        ("foo.*.*", "bar.$2".to_string(), false),
        ("foo.*.*", "bar.{{partition(1)}}".to_string(), false),
        ("foo.*.*", "bar.{{random(5)}}".to_string(), false),
        ("*", "{{splitfromleft(1,1)}}".to_string(), false),
        ("*.*", "{{partition(10,1,2)}}".to_string(), false),
        (
            "foo.*.*",
            "foo.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(5,1,2)}}".to_string(),
            false,
        ),
        ("foo.*", format!("foo.{{{{partition({max})}}}}"), false),
        ("foo.bar", format!("foo.{{{{random({max})}}}}"), false),
    ] {
        let got = if strict {
            SubjectTransform::new_strict(src, &dest)
        } else {
            SubjectTransform::new(src, &dest)
        };
        assert!(got.is_ok(), "{src} -> {dest}: {got:?}");
    }
}

#[test]
fn validate_mapping_checks_the_destination_first() {
    assert_eq!(
        validate_mapping("foo.*", "bar..x").unwrap_err().to_string(),
        "invalid mapping destination: invalid transform"
    );
    assert_eq!(
        validate_mapping("foo.*", "bar.{{nope(1)}}")
            .unwrap_err()
            .to_string(),
        "invalid mapping destination: unknown function in {{nope(1)}}"
    );
    assert_eq!(
        validate_mapping("foo.*", "bar.a b")
            .unwrap_err()
            .to_string(),
        "invalid mapping destination: invalid transform"
    );
    assert!(validate_mapping("foo.*", "").is_ok());
    assert!(validate_mapping("foo.*", "bar.$1").is_ok());
}

#[test]
fn fnv1a32_is_gos() {
    assert_eq!(fnv1a32(b""), 0x811c_9dc5);
    assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
    assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
}
