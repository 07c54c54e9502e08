//! Golden cases from Backstage's own unit tests, run against sextant's name predicates, entity references and document validation.
//!
//! The cases come from backstage/backstage:
//! - `packages/catalog-model/src/validation/KubernetesValidatorFunctions.test.ts`
//! - `packages/catalog-model/src/validation/CommonValidatorFunctions.test.ts`
//! - `packages/catalog-model/src/entity/ref.test.ts` (and the rules in `entity/ref.ts`)
//! - `packages/catalog-model/src/entity/policies/FieldFormatEntityPolicy.test.ts`
//! - `packages/catalog-model/src/kinds/{Component,Api,Resource,System,Domain,Group,User,Location}EntityV1alpha1.test.ts`
//!
//! Only the test data (inputs and expected answers) comes from upstream; the code is ours.
//!
//! Which upstream version: upstream changed some answers over time (double hyphens in DNS
//! labels, colons and slashes in entity-reference names, link icons). Where versions
//! disagree, the expected value here is the one of `@backstage/catalog-model` 1.10.1, the
//! release that produced the real-world corpus's `VERDICTS.jsonl`, and of the current upstream tables.
//! Those cases are kept apart, in the tests whose names end in `_as_in_catalog_model_1_10_1`,
//! with the older answer noted, so the choice is easy to see and to revisit. The search index
//! held only older versions of some of these files, so the current tables (isValidTag, "allows
//! names with : and /", double hyphens in DNS labels) were read from a fork's verbatim copy
//! (khulnasoft/devtools). Every expected value below was then checked against
//! `@backstage/catalog-model` 1.10.1 itself.
//!
//! What was left out, and why:
//! - Non-string inputs to the string predicates (`7`, `null`, `undefined`, `true`, `{}`, `[]`,
//!   functions, symbols): the Rust predicates take `&str`, so there is nothing to call. Skipped:
//!   isValidApiVersion 2, isValidKind 2, isValidObjectName 2, isValidNamespace 2,
//!   isValidLabelKey 2, isValidLabelValue 2, isValidAnnotationKey 2, isValidAnnotationValue 2,
//!   isValidPrefixAndOrSuffix 3, isValidDnsSubdomain 2, isValidDnsLabel 2, isValidTag 2,
//!   isValidUrl 3, isValidString 4, isNonEmptyString 4, parseEntityRef 2; 38 in all.
//!   Where a non-string value can really come out of YAML (`type: 7`, `memberOf: ~`), the
//!   upstream case is ported as a whole document instead, because YAML does type it.
//! - isJsonSafe: 12 cases, skipped. 11 are not strings; the twelfth (`'a'` is JSON-safe) has
//!   no counterpart because every value sextant reads from YAML is JSON-safe by construction.
//! - isValidPrefixAndOrSuffix: the 2 cases that pass a rejecting prefix or suffix callback
//!   need callback injection, which sextant's API does not have; the 3 structural cases
//!   (`a`, `a/b` accepted, `a/b/c` rejected) are ported onto the label-key, annotation-key and
//!   apiVersion predicates, whose real callbacks agree with the always-true ones upstream.
//! - isValidString and isNonEmptyString (the same 7 string cases each): sextant has no such
//!   predicate, so the 7 string cases are ported once, through `metadata.links[].title`,
//!   which Backstage 1.10.1 checks with isNonEmptyString.
//! - isValidUrl lists `''` twice; it is ported once.
//! - ref.test.ts: the compound (object) form has no Rust parser yet, so 18 parseEntityRef
//!   cases on objects and 23 compareEntityToRef cases on objects are skipped, as are the
//!   removed parseEntityName and serializeEntityRef (whose "least complex form" output sextant
//!   does not have: it always prints `kind:namespace/name`).
//! - Kind tests: "rejects with useful error message" (API) repeats "rejects additional
//!   properties" with a message check; only the reject is ported. The FieldFormatEntityPolicy
//!   test "handles missing metadata gracefully" deletes `data.medatata` (sic), so it tests
//!   nothing beyond the happy path and is not ported.

use sextant::descriptor::validate_source;
use sextant::domain::names::{
    is_valid_annotation_key, is_valid_api_version, is_valid_dns_label, is_valid_dns_subdomain, is_valid_kind, is_valid_label_key,
    is_valid_label_value, is_valid_namespace, is_valid_object_name, is_valid_tag, is_valid_url,
};
use sextant::domain::{EntityRef, RefError, Severity};

// ---------------------------------------------------------------------------------------------
// Part 1: the field-format predicates.
// ---------------------------------------------------------------------------------------------

/// Returns `text` repeated `times` times, as upstream's `'a'.repeat(n)`.
fn repeat(text: &str, times: usize) -> String {
    text.repeat(times)
}

/// Returns four dot-separated labels of 63, 63, 63 and `last` letters: 253 characters in all
/// when `last` is 61 (the longest DNS subdomain), 254 when it is 62.
fn long_subdomain(last: usize) -> String {
    let label = repeat("a", 63);
    format!("{label}.{label}.{label}.{}", repeat("a", last))
}

/// Shows an input in a failure message, shortening the long generated ones.
fn show(input: &str) -> String {
    let length = input.chars().count();
    if length > 40 {
        let head: String = input.chars().take(16).collect();
        format!("{head:?}... ({length} characters)")
    } else {
        format!("{input:?}")
    }
}

/// Runs `predicate` over the fixed and the generated cases and fails once, naming every
/// input whose answer differs from upstream's.
fn check_predicate(function: &str, predicate: fn(&str) -> bool, fixed: &[(&str, bool)], generated: &[(String, bool)]) {
    let cases = fixed
        .iter()
        .map(|(input, expected)| (input.to_string(), *expected))
        .chain(generated.iter().cloned());
    let mut failures = Vec::new();
    for (input, expected) in cases {
        let actual = predicate(&input);
        if actual != expected {
            failures.push(format!(
                "{function}({}) returned {actual}, upstream expects {expected}",
                show(&input)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) disagree with upstream:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// isValidApiVersion: `[DNS subdomain/]` then 1-63 of `[a-zA-Z0-9]`.
const API_VERSION_CASES: &[(&str, bool)] = &[
    ("", false),
    ("a", true),
    ("AZ09", true),
    ("a-b", false),
    ("a_b", false),
    ("a.b", false),
    ("a/a", true),
    ("a/aAb5C", true),
    ("a-b.c/v1", true),
    // From FieldFormatEntityPolicy.test.ts, "rejects bad apiVersion".
    ("a#b", false),
    // From isValidPrefixAndOrSuffix, "only accepts one or two parts".
    ("a/b/c", false),
];

#[test]
fn is_valid_api_version_matches_upstream() {
    let generated = [
        (repeat("a", 63), true),
        (repeat("a", 64), false),
        (format!("{}/v1", long_subdomain(61)), true),
        (format!("{}/v1", long_subdomain(62)), false),
        (format!("a/{}", repeat("a", 63)), true),
        (format!("a/{}", repeat("a", 64)), false),
    ];
    check_predicate("is_valid_api_version", is_valid_api_version, API_VERSION_CASES, &generated);
}

/// isValidKind: a letter, then letters and digits, 1-63 characters.
const KIND_CASES: &[(&str, bool)] = &[
    ("", false),
    ("a", true),
    ("AZ09", true),
    ("9AZ", false),
    ("a-b", false),
    // From FieldFormatEntityPolicy.test.ts, "rejects bad kind".
    ("a#b", false),
];

#[test]
fn is_valid_kind_matches_upstream() {
    let generated = [(repeat("a", 63), true), (repeat("a", 64), false)];
    check_predicate("is_valid_kind", is_valid_kind, KIND_CASES, &generated);
}

/// isValidObjectName: the `metadata.name` rule.
const OBJECT_NAME_CASES: &[(&str, bool)] = &[
    ("", false),
    ("a", true),
    ("AZ09", true),
    ("a/b", false),
    ("a-b", true),
    ("-a-b", false),
    ("a-b-", false),
    ("a--b", true),
    ("a_b", true),
    ("a.b", true),
    ("a..b", true),
];

#[test]
fn is_valid_object_name_matches_upstream() {
    let generated = [
        (repeat("a", 63), true),
        (repeat("a", 64), false),
        // From FieldFormatEntityPolicy.test.ts, "rejects bad name".
        (repeat("a", 1000), false),
    ];
    check_predicate("is_valid_object_name", is_valid_object_name, OBJECT_NAME_CASES, &generated);
}

/// isValidNamespace: a DNS label. `a--b` is in the 1.10.1 test below.
const NAMESPACE_CASES: &[(&str, bool)] = &[
    ("", false),
    ("a", true),
    ("AZ09", false),
    ("a/b", false),
    ("a-b", true),
    ("-a-b", false),
    ("a-b-", false),
    ("a_b", false),
    ("a.b", false),
];

#[test]
fn is_valid_namespace_matches_upstream() {
    let generated = [
        (repeat("a", 63), true),
        (repeat("a", 64), false),
        // From FieldFormatEntityPolicy.test.ts, "rejects bad namespace".
        (repeat("a", 1000), false),
    ];
    check_predicate("is_valid_namespace", is_valid_namespace, NAMESPACE_CASES, &generated);
}

/// isValidLabelKey and isValidAnnotationKey share one upstream table: `[DNS subdomain/]`
/// then an object name. `a--b.c/a` is in the 1.10.1 test below.
const LABEL_OR_ANNOTATION_KEY_CASES: &[(&str, bool)] = &[
    ("", false),
    ("a", true),
    ("AZ09", true),
    ("a/b", true),
    ("a-b", true),
    ("-a-b", false),
    ("a-b-", false),
    ("a--b", true),
    ("a_b", true),
    ("a.b", true),
    ("a..b", true),
    ("a/a", true),
    ("a-b.c/a", true),
    // From FieldFormatEntityPolicy.test.ts, "rejects bad label key" / "bad annotation key".
    ("a#b", false),
    // From isValidPrefixAndOrSuffix, "only accepts one or two parts".
    ("a/b/c", false),
];

/// The generated rows shared by the label-key and annotation-key tables.
fn long_key_cases() -> Vec<(String, bool)> {
    vec![
        (repeat("a", 63), true),
        (repeat("a", 64), false),
        (format!("{}/a", long_subdomain(61)), true),
        (format!("{}/a", long_subdomain(62)), false),
        (format!("a/{}", repeat("a", 63)), true),
        (format!("a/{}", repeat("a", 64)), false),
    ]
}

#[test]
fn is_valid_label_key_matches_upstream() {
    check_predicate(
        "is_valid_label_key",
        is_valid_label_key,
        LABEL_OR_ANNOTATION_KEY_CASES,
        &long_key_cases(),
    );
}

#[test]
fn is_valid_annotation_key_matches_upstream() {
    check_predicate(
        "is_valid_annotation_key",
        is_valid_annotation_key,
        LABEL_OR_ANNOTATION_KEY_CASES,
        &long_key_cases(),
    );
}

/// isValidLabelValue: empty, or an object name.
const LABEL_VALUE_CASES: &[(&str, bool)] = &[
    ("", true),
    ("a", true),
    ("AZ09", true),
    ("a/b", false),
    ("a-b", true),
    ("-a-b", false),
    ("a-b-", false),
    ("a--b", true),
    ("a_b", true),
    ("a.b", true),
    ("a..b", true),
    // From FieldFormatEntityPolicy.test.ts, "rejects bad label value".
    ("a#b", false),
];

#[test]
fn is_valid_label_value_matches_upstream() {
    let generated = [(repeat("a", 63), true), (repeat("a", 64), false)];
    check_predicate("is_valid_label_value", is_valid_label_value, LABEL_VALUE_CASES, &generated);
}

/// isValidDnsSubdomain: dot-separated DNS labels, at most 253 characters. `a--b` is in the
/// 1.10.1 test below.
const DNS_SUBDOMAIN_CASES: &[(&str, bool)] = &[
    ("", false),
    ("a", true),
    ("a-b", true),
    ("-a-b", false),
    ("a-b-", false),
    ("a_b", false),
    ("adam.bertil.caesar", true),
    ("adam.ber-til.caesar", true),
    ("adam.-bertil.caesar", false),
    ("adam.bertil-.caesar", false),
    ("adam/bertil.caesar", false),
];

#[test]
fn is_valid_dns_subdomain_matches_upstream() {
    let generated = [
        (format!("a.{}.c", repeat("b", 63)), true),
        (format!("a.{}.c", repeat("b", 64)), false),
        (long_subdomain(61), true),
        (long_subdomain(62), false),
    ];
    check_predicate("is_valid_dns_subdomain", is_valid_dns_subdomain, DNS_SUBDOMAIN_CASES, &generated);
}

/// isValidDnsLabel: `[a-z0-9]` runs joined by hyphens, 1-63 characters. `a--b` and `xn--c6h`
/// are in the 1.10.1 test below.
const DNS_LABEL_CASES: &[(&str, bool)] = &[
    ("", false),
    ("a", true),
    ("a-b", true),
    ("-a-b", false),
    ("a-b-", false),
    ("a_b", false),
];

#[test]
fn is_valid_dns_label_matches_upstream() {
    let generated = [(repeat("a", 63), true), (repeat("a", 64), false)];
    check_predicate("is_valid_dns_label", is_valid_dns_label, DNS_LABEL_CASES, &generated);
}

/// isValidTag: `[a-z0-9:+#]` runs joined by single hyphens, 1-63 characters. The table is
/// from the current upstream CommonValidatorFunctions.test.ts (the older one has none).
const TAG_CASES: &[(&str, bool)] = &[
    // "These are identical to isValidDnsLabel", except that tags never allowed `--`.
    ("", false),
    ("a", true),
    ("a-b", true),
    ("-a-b", false),
    ("a-b-", false),
    ("a--b", false),
    ("a_b", false),
    // "Tags can have other characters though".
    ("a+b", true),
    ("+a+b", true),
    ("a+b+", true),
    ("a++b", true),
    ("c++", true),
    ("c#", true),
    ("#c++", true),
    // From FieldFormatEntityPolicy.test.ts: the happy path's tags, and "rejects bad tag value".
    ("java", true),
    ("data-service", true),
    ("Hello World", false),
];

#[test]
fn is_valid_tag_matches_upstream() {
    let generated = [(repeat("a", 63), true), (repeat("a", 64), false)];
    check_predicate("is_valid_tag", is_valid_tag, TAG_CASES, &generated);
}

/// isValidUrl: anything the WHATWG URL parser accepts.
const URL_CASES: &[(&str, bool)] = &[
    ("", false),
    ("abc", false),
    ("   abc", false),
    ("http://foo", true),
    ("https://www.foo.com/", true),
    ("https://foo.com:8080", true),
    ("https://foo:8080/page", true),
    ("https://foo:8080/sub/page", true),
    ("https://foo:8080/sub/page?query", true),
    ("https://foo:8080/sub/page/?query=value", true),
    ("https://foo:8080/sub/page/?query=value&", true),
    ("https://foo:8080/sub/page/?query=value&another=val", true),
    ("https://foo.com/page#fragment", true),
    ("ftp://ftp.some.domain.com/path", true),
    ("xyz://custom-protocol:4444/path", true),
    // From FieldFormatEntityPolicy.test.ts, the link urls.
    ("https://example.org", true),
    ("https://bar", true),
    ("http://good", true),
    ("invalid", false),
];

#[test]
fn is_valid_url_matches_upstream() {
    check_predicate("is_valid_url", is_valid_url, URL_CASES, &[]);
}

/// Upstream made double hyphens legal inside DNS labels (for punycode such as `xn--c6h`).
/// `@backstage/catalog-model` 1.10.1 and the current upstream tables accept every case below;
/// the older upstream tables, and the DNS-label regex in guide/formats.md, reject them.
/// Tags did not change: `a--b` is still not a tag (see TAG_CASES).
#[test]
fn double_hyphens_in_dns_labels_as_in_catalog_model_1_10_1() {
    check_predicate("is_valid_dns_label", is_valid_dns_label, &[("a--b", true), ("xn--c6h", true)], &[]);
    check_predicate("is_valid_dns_subdomain", is_valid_dns_subdomain, &[("a--b", true)], &[]);
    check_predicate("is_valid_namespace", is_valid_namespace, &[("a--b", true)], &[]);
    check_predicate("is_valid_api_version", is_valid_api_version, &[("a--b.c/v1", true)], &[]);
    check_predicate("is_valid_label_key", is_valid_label_key, &[("a--b.c/a", true)], &[]);
    check_predicate("is_valid_annotation_key", is_valid_annotation_key, &[("a--b.c/a", true)], &[]);
}

// ---------------------------------------------------------------------------------------------
// Part 2: entity references.
// ---------------------------------------------------------------------------------------------

/// Shows a parse result in a failure message.
fn show_parsed(parsed: &Result<EntityRef, RefError>) -> String {
    match parsed {
        Ok(reference) => format!(
            "Ok(kind {:?}, namespace {:?}, name {:?})",
            reference.kind, reference.namespace, reference.name
        ),
        Err(_) => "Err".to_string(),
    }
}

/// A parse row: text, default kind, default namespace, then the expected kind, namespace, name.
type ParseCase = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Successful parses: (text, default kind, default namespace, kind, namespace, name).
/// Upstream's `parseEntityRef(text)` without a context uses the namespace `default`, which is
/// passed explicitly here. Expected parts are compared lowercased, since EntityRef lowercases.
const REF_PARSES: &[ParseCase] = &[
    // "handles some omissions".
    ("a:b/c", None, "default", "a", "b", "c"),
    ("a:c", None, "default", "a", "default", "c"),
    // "adds defaults where necessary to strings".
    ("a:b/c", Some("x"), "y", "a", "b", "c"),
    ("b/c", Some("x"), "y", "x", "b", "c"),
    ("a:c", Some("x"), "y", "a", "y", "c"),
    ("c", Some("x"), "y", "x", "y", "c"),
    // "allows names with : and /": split at the first `:` and the first `/`; if the `/` comes
    // before the `:`, the colon belongs to the name. (Older upstream tables rejected all five.)
    ("a:b:c", Some("k"), "ns", "a", "ns", "b:c"),
    ("a/b/c", Some("k"), "ns", "k", "a", "b/c"),
    ("a/b:c", Some("k"), "ns", "k", "a", "b:c"),
    ("a:b/c/d", Some("k"), "ns", "a", "b", "c/d"),
    ("a:b/c:d", Some("k"), "ns", "a", "b", "c:d"),
];

#[test]
fn entity_ref_parse_matches_upstream() {
    let mut failures = Vec::new();
    for &(text, default_kind, default_namespace, kind, namespace, name) in REF_PARSES {
        let parsed = EntityRef::parse(text, default_kind, default_namespace);
        let matches = match &parsed {
            Ok(reference) => {
                reference.kind == kind.to_lowercase()
                    && reference.namespace == namespace.to_lowercase()
                    && reference.name == name.to_lowercase()
            }
            Err(_) => false,
        };
        if !matches {
            failures.push(format!(
                "EntityRef::parse({text:?}, {default_kind:?}, {default_namespace:?}) gave {}, upstream expects kind {kind:?}, namespace {namespace:?}, name {name:?}",
                show_parsed(&parsed)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) disagree with upstream:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// "rejects empty parts in strings": (text, what is empty). Each fails whatever the defaults.
const REF_EMPTY_PARTS: &[(&str, &str)] = &[
    (":b/c", "one part: the kind"),
    ("a:/c", "one part: the namespace"),
    ("a:b/", "one part: the name"),
    ("a:/", "two parts: namespace and name"),
    (":b/", "two parts: kind and name"),
    (":/c", "two parts: kind and namespace"),
    (":/", "all three parts"),
    ("/c", "one left out, the namespace empty"),
    ("b/", "one left out, the name empty"),
    (":c", "one left out, the kind empty"),
    ("a:", "one left out, the name empty"),
    ("", "nothing at all"),
];

/// No kind in the text and no default kind: upstream throws "missing or empty kind".
const REF_MISSING_KIND: &[&str] = &["b/c", "c"];

#[test]
fn entity_ref_parse_rejects_what_upstream_rejects() {
    let mut failures = Vec::new();
    for &(text, empty) in REF_EMPTY_PARTS {
        for default_kind in [None, Some("x")] {
            let parsed = EntityRef::parse(text, default_kind, "y");
            if parsed.is_ok() {
                failures.push(format!(
                    "EntityRef::parse({text:?}, {default_kind:?}, \"y\") gave {}, upstream rejects it (empty: {empty})",
                    show_parsed(&parsed)
                ));
            }
        }
    }
    for &text in REF_MISSING_KIND {
        let parsed = EntityRef::parse(text, None, "default");
        if parsed.is_ok() {
            failures.push(format!(
                "EntityRef::parse({text:?}, None, \"default\") gave {}, upstream rejects the missing kind",
                show_parsed(&parsed)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) disagree with upstream:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A comparison row: text, default kind, default namespace, entity ref, whether they match.
type CompareCase = (&'static str, Option<&'static str>, &'static str, &'static str, bool);

/// Case-insensitive matching, from compareEntityToRef in the older upstream ref.test.ts (the
/// function is gone, the rule stays): (text, default kind, default namespace, the canonical
/// ref of the entity it is compared with, whether they match). The two entities upstream uses
/// are `K:ns/n` and `K:n` without a namespace, canonically `k:ns/n` and `k:default/n`.
const REF_COMPARES: &[CompareCase] = &[
    // "handles matching string refs".
    ("K:ns/n", None, "default", "k:ns/n", true),
    ("k:nS/N", None, "default", "k:ns/n", true),
    ("K:n", None, "ns", "k:ns/n", true),
    ("K:n", None, "Ns", "k:ns/n", true),
    ("ns/n", Some("K"), "default", "k:ns/n", true),
    ("n", Some("K"), "ns", "k:ns/n", true),
    ("N", Some("k"), "nS", "k:ns/n", true),
    ("K:default/n", None, "default", "k:default/n", true),
    ("K:deFault/n", None, "default", "k:default/n", true),
    ("K:n", None, "deFault", "k:default/n", true),
    ("K:n", None, "default", "k:default/n", true),
    ("default/n", Some("K"), "default", "k:default/n", true),
    ("n", Some("K"), "default", "k:default/n", true),
    // "handles mismatching string refs".
    ("X:ns/n", None, "default", "k:ns/n", false),
    ("ns/n", Some("X"), "default", "k:default/n", false),
    ("K:xx/n", None, "default", "k:ns/n", false),
    ("K:n", None, "xx", "k:default/n", false),
    ("K:ns/x", None, "default", "k:ns/n", false),
    ("x", Some("K"), "ns", "k:default/n", false),
];

#[test]
fn entity_ref_compares_case_insensitively_as_upstream() {
    let mut failures = Vec::new();
    for &(text, default_kind, default_namespace, entity, expected) in REF_COMPARES {
        match EntityRef::parse(text, default_kind, default_namespace) {
            Ok(reference) => {
                let canonical = reference.to_string();
                if (canonical == entity) != expected {
                    failures.push(format!(
                        "EntityRef::parse({text:?}, {default_kind:?}, {default_namespace:?}) is {canonical:?}; upstream says it {} {entity:?}",
                        if expected { "matches" } else { "does not match" }
                    ));
                }
            }
            Err(_) => failures.push(format!(
                "EntityRef::parse({text:?}, {default_kind:?}, {default_namespace:?}) failed; upstream parses it"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) disagree with upstream:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A printing row: text, default kind, default namespace, canonical string.
type StringCase = (&'static str, Option<&'static str>, &'static str, &'static str);

/// stringifyEntityRef always prints `kind:namespace/name`, every part lowercased (from
/// `entity/ref.ts`; its test cases are on the compound form): (text, default kind, default
/// namespace, canonical string).
const REF_STRINGS: &[StringCase] = &[
    ("a:b/c", None, "default", "a:b/c"),
    ("a:c", None, "default", "a:default/c"),
    ("c", Some("x"), "y", "x:y/c"),
    ("a:b/c:d", Some("k"), "ns", "a:b/c:d"),
    ("Component:Default/Foo", None, "default", "component:default/foo"),
    ("Foo", Some("Group"), "Team-A", "group:team-a/foo"),
];

#[test]
fn entity_ref_to_string_matches_upstream() {
    let mut failures = Vec::new();
    for &(text, default_kind, default_namespace, expected) in REF_STRINGS {
        match EntityRef::parse(text, default_kind, default_namespace) {
            Ok(reference) => {
                let canonical = reference.to_string();
                if canonical != expected {
                    failures.push(format!(
                        "EntityRef::parse({text:?}, {default_kind:?}, {default_namespace:?}).to_string() is {canonical:?}, upstream prints {expected:?}"
                    ));
                }
            }
            Err(_) => failures.push(format!(
                "EntityRef::parse({text:?}, {default_kind:?}, {default_namespace:?}) failed; upstream parses it"
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) disagree with upstream:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Part 3: whole documents, from the kind validators' and FieldFormatEntityPolicy's tests.
// ---------------------------------------------------------------------------------------------
//
// Upstream builds each case by editing one field of a valid entity. Here each case is the
// whole document, kept small: the fields the kind requires plus the field under test.
// Upstream's `undefined` array items become YAML nulls (`[~]`), YAML having no undefined.
// A document counts as accepted when sextant reports no diagnostic of severity Error.

/// One whole-document case: upstream's test name, whether upstream accepts the document, and
/// the document.
struct Doc {
    name: &'static str,
    accepted: bool,
    yaml: &'static str,
}

/// A document upstream accepts.
const fn accept(name: &'static str, yaml: &'static str) -> Doc {
    Doc {
        name,
        accepted: true,
        yaml,
    }
}

/// A document upstream rejects.
const fn reject(name: &'static str, yaml: &'static str) -> Doc {
    Doc {
        name,
        accepted: false,
        yaml,
    }
}

const V1ALPHA1: &str = "apiVersion: backstage.io/v1alpha1";

/// Returns `yaml` with the first `from` replaced by `to`, failing if `from` is absent.
fn replaced(yaml: &str, from: &str, to: &str) -> String {
    assert!(yaml.contains(from), "test setup: {from:?} is not in the base document");
    yaml.replacen(from, to, 1)
}

/// Validates every document and fails once, naming each case whose verdict differs from
/// upstream's, with the errors sextant reported.
fn check_documents(group: &str, cases: &[(String, bool, String)]) {
    let mut failures = Vec::new();
    for (name, accepted, yaml) in cases {
        let diagnostics = validate_source("catalog-info.yaml", yaml);
        let errors: Vec<String> = diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
            .map(|diagnostic| {
                format!(
                    "{} ({}) at {}:{}: {}",
                    diagnostic.code.as_str(),
                    diagnostic.code.slug(),
                    diagnostic.line,
                    diagnostic.column,
                    diagnostic.message
                )
            })
            .collect();
        if errors.is_empty() != *accepted {
            if *accepted {
                failures.push(format!(
                    "{group}: {name:?}: upstream accepts, sextant reported:\n    {}",
                    errors.join("\n    ")
                ));
            } else {
                failures.push(format!("{group}: {name:?}: upstream rejects, sextant reported no error"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} document(s) disagree with upstream:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Turns static cases into the owned form `check_documents` takes.
fn owned(docs: &[Doc]) -> Vec<(String, bool, String)> {
    docs.iter()
        .map(|doc| (doc.name.to_string(), doc.accepted, doc.yaml.to_string()))
        .collect()
}

/// Checks one kind: its happy path, the same under `backstage.io/v1beta1` ("silently accepts
/// v1beta1 as well"), and its listed cases.
fn check_kind(kind: &str, base: &str, docs: &[Doc]) {
    let mut cases = vec![
        ("happy path: accepts valid data".to_string(), true, base.to_string()),
        (
            "silently accepts v1beta1 as well".to_string(),
            true,
            replaced(base, V1ALPHA1, "apiVersion: backstage.io/v1beta1"),
        ),
    ];
    cases.extend(owned(docs));
    check_documents(kind, &cases);
}

const COMPONENT_BASE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  subcomponentOf: monolith
  providesApis:
    - api-0
  consumesApis:
    - api-0
  dependsOn:
    - resource:resource-0
    - component:component-0
  system: system
"#;

const COMPONENT_DOCS: &[Doc] = &[
    reject(
        "rejects missing type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects wrong type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: 7
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects empty type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: ''
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects missing lifecycle",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  owner: me
"#,
    ),
    reject(
        "rejects wrong lifecycle",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: 7
  owner: me
"#,
    ),
    reject(
        "rejects empty lifecycle",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: ''
  owner: me
"#,
    ),
    reject(
        "rejects missing owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
"#,
    ),
    reject(
        "rejects wrong owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: 7
"#,
    ),
    reject(
        "rejects empty owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: ''
"#,
    ),
    accept(
        "accepts missing subcomponentOf",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects wrong subcomponentOf",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  subcomponentOf: 7
"#,
    ),
    reject(
        "rejects empty subcomponentOf",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  subcomponentOf: ''
"#,
    ),
    reject(
        "rejects empty providesApis",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  providesApis: ['']
"#,
    ),
    reject(
        "rejects undefined providesApis",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  providesApis: [~]
"#,
    ),
    accept(
        "accepts no providesApis",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  providesApis: []
"#,
    ),
    reject(
        "rejects empty consumesApis",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  consumesApis: ['']
"#,
    ),
    reject(
        "rejects undefined consumesApis",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  consumesApis: [~]
"#,
    ),
    accept(
        "accepts no consumesApis",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  consumesApis: []
"#,
    ),
    reject(
        "rejects empty dependsOn",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  dependsOn: ['']
"#,
    ),
    reject(
        "rejects undefined dependsOn",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  dependsOn: [~]
"#,
    ),
    accept(
        "accepts no dependsOn",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  dependsOn: []
"#,
    ),
    reject(
        "rejects wrong system",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  system: 7
"#,
    ),
    reject(
        "rejects empty system",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
  system: ''
"#,
    ),
];

#[test]
fn component_documents_match_upstream() {
    // "accepts missing providesApis / consumesApis / dependsOn / system" are all the document
    // of "accepts missing subcomponentOf": required fields only.
    check_kind("Component", COMPONENT_BASE, COMPONENT_DOCS);
}

const API_BASE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  owner: me
  system: system
  definition: |
    openapi: "3.0.0"
    info:
      version: 1.0.0
      title: Swagger Petstore
    paths:
      /pets:
        get:
          summary: List all pets
          operationId: listPets
"#;

const API_DOCS: &[Doc] = &[
    reject(
        "rejects missing type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  lifecycle: production
  owner: me
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects wrong type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: 7
  lifecycle: production
  owner: me
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects empty type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: ''
  lifecycle: production
  owner: me
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects missing lifecycle",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  owner: me
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects wrong lifecycle",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: 7
  owner: me
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects empty lifecycle",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: ''
  owner: me
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects missing owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects wrong owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  owner: 7
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects empty owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  owner: ''
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects missing definition",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects wrong definition",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  owner: me
  definition: 7
"#,
    ),
    reject(
        "rejects empty definition",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  owner: me
  definition: ''
"#,
    ),
    accept(
        "accepts missing system",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  owner: me
  definition: 'openapi: 3.0.0'
"#,
    ),
    reject(
        "rejects wrong system",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  owner: me
  definition: 'openapi: 3.0.0'
  system: 7
"#,
    ),
    reject(
        "rejects empty system",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
spec:
  type: openapi
  lifecycle: production
  owner: me
  definition: 'openapi: 3.0.0'
  system: ''
"#,
    ),
    reject(
        "rejects additional properties",
        r#"
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: test
annotations: Test
spec:
  type: openapi
  lifecycle: production
  owner: me
  definition: 'openapi: 3.0.0'
"#,
    ),
];

#[test]
fn api_documents_match_upstream() {
    check_kind("API", API_BASE, API_DOCS);
}

const RESOURCE_BASE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
  owner: me
  dependsOn:
    - component:component-0
    - resource:resource-0
  system: system
"#;

const RESOURCE_DOCS: &[Doc] = &[
    reject(
        "rejects missing type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  owner: me
"#,
    ),
    reject(
        "rejects wrong type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: 7
  owner: me
"#,
    ),
    reject(
        "rejects empty type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: ''
  owner: me
"#,
    ),
    reject(
        "rejects missing owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
"#,
    ),
    reject(
        "rejects wrong owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
  owner: 7
"#,
    ),
    reject(
        "rejects empty owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
  owner: ''
"#,
    ),
    accept(
        "accepts missing dependsOn (and missing system)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
  owner: me
"#,
    ),
    reject(
        "rejects empty dependsOn",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
  owner: me
  dependsOn: ['']
"#,
    ),
    reject(
        "rejects undefined dependsOn",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
  owner: me
  dependsOn: [~]
"#,
    ),
    accept(
        "accepts no dependsOn",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
  owner: me
  dependsOn: []
"#,
    ),
    reject(
        "rejects wrong system",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
  owner: me
  system: 7
"#,
    ),
    reject(
        "rejects empty system",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: test
spec:
  type: database
  owner: me
  system: ''
"#,
    ),
];

#[test]
fn resource_documents_match_upstream() {
    check_kind("Resource", RESOURCE_BASE, RESOURCE_DOCS);
}

const SYSTEM_BASE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: test
spec:
  owner: me
  domain: domain
"#;

const SYSTEM_DOCS: &[Doc] = &[
    reject(
        "rejects missing owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: test
spec:
  domain: domain
"#,
    ),
    reject(
        "rejects wrong owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: test
spec:
  owner: 7
"#,
    ),
    reject(
        "rejects empty owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: test
spec:
  owner: ''
"#,
    ),
    accept(
        "accepts missing domain",
        r#"
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: test
spec:
  owner: me
"#,
    ),
    reject(
        "rejects wrong domain",
        r#"
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: test
spec:
  owner: me
  domain: 7
"#,
    ),
    reject(
        "rejects empty domain",
        r#"
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: test
spec:
  owner: me
  domain: ''
"#,
    ),
];

#[test]
fn system_documents_match_upstream() {
    check_kind("System", SYSTEM_BASE, SYSTEM_DOCS);
}

const DOMAIN_BASE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: test
spec:
  owner: me
"#;

const DOMAIN_DOCS: &[Doc] = &[
    reject(
        "rejects missing owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: test
spec: {}
"#,
    ),
    reject(
        "rejects wrong owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: test
spec:
  owner: 7
"#,
    ),
    reject(
        "rejects empty owner",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: test
spec:
  owner: ''
"#,
    ),
];

#[test]
fn domain_documents_match_upstream() {
    check_kind("Domain", DOMAIN_BASE, DOMAIN_DOCS);
}

const GROUP_BASE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
  description: A squad for John and Jane
spec:
  type: squad
  profile:
    displayName: Doe Squad
    email: doe@doe.org
    picture: https://doe.org/doe
  parent: group-a
  children: [child-a, child-b]
  members: [jdoe]
"#;

const GROUP_DOCS: &[Doc] = &[
    reject(
        "rejects missing type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  children: []
"#,
    ),
    reject(
        "rejects wrong type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: 7
  children: []
"#,
    ),
    reject(
        "rejects empty type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: ''
  children: []
"#,
    ),
    accept(
        "accepts missing profile (and missing parent, members)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  children: [child-a]
"#,
    ),
    reject(
        "rejects wrong profile",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile: 7
  children: []
"#,
    ),
    accept(
        "profile accepts missing displayName",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    email: doe@doe.org
    picture: https://doe.org/doe
  children: []
"#,
    ),
    reject(
        "profile rejects wrong displayName",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    displayName: 7
  children: []
"#,
    ),
    reject(
        "profile rejects empty displayName",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    displayName: ''
  children: []
"#,
    ),
    accept(
        "profile accepts missing email",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    displayName: Doe Squad
    picture: https://doe.org/doe
  children: []
"#,
    ),
    reject(
        "profile rejects wrong email",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    email: 7
  children: []
"#,
    ),
    reject(
        "profile rejects empty email",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    email: ''
  children: []
"#,
    ),
    accept(
        "profile accepts missing picture",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    displayName: Doe Squad
    email: doe@doe.org
  children: []
"#,
    ),
    reject(
        "profile rejects wrong picture",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    picture: 7
  children: []
"#,
    ),
    reject(
        "profile rejects empty picture",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    picture: ''
  children: []
"#,
    ),
    accept(
        "profile accepts unknown additional fields",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  profile:
    displayName: Doe Squad
    foo: data
  children: []
"#,
    ),
    reject(
        "rejects empty parent",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  parent: ''
  children: []
"#,
    ),
    reject(
        "rejects missing children",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  members: [jdoe]
"#,
    ),
    reject(
        "rejects empty children",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  children: ['']
"#,
    ),
    reject(
        "rejects undefined children",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  children: [~]
"#,
    ),
    accept(
        "accepts no children",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  children: []
"#,
    ),
    reject(
        "rejects empty members",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  children: []
  members: ['']
"#,
    ),
    reject(
        "rejects undefined members",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  children: []
  members: [~]
"#,
    ),
    accept(
        "accepts no members",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: doe-squad
spec:
  type: squad
  children: []
  members: []
"#,
    ),
];

#[test]
fn group_documents_match_upstream() {
    check_kind("Group", GROUP_BASE, GROUP_DOCS);
}

const USER_BASE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    displayName: John Doe
    email: john@doe.org
    picture: https://doe.org/john.jpeg
  memberOf: [team-a, developers]
"#;

const USER_DOCS: &[Doc] = &[
    accept(
        "spec accepts unknown additional fields",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  memberOf: [team-a]
  foo: data
"#,
    ),
    accept(
        "accepts missing profile",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  memberOf: [team-a]
"#,
    ),
    reject(
        "rejects wrong profile",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile: 7
  memberOf: [team-a]
"#,
    ),
    accept(
        "profile accepts missing displayName",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    email: john@doe.org
    picture: https://doe.org/john.jpeg
  memberOf: [team-a]
"#,
    ),
    reject(
        "profile rejects wrong displayName",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    displayName: 7
  memberOf: [team-a]
"#,
    ),
    reject(
        "profile rejects empty displayName",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    displayName: ''
  memberOf: [team-a]
"#,
    ),
    accept(
        "profile accepts missing email",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    displayName: John Doe
    picture: https://doe.org/john.jpeg
  memberOf: [team-a]
"#,
    ),
    reject(
        "profile rejects wrong email",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    email: 7
  memberOf: [team-a]
"#,
    ),
    reject(
        "profile rejects empty email",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    email: ''
  memberOf: [team-a]
"#,
    ),
    accept(
        "profile accepts missing picture",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    displayName: John Doe
    email: john@doe.org
  memberOf: [team-a]
"#,
    ),
    reject(
        "profile rejects wrong picture",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    picture: 7
  memberOf: [team-a]
"#,
    ),
    reject(
        "profile rejects empty picture",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    picture: ''
  memberOf: [team-a]
"#,
    ),
    accept(
        "profile accepts unknown additional fields",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    displayName: John Doe
    foo: data
  memberOf: [team-a]
"#,
    ),
    reject(
        "rejects missing memberOf",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  profile:
    displayName: John Doe
"#,
    ),
    reject(
        "rejects wrong memberOf",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  memberOf: 7
"#,
    ),
    reject(
        "rejects wrong memberOf item",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  memberOf: [7, developers]
"#,
    ),
    accept(
        "accepts empty memberOf",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  memberOf: []
"#,
    ),
    reject(
        "rejects null memberOf",
        r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: doe
spec:
  memberOf: ~
"#,
    ),
];

#[test]
fn user_documents_match_upstream() {
    check_kind("User", USER_BASE, USER_DOCS);
}

const LOCATION_BASE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec:
  type: github
"#;

const LOCATION_DOCS: &[Doc] = &[
    accept(
        "accepts missing type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec: {}
"#,
    ),
    reject(
        "rejects wrong type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec:
  type: 7
"#,
    ),
    reject(
        "rejects empty type",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec:
  type: ''
"#,
    ),
    accept(
        "accepts good target",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec:
  type: github
  target: https://github.com/backstage/backstage/blob/master/plugins/catalog-backend/examples/artist-lookup-component.yaml
"#,
    ),
    reject(
        "rejects wrong target",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec:
  type: github
  target: 7
"#,
    ),
    reject(
        "rejects empty target",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec:
  type: github
  target: ''
"#,
    ),
    accept(
        "accepts good targets",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec:
  type: github
  targets:
    - https://github.com/backstage/backstage/blob/master/plugins/catalog-backend/examples/artist-lookup-component.yaml
    - https://github.com/backstage/backstage/blob/master/plugins/catalog-backend/examples/playback-order-component.yaml
"#,
    ),
    accept(
        "accepts empty targets",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec:
  type: github
  targets: []
"#,
    ),
    reject(
        "rejects wrong targets",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: test
spec:
  type: github
  targets: 7
"#,
    ),
];

#[test]
fn location_documents_match_upstream() {
    check_kind("Location", LOCATION_BASE, LOCATION_DOCS);
}

/// Every kind test upstream has "ignores unknown apiVersion" (`backstage.io/v1beta0`) and
/// "ignores unknown kind" (`Wizard`): the kind's validator returns false rather than throwing,
/// and Backstage's processing then rejects the entity because no processor knows it (the
/// corpus verdicts record this as `knownKind: false`). Kept in one test so that a later
/// decision to merely warn about unknown kinds changes one place.
#[test]
fn unknown_api_version_or_kind_is_rejected_as_upstream() {
    let bases = [
        ("Component", COMPONENT_BASE),
        ("API", API_BASE),
        ("Resource", RESOURCE_BASE),
        ("System", SYSTEM_BASE),
        ("Domain", DOMAIN_BASE),
        ("Group", GROUP_BASE),
        ("User", USER_BASE),
        ("Location", LOCATION_BASE),
    ];
    let mut cases = Vec::new();
    for (kind, base) in bases {
        cases.push((
            format!("{kind}: ignores unknown apiVersion"),
            false,
            replaced(base, V1ALPHA1, "apiVersion: backstage.io/v1beta0"),
        ));
        cases.push((
            format!("{kind}: ignores unknown kind"),
            false,
            replaced(base, &format!("kind: {kind}\n"), "kind: Wizard\n"),
        ));
    }
    check_documents("unknown apiVersion or kind", &cases);
}

/// FieldFormatEntityPolicy's happy path, with a real Component spec in place of upstream's
/// `spec: {custom: stuff}` (the policy alone does not look at spec; the kind validator does).
const FIELD_FORMAT_BASE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: my-component-yay
  namespace: the-namespace
  labels:
    backstage.io/custom: ValueStuff
  annotations:
    example.com/bindings: are-secret
  tags:
    - java
    - data-service
  links:
    - url: https://example.org
      title: Website
      icon: website
spec:
  type: service
  lifecycle: production
  owner: me
"#;

const FIELD_FORMAT_DOCS: &[Doc] = &[
    accept("works for the happy path", FIELD_FORMAT_BASE),
    reject(
        "rejects bad apiVersion (7)",
        r#"
apiVersion: 7
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad apiVersion (a#b)",
        r#"
apiVersion: 'a#b'
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad kind (7)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: 7
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad kind (a#b)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: 'a#b'
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "handles missing spec gracefully (the policy passes it; the Component validator rejects it)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
"#,
    ),
    reject(
        "rejects bad name (7)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: 7
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad namespace (7)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  namespace: 7
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad label key",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  labels:
    'a#b': value
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad label value",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  labels:
    a: 'a#b'
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad annotation key",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  annotations:
    'a#b': value
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad annotation value (7)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  annotations:
    a: 7
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "isValidAnnotationValue: '' is a valid annotation value",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  annotations:
    example.com/bindings: ''
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "isValidAnnotationValue: 'a' is a valid annotation value",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  annotations:
    example.com/bindings: a
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad tag value",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  tags:
    - java
    - data-service
    - Hello World
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "accepts missing links",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "accepts empty links array",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links: []
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "accepts multiple links",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
    - url: https://bar
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects missing link url value",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - {}
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects a single bad missing link url value",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://good
    - url: ''
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects empty link url value",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: ''
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad link url value",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: invalid
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "accepts missing link title",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      icon: dashboard
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects empty link title",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      title: ''
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad link title 123",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      title: 123
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad link title {}",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      title: {}
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad link title []",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      title: []
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects a single bad link title",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      title: good
    - url: http://foo
      title: ''
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "accepts missing link icon",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      title: foo
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects empty link icon",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      icon: ''
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "accepts valid link icon dashboard, admin-dashboard, foo_dashboard",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      icon: dashboard
    - url: http://foo
      icon: admin-dashboard
    - url: http://foo
      icon: foo_dashboard
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad link icon value 123",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      icon: 123
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad link icon value {}",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      icon: {}
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    reject(
        "rejects bad link icon value []",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      icon: []
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
];

/// A minimal Component whose one link has the given title, written as a double-quoted YAML
/// string (the titles here hold no quote or backslash).
fn component_with_link_title(title: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: test\n  links:\n    - url: https://example.org\n      title: \"{title}\"\nspec:\n  type: service\n  lifecycle: production\n  owner: me\n"
    )
}

/// A minimal Component with one extra line under `metadata`.
fn component_with_metadata_line(line: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: test\n  {line}\nspec:\n  type: service\n  lifecycle: production\n  owner: me\n"
    )
}

/// isValidString / isNonEmptyString string cases, which Backstage 1.10.1 applies to link titles.
const LINK_TITLE_CASES: &[(&str, bool)] = &[
    ("", false),
    (" ", false),
    ("    ", false),
    ("abc", true),
    (" abc ", true),
    ("abc xyz", true),
    ("abc xyz abc.", true),
];

#[test]
fn field_format_documents_match_upstream() {
    let mut cases = owned(FIELD_FORMAT_DOCS);
    cases.push((
        "rejects bad name (1000 characters)".to_string(),
        false,
        replaced(
            &component_with_metadata_line("description: a name far too long"),
            "  name: test\n",
            &format!("  name: {}\n", repeat("a", 1000)),
        ),
    ));
    cases.push((
        "rejects bad namespace (1000 characters)".to_string(),
        false,
        component_with_metadata_line(&format!("namespace: {}", repeat("a", 1000))),
    ));
    cases.push((
        "isValidAnnotationValue: 6000 slashes are a valid annotation value".to_string(),
        true,
        component_with_metadata_line(&format!("annotations: {{example.com/bindings: \"{}\"}}", repeat("/", 6000))),
    ));
    for &(title, accepted) in LINK_TITLE_CASES {
        cases.push((
            format!("isValidString {title:?} as a link title"),
            accepted,
            component_with_link_title(title),
        ));
    }
    check_documents("FieldFormatEntityPolicy", &cases);
}

/// Documents whose verdict changed between upstream versions; the expectations follow
/// `@backstage/catalog-model` 1.10.1 (see the module comment). Older upstream tests, and
/// guide/formats.md, give the opposite answer for each: a namespace with `--` was rejected
/// (old DNS-label rule), and a link icon had to be an object name, so "rejects bad link icon
/// value abc xyz" and "rejects a single bad link icon value" rejected these two. Backstage
/// 1.10.1 checks icons with isNonEmptyString only.
const VERSION_DRIFT_DOCS: &[Doc] = &[
    accept(
        "namespace a--b (older upstream: rejected)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  namespace: a--b
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "link icon 'abc xyz' (older upstream: rejected)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      icon: abc xyz
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
    accept(
        "link icons 'good' and 'not good' (older upstream: rejected)",
        r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: test
  links:
    - url: http://foo
      icon: good
    - url: http://foo
      icon: not good
spec:
  type: service
  lifecycle: production
  owner: me
"#,
    ),
];

#[test]
fn documents_whose_verdict_changed_as_in_catalog_model_1_10_1() {
    check_documents("version drift", &owned(VERSION_DRIFT_DOCS));
}
