#!/usr/bin/env python3
"""Check sextant's JSON Schemas against the real-world descriptor corpus.

A development aid, not part of the build. It validates every Backstage document
of the corpus against schema/catalog-info.schema.json and every Compass file
against schema/compass.schema.json, then compares the outcome with the recorded
verdicts:

  VERDICTS.jsonl          what Backstage's own validator said of each document
                          (accepted when `valid` is true and `knownKind` is not
                          false); Template documents are not verdicts and are
                          listed on their own.
  COMPASS_VERDICTS.jsonl  what the documented Compass rules say of each file.

Every disagreement is printed. Disagreements we understand are listed in
EXPLAINED below with the reason; the script exits with status 1 when an
unexplained one shows up, or when an explained one no longer happens.

YAML is read the way Backstage reads it (YAML 1.2 core schema, duplicate keys
are errors), not the YAML 1.1 way PyYAML reads it by default: `on`, `yes`,
`no`, dates and `012` differ between the two. Documents where the two readings
differ are listed for information.

Usage: python3 schema/check_corpus.py [CORPUS_DIR]
Needs: pip install jsonschema pyyaml
"""

import json
import os
import re
import sys
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent

# (file, doc index) -> why our schema and the verdict differ on purpose.
# Doc index is None for Compass files (one component per file).
EXPLAINED = {
    # API definitions written as {$text: ...}: Backstage's ingestion replaces
    # the placeholder by the file's text before it validates, so the running
    # catalog accepts these; the bare validator sees an object. Deliberate.
    **{
        (f"backstage-examples/packages/catalog-model/examples/apis/{name}.yaml", 0):
            "placeholder $text definition (deliberate difference)"
        for name in [
            "analytics-api", "aware-core-insight-api", "aware-producer-service-api",
            "config-schema-api", "mapping-api", "maps-analytics-api", "odp-analytics-api",
            "petstore-webhook-api", "spotify-api", "wayback-archive-api",
            "wayback-search-api", "workplace-api",
        ]
    },
    ("catalog-info/0xRichGriffin__FakeSpringService__catalog-info.yaml", 2):
        "placeholder $text definition (deliberate difference)",
    ("catalog-info/0xRichGriffin__FakeSpringService__catalog-info.yaml", 3):
        "placeholder $text definition (deliberate difference)",
    ("catalog-info/C-Nell__devhub-catalog__catalog__catalog-info.yaml", 0):
        "placeholder $text definition (deliberate difference)",
    ("catalog-info/ChunPingWang__integration-server__backstage__catalog-info.yaml", 18):
        "placeholder $text definition (deliberate difference)",
    ("catalog-info/RafaelTechio__catalog-info-backstage-motor__catalog-info.yml", 1):
        "placeholder $text definition (deliberate difference)",
    # Compass: the verdicts list clear violations only; these break a documented
    # rule that the verdicts did not check.
    ("compass/cze-dk__compass-demo-repo__compass.yaml", None):
        "ownerId 'none' is not a team ARI (nor null); verdicts do not check ownerId",
    ("compass/atlassian-labs__compass-examples__snippets__scripts__convert-backstage-config__compass.yaml", None):
        "fields.lifecycle 'Pre-Release' is not one of Pre-release/Active/Deprecated (case differs); "
        "verdicts do not check the lifecycle value",
}


# --- YAML reading ------------------------------------------------------------


class DuplicateKeyError(yaml.constructor.ConstructorError):
    pass


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader with the YAML 1.2 core schema and unique keys."""


# Start from no implicit resolvers, then add the 1.2 core schema ones.
Yaml12Loader.yaml_implicit_resolvers = {}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader, node):
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


def _construct_mapping(loader, node, deep=False):
    # No merge keys (`<<`) in YAML 1.2: keep them as plain keys.
    if not isinstance(node, yaml.MappingNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"expected a mapping node, but found {node.id}", node.start_mark)
    mapping = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                "found unhashable key", key_node.start_mark)
        if key in mapping:
            raise DuplicateKeyError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


def _construct_map_tag(loader, node):
    data = {}
    yield data
    data.update(_construct_mapping(loader, node))


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _construct_map_tag)
# Timestamps are plain strings in YAML 1.2; an explicit !!timestamp stays a string too.
Yaml12Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def load_documents(path, loader):
    """All documents of a file (None for empty ones), or an error string."""
    # Invalid UTF-8 becomes U+FFFD, as when Node reads the file as 'utf8'.
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    try:
        return list(yaml.load_all(text, Loader=loader)), None
    except yaml.YAMLError as error:
        return None, " ".join(str(error).split())


# --- validation ----------------------------------------------------------------


def make_validator(name):
    schema = json.loads((HERE / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def first_error(validator, instance):
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.path), list(map(str, e.path))))
    if not errors:
        return None
    error = jsonschema.exceptions.best_match(errors)
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}"[:300]


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main():
    corpus = Path(sys.argv[1] if len(sys.argv) > 1
                  else os.environ.get("SEXTANT_CORPUS", HERE.parent.parent / "shared" / "corpus"))
    if not (corpus / "VERDICTS.jsonl").exists():
        sys.exit(f"check_corpus.py: no VERDICTS.jsonl under {corpus}")

    backstage = make_validator("catalog-info.schema.json")
    compass = make_validator("compass.schema.json")

    unexplained = []
    explained_seen = set()
    yaml_differences = []

    def disagree(key, ours, theirs, detail):
        reason = EXPLAINED.get(key)
        label = f"{key[0]}" + (f" doc {key[1]}" if key[1] is not None else "")
        line = f"  {label}: ours={ours} theirs={theirs}\n      {detail}"
        if reason:
            explained_seen.add(key)
            print(line + f"\n      explained: {reason}")
        else:
            unexplained.append(key)
            print(line + "\n      UNEXPLAINED")

    # Backstage -------------------------------------------------------------
    verdicts = read_jsonl(corpus / "VERDICTS.jsonl")
    by_file = {}
    for verdict in verdicts:
        by_file.setdefault(verdict["file"], []).append(verdict)

    counts = {"docs": 0, "agree": 0, "templates": 0, "parse_fail": 0}
    templates = []
    print("Backstage documents (catalog-info.schema.json vs VERDICTS.jsonl):")
    for file in sorted(by_file):
        path = corpus / file
        docs, parse_error = load_documents(path, Yaml12Loader)
        legacy_docs, _ = load_documents(path, yaml.SafeLoader)
        file_verdicts = {v["doc"]: v for v in by_file[file]}
        if docs is None:
            counts["parse_fail"] += 1
            theirs_parse_fail = -1 in file_verdicts
            if not theirs_parse_fail:
                print(f"  {file}: we cannot parse it ({parse_error}) but Backstage could")
                unexplained.append((file, -1))
            continue
        if -1 in file_verdicts:
            print(f"  {file}: we parse it but Backstage could not ({file_verdicts[-1]['error']})")
            unexplained.append((file, -1))
            continue
        if legacy_docs is not None and legacy_docs != docs:
            yaml_differences.append(file)
        for index, document in enumerate(docs):
            if document is None:
                continue
            verdict = file_verdicts.get(index)
            if verdict is None:
                print(f"  {file} doc {index}: no verdict for this document")
                unexplained.append((file, index))
                continue
            counts["docs"] += 1
            if isinstance(document, dict):
                kind = document.get("kind")
                if kind != verdict.get("kind") and verdict.get("kind") is not None:
                    print(f"  {file} doc {index}: kind {kind!r} but verdict is for {verdict.get('kind')!r}")
            error = first_error(backstage, document) if isinstance(document, dict) else "/: not a mapping"
            ours = error is None
            if verdict.get("kind") == "Template":
                counts["templates"] += 1
                templates.append((file, index, ours, error))
                continue
            theirs = bool(verdict["valid"]) and verdict.get("knownKind") is not False
            if ours == theirs:
                counts["agree"] += 1
                if (file, index) in EXPLAINED:
                    print(f"  {file} doc {index}: agrees now, but is listed as an explained disagreement")
                    unexplained.append((file, index))
                continue
            theirs_text = "accept" if theirs else "reject"
            detail = f"ours: {error or 'valid'} | theirs: {verdict.get('error') or ('unknown kind' if verdict.get('knownKind') is False else 'valid')}"
            disagree((file, index), "accept" if ours else "reject", theirs_text, detail)

    print(f"  {counts['docs'] - counts['templates']} judged documents, {counts['agree']} agree; "
          f"{counts['parse_fail']} files unparseable by both")
    print("\nTemplate documents (no Backstage verdict; the scaffolder judges them):")
    for file, index, ours, error in templates:
        print(f"  {file} doc {index}: {'valid' if ours else 'invalid: ' + error}")

    # Compass ---------------------------------------------------------------
    print("\nCompass files (compass.schema.json vs COMPASS_VERDICTS.jsonl):")
    agree = total = 0
    for verdict in read_jsonl(corpus / "COMPASS_VERDICTS.jsonl"):
        file = verdict["file"]
        path = corpus / file
        docs, parse_error = load_documents(path, Yaml12Loader)
        legacy_docs, _ = load_documents(path, yaml.SafeLoader)
        if docs is not None and legacy_docs is not None and legacy_docs != docs:
            yaml_differences.append(file)
        docs = [d for d in (docs or []) if d is not None]
        total += 1
        if parse_error or len(docs) != 1:
            error = parse_error or f"expected one document, found {len(docs)}"
        else:
            error = first_error(compass, docs[0])
        ours = error is None
        theirs = bool(verdict["valid"])
        if ours == theirs:
            agree += 1
            if (file, None) in EXPLAINED:
                print(f"  {file}: agrees now, but is listed as an explained disagreement")
                unexplained.append((file, None))
            continue
        detail = f"ours: {error or 'valid'} | theirs: {'; '.join(verdict['errors']) or 'valid'}"
        disagree((file, None), "accept" if ours else "reject", "accept" if theirs else "reject", detail)
    print(f"  {total} files, {agree} agree")

    print("\nFiles that YAML 1.1 (PyYAML default) reads differently from YAML 1.2:")
    for file in yaml_differences or ["  (none)"]:
        print(f"  {file}")

    missing = set(EXPLAINED) - explained_seen - set(unexplained)
    for key in sorted(missing, key=str):
        print(f"\nexplained disagreement did not occur: {key}")
    if unexplained or missing:
        print(f"\n{len(unexplained)} unexplained, {len(missing)} stale explanations")
        return 1
    print("\nall disagreements explained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
