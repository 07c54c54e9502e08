//! The Meilisearch backend against a real Meilisearch (tests/suite/meili.rs): settings applied
//! once, hostile references round-tripping through document ids, upserts, searches and deletes,
//! filter values taken literally (no filter injection), a document Meilisearch refuses reported
//! while the rest of its batch is indexed, a server that is down or slow reported promptly as
//! unavailable, and a rebuild that is swapped in while searches keep answering from the old index.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use sextant::crawler::Secret;
use sextant::search::meili::MeiliIndex;
use sextant::search::query::parse;
use sextant::search::{
    BackendAnswer, FacetField, MAX_FACET_VALUES, MAX_HITS, MeiliConfig, Search, SearchConfig, SearchError, SearchFilter, SearchRequest,
};
use sextant::store::SearchEntity;

use crate::db::{crawl_into, fresh_store};
use crate::git::{TestRepo, component, group};
use crate::meili::{MeiliServer, SlowProxy, meili_or_skip, unique_index};

fn meili_config(config: &SearchConfig) -> &MeiliConfig {
    config.meilisearch.as_ref().expect("a Meilisearch configuration")
}

fn index_of(config: &SearchConfig) -> MeiliIndex {
    MeiliIndex::new(meili_config(config)).expect("the client is built")
}

fn entity(entity_ref: &str, name: &str) -> SearchEntity {
    SearchEntity {
        entity_ref: entity_ref.to_string(),
        kind: "component".to_string(),
        namespace: "default".to_string(),
        name: name.to_string(),
        title: None,
        description: None,
        entity_type: Some("service".to_string()),
        lifecycle: Some("production".to_string()),
        tier: None,
        owner: Some("group:default/platform".to_string()),
        system: None,
        domain: None,
        tags: Vec::new(),
        labels: Vec::new(),
        repo: Some("https://git.example.com/services".to_string()),
        definition: None,
    }
}

fn component_entity(name: &str) -> SearchEntity {
    entity(&format!("component:default/{name}"), name)
}

async fn search(index: &MeiliIndex, query: &str, filter: SearchFilter) -> BackendAnswer {
    let request = SearchRequest {
        query: query.to_string(),
        filter,
        first: 100,
        offset: 0,
        facets: true,
    };
    let parsed = parse(query).expect("a usable query");
    index.search(&parsed, &request).await.expect("the search answers")
}

fn refs(answer: &BackendAnswer) -> Vec<String> {
    answer.hits.iter().map(|(entity, _)| entity.entity_ref.clone()).collect()
}

fn ref_set(answer: &BackendAnswer) -> BTreeSet<String> {
    refs(answer).into_iter().collect()
}

/// The number of tasks of `kind` for index `uid`.
fn task_count(server: &MeiliServer, uid: &str, kind: &str) -> u64 {
    let (status, answer) = server.get_json(&format!("/tasks?indexUids={uid}&types={kind}&limit=1"));
    assert_eq!(status, 200, "{answer}");
    answer["total"].as_u64().expect("a task total")
}

#[tokio::test(flavor = "multi_thread")]
async fn prepare_applies_the_settings_once_and_restores_changed_ones() {
    let Some(server) = meili_or_skip() else { return };
    let uid = unique_index("prepare");
    let index = index_of(&server.config(&uid));
    index.prepare().await.expect("the first prepare");
    index.prepare().await.expect("the second prepare");
    assert_eq!(task_count(server, &uid, "indexCreation"), 1);
    assert_eq!(task_count(server, &uid, "settingsUpdate"), 1, "the second prepare changed nothing");

    let (_, settings) = server.get_json(&format!("/indexes/{uid}/settings"));
    assert_eq!(
        settings["searchableAttributes"],
        serde_json::json!(["name", "title", "tags", "labels", "description", "owner", "system", "definition"])
    );
    let filterable: BTreeSet<&str> = settings["filterableAttributes"]
        .as_array()
        .expect("filterable attributes")
        .iter()
        .filter_map(|value| value.as_str())
        .collect();
    for field in FacetField::ALL {
        assert!(filterable.contains(field.name()), "{} is filterable: {settings}", field.name());
    }
    assert_eq!(settings["sortableAttributes"], serde_json::json!(["name"]));
    assert!(settings["pagination"]["maxTotalHits"].as_u64().expect("max total hits") >= MAX_HITS as u64);
    assert_eq!(settings["faceting"]["maxValuesPerFacet"], MAX_FACET_VALUES);
    assert_eq!(
        settings["typoTolerance"]["minWordSizeForTypos"],
        serde_json::json!({"oneTypo": 5, "twoTypos": 9})
    );
    let (_, index_info) = server.get_json(&format!("/indexes/{uid}"));
    assert_eq!(index_info["primaryKey"], "id");

    // Someone changes a setting by hand: the next prepare puts it back, with one more task.
    let (status, task) = server.patch_json(&format!("/indexes/{uid}/settings"), &serde_json::json!({"sortableAttributes": []}));
    assert_eq!(status, 202, "{task}");
    server.wait_task(task["taskUid"].as_u64().expect("a task uid"));
    let (_, changed) = server.get_json(&format!("/indexes/{uid}/settings"));
    assert_eq!(changed["sortableAttributes"], serde_json::json!([]), "the hand change took effect");
    index.prepare().await.expect("the third prepare");
    let (_, restored) = server.get_json(&format!("/indexes/{uid}/settings"));
    assert_eq!(restored["sortableAttributes"], serde_json::json!(["name"]));
    assert_eq!(task_count(server, &uid, "settingsUpdate"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_references_round_trip_and_are_deleted_by_reference() {
    let Some(server) = meili_or_skip() else { return };
    let index = index_of(&server.config(&unique_index("hostile-refs")));
    index.prepare().await.expect("prepare");
    let hostile_refs = [
        "component:default/a:b".to_string(),
        "component:default/a_3Ab".to_string(),
        "component:default/a_3ab".to_string(),
        "component:default/émile 😀".to_string(),
        "component:default/x\"y\\z".to_string(),
        "component:default/_h0123".to_string(),
        "component:default/percent%2Fslash/".to_string(),
        format!("component:default/{}", "long-".repeat(120)),
        format!("component:default/{}", ":".repeat(300)),
        format!("component:default/{}", ":".repeat(301)),
    ];
    let entities: Vec<SearchEntity> = hostile_refs
        .iter()
        .enumerate()
        .map(|(position, entity_ref)| {
            let mut entity = entity(entity_ref, &format!("hostile{position}"));
            entity.title = Some(format!("Title of {entity_ref}"));
            entity.tags = vec!["hostile".to_string()];
            entity.tier = Some(position as i16);
            entity
        })
        .collect();
    let applied = index.apply(&entities, &[]).await.expect("the upserts are applied");
    assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);

    let answer = search(&index, "", SearchFilter::default()).await;
    assert_eq!(answer.total, entities.len());
    assert!(answer.total_is_exact);
    for expected in &entities {
        let found = answer
            .hits
            .iter()
            .find(|(hit, _)| hit.entity_ref == expected.entity_ref)
            .unwrap_or_else(|| panic!("{} is in the index", expected.entity_ref));
        assert_eq!(&found.0, expected, "the entity comes back as it was sent");
    }

    let deleted: Vec<String> = hostile_refs.iter().step_by(2).cloned().collect();
    index.apply(&[], &deleted).await.expect("the deletes are applied");
    let remaining = ref_set(&search(&index, "", SearchFilter::default()).await);
    let expected: BTreeSet<String> = hostile_refs.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(remaining, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn upserts_are_searched_ranked_faceted_and_deleted() {
    let Some(server) = meili_or_skip() else { return };
    let index = index_of(&server.config(&unique_index("apply-search")));
    index.prepare().await.expect("prepare");
    let mut payments = component_entity("payments-api");
    payments.title = Some("Payments API".to_string());
    payments.owner = Some("group:default/payments-team".to_string());
    payments.tags = vec!["java".to_string(), "payments".to_string()];
    let mut ledger = component_entity("ledger");
    ledger.description = Some("Keeps the books for payments".to_string());
    ledger.owner = Some("group:default/payments-team".to_string());
    let mut search_service = component_entity("search-service");
    search_service.description = Some("Finds things".to_string());
    index
        .apply(&[payments.clone(), ledger.clone(), search_service.clone()], &[])
        .await
        .expect("apply");

    let answer = search(&index, "payments", SearchFilter::default()).await;
    assert_eq!(
        refs(&answer),
        vec![payments.entity_ref.clone(), ledger.entity_ref.clone()],
        "a name match ranks first"
    );
    assert!(answer.hits[0].1 > answer.hits[1].1, "scores follow the ranking: {:?}", answer.hits);
    assert_eq!(answer.total, 2);
    let owners = answer
        .facets
        .iter()
        .find(|facet| facet.field == FacetField::Owner)
        .expect("an owner facet");
    assert_eq!(owners.values, vec![("group:default/payments-team".to_string(), 2)]);
    assert_eq!(
        answer.facets.iter().map(|facet| facet.field).collect::<Vec<_>>(),
        FacetField::ALL.to_vec(),
        "every facet field, in order"
    );

    // Prefix and typo tolerance are Meilisearch's own.
    assert_eq!(refs(&search(&index, "paym", SearchFilter::default()).await)[0], payments.entity_ref);
    assert_eq!(
        refs(&search(&index, "paymnts", SearchFilter::default()).await)[0],
        payments.entity_ref
    );

    // A browse is ordered by name.
    let browse = search(&index, "", SearchFilter::default()).await;
    assert_eq!(
        refs(&browse),
        vec![
            ledger.entity_ref.clone(),
            payments.entity_ref.clone(),
            search_service.entity_ref.clone()
        ]
    );

    // Pages: an unaligned offset still counts the total exactly.
    let request = SearchRequest {
        query: String::new(),
        filter: SearchFilter::default(),
        first: 2,
        offset: 1,
        facets: false,
    };
    let page = index.search(&parse("").expect("a browse"), &request).await.expect("a page");
    assert_eq!(refs(&page), vec![payments.entity_ref.clone(), search_service.entity_ref.clone()]);
    assert_eq!((page.total, page.total_is_exact), (3, true));
    assert!(page.facets.is_empty(), "facets only when asked");

    // A rename is found under the new name only; a delete is gone.
    let mut renamed = payments.clone();
    renamed.name = "billing-gateway".to_string();
    renamed.title = None;
    renamed.tags = Vec::new();
    renamed.owner = Some("group:default/billing-team".to_string());
    index.apply(&[renamed.clone()], &[ledger.entity_ref.clone()]).await.expect("apply");
    assert_eq!(
        refs(&search(&index, "billing", SearchFilter::default()).await),
        vec![payments.entity_ref.clone()]
    );
    assert!(refs(&search(&index, "payments", SearchFilter::default()).await).is_empty());
    assert_eq!(refs(&search(&index, "books", SearchFilter::default()).await), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_values_are_taken_literally() {
    let Some(server) = meili_or_skip() else { return };
    let index = index_of(&server.config(&unique_index("filters")));
    index.prepare().await.expect("prepare");
    let hostile_values = [
        "x\" OR kind = \"group",
        "a\\",
        "TO",
        "EXISTS",
        "=",
        "[",
        "NOT",
        "'",
        "a",
        "A",
        "1 TO 9",
        "",
    ];
    let mut entities = Vec::new();
    for (position, value) in hostile_values.iter().enumerate() {
        let mut tagged = component_entity(&format!("tagged-{position}"));
        tagged.tags = vec![value.to_string()];
        tagged.owner = Some(value.to_string());
        tagged.tier = Some(position as i16);
        entities.push(tagged);
    }
    // What an injected `OR kind = "group"` would match.
    let mut team = entity("group:default/team", "team");
    team.kind = "group".to_string();
    team.owner = None;
    entities.push(team);
    index.apply(&entities, &[]).await.expect("apply");

    for (position, value) in hostile_values.iter().enumerate() {
        let expected = vec![format!("component:default/tagged-{position}")];
        let by_tag = search(&index, "", SearchFilter::default().with(FacetField::Tags, [value.to_string()])).await;
        assert_eq!(refs(&by_tag), expected, "tags = {value:?}");
        let by_owner = search(&index, "", SearchFilter::default().with(FacetField::Owner, [value.to_string()])).await;
        assert_eq!(refs(&by_owner), expected, "owner = {value:?}");
    }

    // OR within a field, AND across fields.
    let either = SearchFilter::default().with(FacetField::Tags, ["TO".to_string(), "[".to_string()]);
    assert_eq!(search(&index, "", either.clone()).await.total, 2);
    let both = either.with(FacetField::Kind, ["group".to_string()]);
    assert_eq!(search(&index, "", both).await.total, 0);
    let groups = search(&index, "", SearchFilter::default().with(FacetField::Kind, ["group".to_string()])).await;
    assert_eq!(refs(&groups), vec!["group:default/team".to_string()]);

    // Tiers are numbers: other values match nothing (and do not fail the search).
    let tier = search(&index, "", SearchFilter::default().with(FacetField::Tier, ["3".to_string()])).await;
    assert_eq!(refs(&tier), vec!["component:default/tagged-3".to_string()]);
    for not_a_tier in ["3.0", "three", "3 OR 1", "1 TO 9", "EXISTS", "99999"] {
        let answer = search(&index, "", SearchFilter::default().with(FacetField::Tier, [not_a_tier.to_string()])).await;
        assert_eq!((answer.total, answer.hits.len()), (0, 0), "tier = {not_a_tier:?}");
        assert_eq!(answer.facets.len(), FacetField::ALL.len(), "facets are still listed");
    }
    let mixed = SearchFilter::default().with(FacetField::Tier, ["three".to_string(), "4".to_string()]);
    assert_eq!(
        refs(&search(&index, "", mixed).await),
        vec!["component:default/tagged-4".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_meilisearch_refuses_is_reported_and_the_rest_indexed() {
    let Some(mut server) = MeiliServer::private_or_skip(&["--http-payload-size-limit", "100KB"]) else {
        return;
    };
    let index = index_of(&server.config("refusals"));
    index.prepare().await.expect("prepare");
    let mut batch: Vec<SearchEntity> = (0..20).map(|number| component_entity(&format!("small-{number:02}"))).collect();
    let mut big = component_entity("big");
    big.description = Some("word ".repeat(40_000));
    batch.insert(7, big.clone());

    let applied = index
        .apply(&batch, &[])
        .await
        .expect("the batch is applied but for the big document");
    assert_eq!(applied.rejected.len(), 1, "{:?}", applied.rejected);
    assert_eq!(applied.rejected[0].0, big.entity_ref);
    assert!(
        applied.rejected[0].1.contains("payload_too_large"),
        "Meilisearch's reason: {}",
        applied.rejected[0].1
    );
    assert!(!applied.rejected[0].1.contains(server.key()), "no master key in the reason");
    let indexed = search(&index, "", SearchFilter::default()).await;
    assert_eq!(indexed.total, 20);
    assert!(!refs(&indexed).contains(&big.entity_ref));
    server.stop();
}

/// Runs `operation` and asserts it fails as unavailable within `limit`.
async fn assert_unavailable<T: std::fmt::Debug>(
    what: &str,
    limit: Duration,
    operation: impl std::future::Future<Output = Result<T, SearchError>>,
) {
    let started = Instant::now();
    let outcome = operation.await;
    let elapsed = started.elapsed();
    match outcome {
        Err(SearchError::Unavailable(message)) => assert!(!message.is_empty()),
        other => panic!("{what}: expected unavailable, got {other:?}"),
    }
    assert!(elapsed < limit, "{what} took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_down_is_unavailable_at_once_and_used_again_when_back() {
    let Some(mut server) = MeiliServer::private_or_skip(&[]) else {
        return;
    };
    let config = server.config("downtime");
    let index = index_of(&config);
    index.prepare().await.expect("prepare");
    index.apply(&[component_entity("before")], &[]).await.expect("apply while up");

    server.stop();
    let limit = Duration::from_secs(3);
    assert_unavailable("ping", limit, index.ping()).await;
    assert_unavailable("prepare", limit, index.prepare()).await;
    assert_unavailable("apply", limit, index.apply(&[component_entity("during")], &[])).await;
    assert_unavailable("delete", limit, index.apply(&[], &["component:default/before".to_string()])).await;
    let request = SearchRequest {
        first: 10,
        ..SearchRequest::default()
    };
    assert_unavailable("search", limit, index.search(&parse("").expect("a browse"), &request)).await;
    // Through the service too, with a code clients can rely on.
    let (store, _) = fresh_store().await;
    let service = Search::new(store, &config).expect("the service is built without a request");
    match service.search(&request).await {
        Err(error) => assert_eq!(error.code(), "search-unavailable"),
        Ok(answer) => panic!("a search with the server down answered {answer:?}"),
    }

    server.restart();
    index.ping().await.expect("the server is back");
    index
        .apply(&[component_entity("after")], &[])
        .await
        .expect("apply after the restart");
    let answer = search(&index, "", SearchFilter::default()).await;
    assert_eq!(
        refs(&answer),
        vec!["component:default/after".to_string(), "component:default/before".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_server_times_out_and_answers_again_once_it_is_fast() {
    let Some(server) = meili_or_skip() else { return };
    let proxy = SlowProxy::start(server.url());
    let uid = unique_index("slow");
    // The shared server's task queue is busy with other tests: the set-up waits as long as it needs.
    let patient = index_of(&proxy.config(server, &uid, Duration::from_secs(30)));
    patient.prepare().await.expect("prepare through the proxy");
    patient
        .apply(&[component_entity("through-the-proxy")], &[])
        .await
        .expect("apply through the proxy");

    let impatient = index_of(&proxy.config(server, &uid, Duration::from_secs(1)));
    proxy.set_delay(Duration::from_secs(3));
    let limit = Duration::from_millis(2500);
    assert_unavailable(
        "search",
        limit,
        impatient.search(&parse("").expect("a browse"), &SearchRequest::default()),
    )
    .await;
    assert_unavailable("apply", limit, impatient.apply(&[component_entity("slowly")], &[])).await;
    assert_unavailable("ping", limit, impatient.ping()).await;

    proxy.set_delay(Duration::ZERO);
    patient
        .apply(&[component_entity("slowly")], &[])
        .await
        .expect("apply again once fast");
    let answer = search(&patient, "", SearchFilter::default()).await;
    assert_eq!(
        refs(&answer),
        vec![
            "component:default/slowly".to_string(),
            "component:default/through-the-proxy".to_string()
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_is_swapped_in_while_searches_answer_from_the_old_index() {
    let Some(server) = meili_or_skip() else { return };
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    let mut files = vec![("catalog-info.yaml".to_string(), group("platform", None))];
    for number in 0..40 {
        files.push((
            format!("services/service-{number:02}/catalog-info.yaml"),
            component(&format!("service-{number:02}"), "platform", &[]),
        ));
    }
    let file_refs: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
    repo.commit(&file_refs, "an organisation");
    let mirrors = tempfile::tempdir().expect("a mirrors folder");
    crawl_into(&store, &[repo.source()], mirrors.path()).await;
    let catalog_refs: BTreeSet<String> = sqlx::query_scalar::<_, String>("SELECT entity_ref FROM entities")
        .fetch_all(store.pool())
        .await
        .expect("the catalog's references")
        .into_iter()
        .collect();
    assert_eq!(catalog_refs.len(), 41, "{catalog_refs:?}");

    let uid = unique_index("rebuild");
    let index = index_of(&server.config(&uid));
    index.prepare().await.expect("prepare");
    let old: Vec<SearchEntity> = ["stale-one", "stale-two"].iter().map(|name| component_entity(name)).collect();
    index.apply(&old, &[]).await.expect("the old index's documents");
    let old_refs: BTreeSet<String> = old.iter().map(|entity| entity.entity_ref.clone()).collect();
    // A leftover staging index from a rebuild that died.
    let (status, task) = server.post_json(
        "/indexes",
        &serde_json::json!({"uid": format!("{uid}-reindex"), "primaryKey": "id"}),
    );
    assert_eq!(status, 202, "{task}");
    server.wait_task(task["taskUid"].as_u64().expect("a task uid"));
    let (status, task) = server.post_json(
        &format!("/indexes/{uid}-reindex/documents"),
        &serde_json::json!([{"id": "leftover", "entity_ref": "component:default/leftover", "kind": "component", "namespace": "default", "name": "leftover"}]),
    );
    assert_eq!(status, 202, "{task}");
    server.wait_task(task["taskUid"].as_u64().expect("a task uid"));

    let rebuild = index.rebuild(&store);
    let searches = async {
        let mut answers = Vec::new();
        loop {
            let answer = search(&index, "", SearchFilter::default()).await;
            let done = ref_set(&answer) == catalog_refs;
            answers.push(ref_set(&answer));
            if done {
                return answers;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let (rebuilt, answers) = tokio::join!(rebuild, searches);
    assert_eq!(rebuilt.expect("the rebuild"), catalog_refs.len());
    for answer in &answers {
        assert!(
            *answer == old_refs || *answer == catalog_refs,
            "a search saw neither the old nor the new index: {answer:?}"
        );
    }
    assert!(
        answers.contains(&old_refs),
        "searches answered from the old index during the rebuild"
    );
    let after = search(&index, "service", SearchFilter::default()).await;
    assert_eq!(after.total, 40);
    let (status, _) = server.get_json(&format!("/indexes/{uid}-reindex"));
    assert_eq!(status, 404, "the replaced index is deleted");
    let (_, settings) = server.get_json(&format!("/indexes/{uid}/settings"));
    assert_eq!(
        settings["sortableAttributes"],
        serde_json::json!(["name"]),
        "the new index has the settings"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_highlights_meilisearch_hits() {
    let Some(server) = meili_or_skip() else { return };
    let (store, _) = fresh_store().await;
    let config = server.config(&unique_index("service"));
    let service = Search::new(store, &config).expect("the service");
    assert_eq!(service.backend_name(), "meilisearch");
    service.prepare().await.expect("prepare");
    service.ping().await.expect("ping");
    let mut payments = component_entity("payments-api");
    payments.title = Some("Payments API".to_string());
    index_of(&config).apply(&[payments.clone()], &[]).await.expect("apply");

    let answer = service
        .search(&SearchRequest {
            query: "payments".to_string(),
            first: 10,
            ..SearchRequest::default()
        })
        .await
        .expect("a search");
    assert_eq!(answer.hits.len(), 1);
    assert_eq!(answer.hits[0].entity, payments);
    assert!(
        answer.hits[0].matches.iter().any(|found| found.field == "name"),
        "{:?}",
        answer.hits[0].matches
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_of_several_pages_indexes_every_entity_once() {
    let Some(server) = meili_or_skip() else { return };
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    // 11,000 components: two full pages of the rebuild and a part page.
    let files: Vec<(String, String)> = (0..110)
        .map(|file| {
            let documents: Vec<String> = (0..100)
                .map(|number| component(&format!("svc-{file:03}-{number:02}"), "platform", &[]))
                .collect();
            (format!("team-{file:03}/catalog-info.yaml"), documents.join("---\n"))
        })
        .collect();
    let file_refs: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
    repo.commit(&file_refs, "a large organisation");
    let mirrors = tempfile::tempdir().expect("a mirrors folder");
    crawl_into(&store, &[repo.source()], mirrors.path()).await;
    let entities: i64 = sqlx::query_scalar("SELECT count(*) FROM entities")
        .fetch_one(store.pool())
        .await
        .expect("a count");
    assert_eq!(entities, 11_000);

    let uid = unique_index("rebuild-pages");
    let index = index_of(&server.config(&uid));
    let started = Instant::now();
    assert_eq!(index.rebuild(&store).await.expect("the rebuild"), 11_000);
    eprintln!("rebuilt 11,000 documents in {:?}", started.elapsed());
    let (_, stats) = server.get_json(&format!("/indexes/{uid}/stats"));
    assert_eq!(stats["numberOfDocuments"], 11_000, "{stats}");
    // The documents at the page boundaries (by reference order) are there.
    for name in ["svc-000-00", "svc-049-99", "svc-050-00", "svc-099-99", "svc-100-00", "svc-109-99"] {
        let filter = SearchFilter::default().with(FacetField::Namespace, ["default".to_string()]);
        let answer = search(&index, name, filter).await;
        assert_eq!(
            refs(&answer).first().map(String::as_str),
            Some(format!("component:default/{name}").as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_master_key_is_refused_without_being_shown() {
    let Some(server) = meili_or_skip() else { return };
    if server.key().is_empty() {
        eprintln!("skipped: the Meilisearch of MEILI_URL has no master key, so any key is accepted");
        return;
    }
    let wrong_key = "not-the-master-key-0123456789";
    let mut config = server.config(&unique_index("wrong-key"));
    if let Some(meili) = config.meilisearch.as_mut() {
        meili.master_key = Some(Secret::new(wrong_key.to_string()));
    }
    let index = index_of(&config);
    // The probe checks the key too (/health alone needs none): /readyz names a wrong key.
    for outcome in [
        index.ping().await,
        index.prepare().await.map(|_| ()),
        index.apply(&[component_entity("refused")], &[]).await.map(|_| ()),
        index
            .search(&parse("").expect("a browse"), &SearchRequest::default())
            .await
            .map(|_| ()),
    ] {
        match outcome {
            Err(SearchError::Rejected(message)) => {
                assert!(!message.contains(wrong_key), "{message}");
                assert!(message.contains("invalid_api_key"), "Meilisearch's reason: {message}");
            }
            other => panic!("a wrong key is refused, not {other:?}"),
        }
    }
}
